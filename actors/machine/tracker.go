// Package machine turns a machine's reports, and its silence, into the failover engine's
// Condition: service down (engine, videoio, named), network failure past the heartbeat timeout,
// and health levels with hysteresis.
//
// Tracker is the pure part (reports and the current time in, condition out); the actor in
// actor.go is its shell, fed by the agent gateway or the demo driver and woken at the silence
// deadline.
package machine

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"standby/actors/failover"
)

// Report is one message from a machine's agent, already authenticated by the gateway.
type Report struct {
	Machine  string
	Session  uint64 // agent incarnation; a new value means the agent restarted (or a second agent)
	Seq      uint64 // increases within a session; older ones are stale
	Change   bool   // sent at once on a change rather than on the beat
	From     string // the agent's address, as the gateway saw it; shown in duplicate_agent alarms
	Services []Service
	Health   []Reading
}

// Service is a watched service's state.
type Service struct {
	Name   string
	Up     bool
	Reason string
}

// Reading is a health value; OK is false when it could not be read (no sensor, command failed).
type Reading struct {
	Name   string
	Value  float64
	OK     bool
	Reason string
}

// Settings are the per-machine detection parameters.
type Settings struct {
	// Timeout is how long the machine may stay silent before it is a network failure.
	Timeout time.Duration
	// Thresholds per health value name.
	Thresholds map[string]failover.Thresholds
}

// AlarmDuplicateAgent: two agent sessions report the same machine at once (an impostor holding the
// agent token, or a second agent configured with the same name). Only the established one counts
// until an operator acknowledges.
const AlarmDuplicateAgent failover.AlarmKind = "duplicate_agent"

// minQuarantine is the shortest wait before a newcomer session replaces a still-reporting one:
// below it, scheduling jitter on a fast-beating agent would look like silence.
const minQuarantine = 20 * time.Millisecond

// agentSession is one agent incarnation heard for the machine.
type agentSession struct {
	id         uint64
	seq        uint64
	from       string
	last, prev time.Time // the last two reports' arrival; prev is zero until two were heard
	report     *Report   // a newcomer's newest report, applied if it is adopted
}

func (a *agentSession) heard(now time.Time, seq uint64) {
	// Never backwards: a heartbeat the gateway stamped may be handled after a report that came
	// as a message and was stamped later, by the actor (a newer seq, an older arrival).
	a.seq, a.prev, a.last = seq, a.last, latest(a.last, now)
}

func (a *agentSession) describe(role string) string {
	from := a.from
	if from == "" {
		from = "an unknown address"
	}
	return fmt.Sprintf("%s (session %d, %s)", from, a.id, role)
}

// Tracker is the detection state of one machine. Not safe for concurrent use.
//
// It follows one established agent session. Another session is a restart when the established
// one is silent (adopted at once) or stays quiet for a short window (adopted then); while the
// established one keeps reporting it is a second agent: alarm duplicate_agent, and its reports
// are held (never change the condition) until an operator acknowledges.
type Tracker struct {
	set      Settings
	name     string
	seen     bool
	est      agentSession  // the session the condition follows
	other    *agentSession // a newcomer: quarantined (dup false) or held (dup true)
	dup      bool
	alarm    *failover.Alarm // duplicate_agent, shown until acknowledged
	pending  []failover.Alarm
	dirty    bool // session state changed without a condition change
	silent   bool
	services []Service
	// vals are the health values as last read, each with its level when it has thresholds and
	// was readable: a handful a machine, found by name (maps cost ten thousand machines and
	// their restart copies megabytes).
	vals []value
	cond failover.Condition
	// shown counts changes of what a Snapshot shows besides LastSeen and the values themselves
	// (services, which values are readable, levels), so the actor republishes its snapshot at
	// once only then; a value that only moved waits for the next periodic copy.
	shown   uint64
	reports uint64 // reports of the established session applied
}

// NewTracker returns a tracker that has heard nothing yet (Condition.Known false).
func NewTracker(s Settings) *Tracker {
	return &Tracker{set: s}
}

// value is one health value as the tracker holds it.
type value struct {
	r     Reading
	level failover.Level
	rated bool // level is known: thresholds are set and the last reading was readable
}

// find returns the index of the value named name, or -1.
func (t *Tracker) find(name string) int {
	for i := range t.vals {
		if t.vals[i].r.Name == name {
			return i
		}
	}
	return -1
}

