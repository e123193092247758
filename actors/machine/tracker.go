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
	"sort"
	"strings"
	"time"

	"standby/actors/failover"
)

// Report is one message from a machine's agent, already authenticated by the gateway.
type Report struct {
	Machine  string
	Session  uint64 // agent incarnation; a new value means the agent restarted
	Seq      uint64 // increases within a session; older ones are stale
	Change   bool   // sent at once on a change rather than on the beat
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

// Tracker is the detection state of one machine. Not safe for concurrent use.
type Tracker struct {
	set      Settings
	seen     bool
	session  uint64
	seq      uint64
	lastSeen time.Time
	silent   bool
	services []Service
	health   map[string]Reading
	levels   map[string]failover.Level
	cond     failover.Condition
}

// NewTracker returns a tracker that has heard nothing yet (Condition.Known false).
func NewTracker(s Settings) *Tracker {
	return &Tracker{set: s, health: map[string]Reading{}, levels: map[string]failover.Level{}}
}

// Condition is the machine's current condition.
func (t *Tracker) Condition() failover.Condition { return t.cond }

// Snapshot is what UIs show of a machine.
type Snapshot struct {
	Condition failover.Condition
	LastSeen  time.Time
	Services  []Service
	Health    []Reading
	Levels    map[string]failover.Level
}

// Snapshot returns a copy of the machine's view.
func (t *Tracker) Snapshot() Snapshot {
	s := Snapshot{Condition: t.cond, LastSeen: t.lastSeen, Services: append([]Service(nil), t.services...),
		Levels: make(map[string]failover.Level, len(t.levels))}
	for _, r := range t.health {
		s.Health = append(s.Health, r)
	}
	sort.Slice(s.Health, func(i, j int) bool { return s.Health[i].Name < s.Health[j].Name })
	for k, v := range t.levels {
		s.Levels[k] = v
	}
	return s
}

// Clone returns an independent copy; the actor restarts from one after a panic.
func (t *Tracker) Clone() *Tracker {
	c := *t
	c.services = append([]Service(nil), t.services...)
	c.health = make(map[string]Reading, len(t.health))
	for k, v := range t.health {
		c.health[k] = v
	}
	c.levels = make(map[string]failover.Level, len(t.levels))
	for k, v := range t.levels {
		c.levels[k] = v
	}
	return &c
}

// Resume prepares a tracker restored from a saved copy (after a panic) at now: silence since the
// copy was saved is not held against the machine, which gets one fresh timeout, as after a pause.
func (t *Tracker) Resume(now time.Time) {
	if t.seen && !t.silent {
		t.lastSeen = now
	}
}

// Reconfigure applies new settings (config reload), keeping what was observed.
func (t *Tracker) Reconfigure(s Settings) { t.set = s }

// Observe applies a report received at now. It returns true when the condition changed.
// Stale reports (an older seq of the current session) are ignored.
func (t *Tracker) Observe(now time.Time, r Report) bool {
	if t.seen && r.Session == t.session && r.Seq <= t.seq {
		return false
	}
	t.seen, t.session, t.seq = true, r.Session, r.Seq
	t.lastSeen, t.silent = now, false
	t.services = append(t.services[:0], r.Services...)
	for _, h := range r.Health {
		t.health[h.Name] = h
		th, ok := t.set.Thresholds[h.Name]
		if !ok {
			continue
		}
		if !h.OK {
			delete(t.levels, h.Name) // an unreadable value is no evidence either way
			continue
		}
		t.levels[h.Name] = failover.Classify(t.levels[h.Name], h.Value, th)
	}
	return t.update()
}

// Tick checks the silence at now; resumed is when the supervisor's own last pause ended (GC,
// SIGSTOP, VM pause; zero if none): silence is counted from then at the earliest, so the machine
// is not blamed for the supervisor's absence. It returns true when the condition changed.
func (t *Tracker) Tick(now, resumed time.Time) bool {
	due := t.Due(resumed)
	if due.IsZero() || now.Before(due) {
		return false
	}
	t.silent = true
	return t.update()
}

// Due is when the machine becomes silent for too long unless it reports first, counting from
// resumed at the earliest (see Tick); zero when there is nothing to wait for (never heard, or
// already silent).
func (t *Tracker) Due(resumed time.Time) time.Time {
	if !t.seen || t.silent {
		return time.Time{}
	}
	from := t.lastSeen
	if resumed.After(from) {
		from = resumed
	}
	return from.Add(t.set.Timeout)
}

// Silence is how long the machine has been silent at now.
func (t *Tracker) Silence(now time.Time) time.Duration {
	if !t.seen {
		return 0
	}
	return now.Sub(t.lastSeen)
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
	for _, name := range sortedKeys(t.levels) {
		l := t.levels[name]
		if l > c.Level {
			c.Level = l
		}
		if l == failover.Critical {
			crit = append(crit, fmt.Sprintf("%s=%g", name, t.health[name].Value))
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

func sortedKeys(m map[string]failover.Level) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