// Condition is the machine's current condition.
func (t *Tracker) Condition() failover.Condition { return t.cond }

// Snapshot is what UIs show of a machine.
type Snapshot struct {
	Condition failover.Condition
	LastSeen  time.Time
	// Reports counts the reports applied (of the established agent session) since the actor
	// first started; a restart resumes from the last saved copy, so it may step back.
	Reports  uint64
	Services []Service
	Health   []Reading
	Levels   map[string]failover.Level
	// Alarms are the machine's own alarms (duplicate_agent), active or cleared but not acknowledged.
	Alarms []failover.Alarm
}

// Snapshot returns a copy of the machine's view.
func (t *Tracker) Snapshot() Snapshot {
	s := Snapshot{Condition: t.cond, LastSeen: t.est.last, Reports: t.reports, Services: append([]Service(nil), t.services...),
		Levels: make(map[string]failover.Level, len(t.vals))}
	for _, v := range t.vals {
		s.Health = append(s.Health, v.r)
		if v.rated {
			s.Levels[v.r.Name] = v.level
		}
	}
	sort.Slice(s.Health, func(i, j int) bool { return s.Health[i].Name < s.Health[j].Name })
	if t.alarm != nil {
		s.Alarms = []failover.Alarm{*t.alarm}
	}
	return s
}

// Clone returns an independent copy; the actor restarts from one after a panic.
func (t *Tracker) Clone() *Tracker {
	c := *t
	c.services = append([]Service(nil), t.services...)
	c.vals = append([]value(nil), t.vals...)
	if t.other != nil {
		o := *t.other
		c.other = &o
	}
	if t.alarm != nil {
		a := *t.alarm
		c.alarm = &a
	}
	c.pending = nil // changes already handed to the actor are not handed out twice
	return &c
}

// Resume prepares a tracker restored from a saved copy (after a panic) at now: silence since the
// copy was saved is not held against the machine, which gets one fresh timeout, as after a pause.
// The same goes for a newcomer's quarantine and a held session's silence.
func (t *Tracker) Resume(now time.Time) {
	if t.seen && !t.silent {
		t.est.last = now
	}
	if t.other != nil {
		t.other.last = now
	}
}

// Reconfigure applies new settings (config reload), keeping what was observed.
func (t *Tracker) Reconfigure(s Settings) { t.set = s }

// Observe applies a report received at now. It returns true when the condition changed.
// Stale reports (an older seq of their session) are ignored.
func (t *Tracker) Observe(now time.Time, r Report) bool {
	if t.name == "" {
		t.name = r.Machine
	}
	switch {
	case !t.seen || r.Session == t.est.id:
		if t.seen && r.Seq <= t.est.seq {
			return false
		}
		if !t.seen {
			t.est = agentSession{id: r.Session, from: r.From}
		}
		t.est.heard(now, r.Seq)
		if t.other != nil && !t.dup {
			t.raiseDuplicate(now) // the established one is alive: the newcomer is not its restart
		}
		return t.apply(r)
	case t.other != nil && r.Session == t.other.id:
		if r.Seq <= t.other.seq {
			return false
		}
		t.other.heard(now, r.Seq)
		t.other.report = held(r) // kept for adoption (after the window, or when an operator vouches for it)
		return false
	case t.dup:
		// A third session while two are held apart (either agent restarted): it takes the held
		// one's place, never the established one's. Only an operator decides between them.
		t.other = &agentSession{id: r.Session, from: r.From, report: held(r)}
		t.other.heard(now, r.Seq)
		if t.alarm != nil && t.alarm.Active {
			t.alarm.Message = t.duplicateMessage()
			t.pending = append(t.pending, *t.alarm)
		}
		t.dirty = true
		return false
	case t.silent:
		// The established agent went quiet and this one speaks: a restart after a crash.
		t.est = agentSession{id: r.Session, from: r.From}
		t.est.heard(now, r.Seq)
		t.other, t.dirty = nil, true
		return t.apply(r)
	default:
		// Maybe a restart whose predecessor's silence has not been noticed yet: wait a little.
		t.other = &agentSession{id: r.Session, from: r.From, report: held(r)}
		t.other.heard(now, r.Seq)
		t.dirty = true
		return false
	}
}

// held copies a report to keep; taking r's own address would move every report to the heap.
func held(r Report) *Report { return &r }

// apply makes r, of the established session, the machine's state.
func (t *Tracker) apply(r Report) bool {
	t.seen, t.silent = true, false
	t.reports++
	if !slices.Equal(t.services, r.Services) {
		t.shown++
	}
	t.services = append(t.services[:0], r.Services...)
	for _, h := range r.Health {
		i := t.find(h.Name)
		if i < 0 {
			i = len(t.vals)
			t.vals = append(t.vals, value{r: h})
			t.shown++ // a value appeared
		} else if old := t.vals[i].r; old.OK != h.OK || old.Reason != h.Reason {
			t.shown++ // it became (un)readable; a new value alone does not count
		}
		v := &t.vals[i]
		v.r = h
		th, ok := t.set.Thresholds[h.Name]
		if !ok {
			continue
		}
		if !h.OK {
			if v.rated {
				t.shown++
			}
			v.rated, v.level = false, 0 // an unreadable value is no evidence either way
			continue
		}
		if lv := failover.Classify(v.level, h.Value, th); !v.rated || lv != v.level {
			v.rated, v.level = true, lv
			t.shown++
		}
	}
	return t.update()
}

// NeedsEveryReport tells whether the next report may change the condition or the session state
// even if it repeats the last one: the machine is not heard yet or silent, or a second session is
// in question. Otherwise a repeated heartbeat only moves the silence deadline.
func (t *Tracker) NeedsEveryReport() bool { return !t.seen || t.silent || t.other != nil }

// OnlySilencePending tells whether the silence deadline is all Tick has to decide (heard, not
// silent, no second session): then a newer heartbeat only moves that deadline later.
func (t *Tracker) OnlySilencePending() bool { return t.seen && !t.silent && t.other == nil }

// Shown changes whenever what a Snapshot shows changed, other than LastSeen, the report count
// and health values that only moved (their levels count).
func (t *Tracker) Shown() uint64 { return t.shown }

// window is how long the established session must stay quiet before a newcomer replaces it:
// twice its observed report spacing, at least minQuarantine, at most the timeout.
func (t *Tracker) window() time.Duration {
	w := t.set.Timeout
	if !t.est.prev.IsZero() {
		w = 2 * t.est.last.Sub(t.est.prev)
	}
	return min(max(w, minQuarantine), t.set.Timeout)
}

// adopt makes the quarantined newcomer the established session and applies its newest report.
func (t *Tracker) adopt() bool {
	n := t.other
	t.other, t.dirty = nil, true
	t.est = *n
	t.est.report = nil
	if n.report == nil {
		return false
	}
	return t.apply(*n.report)
}

func (t *Tracker) duplicateMessage() string {
	est := "established"
	if t.alarm != nil && t.alarm.Acked {
		est = "followed since acknowledged"
	}
	held := "held until acknowledged"
	if t.alarm != nil && t.alarm.Acked {
		held = "held"
	}
	return fmt.Sprintf("two agents report %s: %s and %s", t.name, t.est.describe(est), t.other.describe(held))
}

func (t *Tracker) raiseDuplicate(now time.Time) {
	t.dup, t.dirty = true, true
	t.alarm = &failover.Alarm{Kind: AlarmDuplicateAgent, Since: now, Active: true}
	t.alarm.Message = t.duplicateMessage()
	t.pending = append(t.pending, *t.alarm)
}

// clearDuplicate ends the alarm's cause: the held session fell silent.
func (t *Tracker) clearDuplicate() {
	t.other, t.dup, t.dirty = nil, false, true
	if t.alarm == nil {
		return
	}
	t.alarm.Active = false
	t.pending = append(t.pending, *t.alarm)
	if t.alarm.Acked {
		t.alarm = nil
	}
}

// Acknowledge acknowledges the machine's alarm of kind at now. Acknowledging an active
// duplicate_agent vouches for the newcomer: it becomes the session followed, and the former one is
// held until it falls silent. It returns true when the condition changed, or failover.ErrNoAlarm.
func (t *Tracker) Acknowledge(kind failover.AlarmKind) (bool, error) {
	a := t.alarm
	if kind != AlarmDuplicateAgent || a == nil {
		return false, fmt.Errorf("%w: %s", failover.ErrNoAlarm, kind)
	}
	if a.Acked {
		return false, nil // already vouched for: a second press must not swap them back
	}
	a.Acked, t.dirty = true, true
	changed := false
	if a.Active && t.dup && t.other != nil {
		n, former := *t.other, t.est
		former.report = nil
		t.est, t.other = n, &former
		t.est.report = nil
		if n.report != nil {
			changed = t.apply(*n.report)
		}
		a.Message = t.duplicateMessage()
	}
	t.pending = append(t.pending, *a)
	if !a.Active {
		t.alarm = nil
	}
	return changed, nil
}

// TakeChanges returns the alarm changes since the last call (raised, cleared, acknowledged, in
// order) and whether anything worth saving changed besides the condition.
func (t *Tracker) TakeChanges() (alarms []failover.Alarm, changed bool) {
	alarms, changed = t.pending, t.dirty || len(t.pending) > 0
	t.pending, t.dirty = nil, false
	return alarms, changed
}

// Tick checks the silence at now; resumed is when the supervisor's own last pause ended (GC,
// SIGSTOP, VM pause; zero if none): silence is counted from then at the earliest, so the machine
// is not blamed for the supervisor's absence. It ends a newcomer's quarantine and clears a
// duplicate_agent alarm whose held session fell silent. It returns true when the condition changed.
func (t *Tracker) Tick(now, resumed time.Time) bool {
	changed := false
	if t.other != nil {
		switch {
		case !t.dup && !now.Before(latest(t.est.last, resumed).Add(t.window())):
			changed = t.adopt() // before the silence check: a restart is not a network failure
		case t.dup && !now.Before(latest(t.other.last, resumed).Add(t.set.Timeout)):
			t.clearDuplicate()
		}
	}
	due := t.silenceDue(resumed)
	if due.IsZero() || now.Before(due) {
		return changed
	}
	t.silent = true
	return t.update() || changed
}

// Due is the next time Tick has something to decide: the machine becomes silent for too long
// unless it reports first, a newcomer's quarantine ends, or a held session has been silent long
// enough to clear its alarm; counting from resumed at the earliest (see Tick). Zero when there is
// nothing to wait for.
func (t *Tracker) Due(resumed time.Time) time.Time {
	due := t.silenceDue(resumed)
	if t.other != nil {
		var d time.Time
		if t.dup {
			d = latest(t.other.last, resumed).Add(t.set.Timeout)
		} else {
			d = latest(t.est.last, resumed).Add(t.window())
		}
		if due.IsZero() || d.Before(due) {
			due = d
		}
	}
	return due
}

func (t *Tracker) silenceDue(resumed time.Time) time.Time {
	if !t.seen || t.silent {
		return time.Time{}
	}
	return latest(t.est.last, resumed).Add(t.set.Timeout)
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// Silence is how long the machine has been silent at now.
func (t *Tracker) Silence(now time.Time) time.Duration {
	if !t.seen {
		return 0
	}
	return now.Sub(t.est.last)
}

func (t *Tracker) update() bool {
	c := failover.Condition{Known: t.seen}
	switch {
	case t.silent:
		c.Failure, c.Detail = failover.TriggerNetwork, fmt.Sprintf("no heartbeat for more than %s", t.set.Timeout)
	default:
		for _, s := range t.services {
			if s.Up {
				continue
			}
			trig := failover.TriggerService
			switch strings.ToLower(s.Name) {
			case "engine":
				trig = failover.TriggerEngine
			case "videoio":
				trig = failover.TriggerVideoIO
			}
			// The engine outranks video I/O, which outranks other services, as the cause shown.
			if c.Failure == failover.TriggerNone || rank(trig) < rank(c.Failure) {
				c.Failure, c.Detail = trig, s.Name+": "+s.Reason
			}
		}
	}
	var crit []string
	for _, v := range t.vals {
		if v.rated {
			c.Level = max(c.Level, v.level)
		}
	}
	if c.Level == failover.Critical {
		// Sorted (only then: sorting on every heartbeat showed in the profile) for a stable detail.
		var vs []Reading
		for _, v := range t.vals {
			if v.rated && v.level == failover.Critical {
				vs = append(vs, v.r)
			}
		}
		sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
		for _, r := range vs {
			crit = append(crit, fmt.Sprintf("%s=%g", r.Name, r.Value))
		}
	}
	if c.Failure == failover.TriggerNone && len(crit) > 0 {
		c.Detail = strings.Join(crit, ", ")
	}
	changed := c != t.cond
	t.cond = c
	return changed
}

func rank(t failover.Trigger) int {
	switch t {
	case failover.TriggerEngine:
		return 0
	case failover.TriggerVideoIO:
		return 1
	}
	return 2
}
