// Package failover is Standby's failover decision: a pure state machine per backup pool.
//
// A Pool has N mains and M backups (a [[pair]] is a pool of one main and one backup). It takes
// events (machine conditions, operator commands, router results and what the router shows,
// ticks) together with the current time and returns actions (route, transition, alarm). It
// allocates backups to failed mains (first failed, first served; a freed backup serves the
// longest-waiting main), drives each main's switch, confirmation, failback, alarms and flap
// guard, and computes the crosspoints from the machines' feed roles so shells stay dumb. It has
// no goroutines, no I/O and no clock of its own, so its scenario tests run as scripts and every
// decision is reproducible. The actor shell (actors/pair) feeds it and carries out its actions.
package failover

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"standby/conf"
)

// Errors returned for operator commands the pool refuses. Nothing changes when they are returned.
var (
	// ErrTargetDown: the machine to switch to is down.
	ErrTargetDown = errors.New("target machine is down")
	// ErrTargetBusy: the backup to switch to covers another main.
	ErrTargetBusy = errors.New("target backup is covering another main")
	// ErrLacksRole: the backup has none of the roles the main airs.
	ErrLacksRole = errors.New("target backup lacks the main's roles")
	// ErrNoBackupFree: "any free backup" found none.
	ErrNoBackupFree = errors.New("no backup free")
	// ErrNotInPool: the machine or main named is not part of the pool.
	ErrNotInPool = errors.New("not part of the pool")
	// ErrSwitchPending: another switch of that main awaits the router's answer.
	ErrSwitchPending = errors.New("a switch is already in progress")
	// ErrAlreadyOnAir: the machine to switch to already carries the feed.
	ErrAlreadyOnAir = errors.New("already on air")
	// ErrNoAlarm: there is no such alarm to acknowledge.
	ErrNoAlarm = errors.New("no such alarm")
	// ErrStandby refuses an operator's switch on a supervisor that is not the active one.
	ErrStandby = errors.New("this supervisor is not the active one")
	// ErrUnroutable: the router lacks a port of the machine switched to (RouterLacks).
	ErrUnroutable = errors.New("the router cannot route it")
)

// Feed is one signal a machine sends into the router, by role. Mains list the outputs the role
// airs on; backups only their input.
type Feed struct {
	Role    string
	Input   conf.Port
	Outputs []conf.Port
}

// Machine is a member of a pool and its feeds.
type Machine struct {
	Name  string
	Feeds []Feed
}

// Config is the per-pool policy and membership.
type Config struct {
	// Mains are the machines normally on air; Backups cover them, in order of preference.
	Mains, Backups []Machine
	// Roles limits which roles move to a backup (partial coverage); empty means every role.
	Roles []string
	// Automatic switches on failure; otherwise a failure raises an alarm only.
	Automatic bool
	// SwitchOnCritical also treats a Critical health level of the on-air machine as a failure.
	SwitchOnCritical bool
	// AutoFailback returns a main to air after FailbackAfter of continuous health, when a backup
	// went on air because of a failure (never after an operator's choice).
	AutoFailback  bool
	FailbackAfter time.Duration
	// FlapMax automatic switches of one main within FlapWindow latch its automatic switching off.
	FlapMax    int
	FlapWindow time.Duration
	// SwitchTimeout is how long a route may await its result before it counts as failed; a
	// backstop for a lost result message (remote delivery is at-most-once).
	SwitchTimeout time.Duration
	// RetryAfter spaces automatic retries after a failed switch.
	RetryAfter time.Duration
	// ForceUnlock lets routes force-unlock outputs held by other router clients.
	ForceUnlock bool
}

func (c *Config) defaults() {
	if c.FlapMax < 1 {
		c.FlapMax = 3
	}
	if c.FlapWindow <= 0 {
		c.FlapWindow = time.Minute
	}
	if c.SwitchTimeout <= 0 {
		c.SwitchTimeout = 2 * time.Second
	}
	if c.RetryAfter <= 0 {
		c.RetryAfter = time.Second
	}
}

// slot is one main's place in the failover cycle.
type slot struct {
	main  string
	state State
	// onAir is the machine the router carries for this main (the previous one while switching;
	// before arming, the main unless the router showed a backup).
	onAir string
	// routed: the router has shown this main's outputs. A main arms only then, so a supervisor
	// that starts while a backup is on air never arms believing the main is.
	routed bool
	// pending is the switch awaiting a RouteResult (valid while switching; kept after it for a
	// late landing).
	pending struct {
		epoch     uint64
		from      State
		to        string
		trigger   Trigger
		automatic bool
		deadline  time.Time
	}
	// failedOver: a backup is on air because of a failure, not an operator.
	failedOver bool
	// healthySince is when the main last became usable; zero while it is not.
	healthySince time.Time
	// retryAt holds back automatic switches after a failed one.
	retryAt time.Time
	// autoSwitches are the times of recent automatic switches, for the flap guard.
	autoSwitches []time.Time
	latched      bool
	// failSeq orders failed mains (first failed, first served); zero while the on-air machine works.
	failSeq uint64
	// failedAt is when failSeq was given.
	failedAt time.Time
	alarms   map[AlarmKind]*Alarm
}

// Pool is the failover state machine of one pool. The zero value is not usable: use New.
type Pool struct {
	cfg   Config
	cond  map[string]Condition
	slots []*slot
	epoch uint64
	seq   uint64
	// standby: another supervisor is (or may be) active; nothing is routed from here, so two
	// supervisors never drive the router at once by construction. The zero value is active (a
	// supervisor without a peer).
	standby bool
	term    uint64
	// noQuorum holds switches for silent machines (SetQuorum).
	noQuorum bool
	// resume holds, per main, what Resume gave until the router shows the main.
	resume map[string]AdoptSlot
	// lacks holds, per machine, the ports of its feeds the router lacks (RouterLacks): it is
	// never switched to, and the mains it serves carry mapping_invalid.
	lacks map[string][]string
}

// New returns a pool whose mains are all Unarmed: each arms once the router has shown what its
// outputs carry (RouterShows) and that machine is seen up.
func New(cfg Config) *Pool {
	cfg.defaults()
	p := &Pool{cfg: cfg, cond: map[string]Condition{}}
	for _, m := range cfg.Mains {
		p.slots = append(p.slots, newSlot(m.Name))
	}
	return p
}

func newSlot(main string) *slot {
	return &slot{main: main, onAir: main, alarms: map[AlarmKind]*Alarm{}}
}

// SlotStatus is one main's view.
type SlotStatus struct {
	Main  string
	State State
	// OnAir is the machine the router carries for the main; Target the one a pending switch puts there.
	OnAir, Target string
	Latched       bool
	// FailedOver: a backup is on air because of a failure (automatic failback applies).
	FailedOver bool
	// Stay lists the main's outputs left on it while a backup that lacks their role covers it.
	Stay []conf.Port
	// WaitingSince is when the main started waiting for a backup; zero when it is not waiting.
	WaitingSince time.Time
	// FailbackAt is when a pending automatic failback to the main is due; zero when none is.
	FailbackAt time.Time
	Alarms     []Alarm
}

// BackupStatus says whom a backup covers.
type BackupStatus struct {
	Name string
	// Covering is the main it is on air for (or being switched to); "" when free.
	Covering string
}

// Status is a read-only view of a pool for UIs and logs.
type Status struct {
	Automatic, Failback bool
	Epoch               uint64
	// Standby: this supervisor is not the active one; the pool follows the router and its
	// machines but routes nothing. Term is the supervisor pair's term it last heard.
	Standby bool
	Term    uint64
	Slots   []SlotStatus
	Backups []BackupStatus
	// Queue lists the mains waiting for a backup, longest-waiting first.
	Queue      []string
	Conditions map[string]Condition
}

var alarmOrder = []AlarmKind{AlarmOnAirFailed, AlarmNoHealthyBackup, AlarmNoBackupFree, AlarmSwitchFailed, AlarmFlapGuard,
	AlarmLockedOutput, AlarmRouterMismatch, AlarmMappingInvalid}

// Status returns the pool's current view. Alarms are in a fixed kind order.
func (p *Pool) Status() Status {
	st := Status{Automatic: p.cfg.Automatic, Failback: p.cfg.AutoFailback, Epoch: p.epoch, Standby: p.standby, Term: p.term,
		Conditions: map[string]Condition{}}
	for k, c := range p.cond {
		st.Conditions[k] = c
	}
	for _, s := range p.slots {
		ss := SlotStatus{Main: s.main, State: s.state, OnAir: s.onAir, Latched: s.latched, FailedOver: s.failedOver}
		if s.switching() {
			ss.Target = s.pending.to
		}
		if s.onAir != s.main {
			_, ss.Stay = p.crosspoints(s.main, s.onAir)
		}
		for _, k := range alarmOrder {
			if a := s.alarms[k]; a != nil {
				ss.Alarms = append(ss.Alarms, *a)
			}
		}
		if s.waiting() {
			ss.WaitingSince = s.failedAt
		}
		ss.FailbackAt, _ = p.failbackAt(s)
		st.Slots = append(st.Slots, ss)
	}
	for _, b := range p.cfg.Backups {
		bs := BackupStatus{Name: b.Name}
		if s := p.holder(b.Name, nil); s != nil {
			bs.Covering = s.main
		}
		st.Backups = append(st.Backups, bs)
	}
	for _, s := range p.byFailure() {
		if s.waiting() {
			st.Queue = append(st.Queue, s.main)
		}
	}
	return st
}

// waiting: the main failed and no machine could take over (it is in the queue).
func (s *slot) waiting() bool {
	for _, k := range []AlarmKind{AlarmNoBackupFree, AlarmNoHealthyBackup} {
		if a := s.alarms[k]; a != nil && a.Active {
			return true
		}
	}
	return false
}

// Slot returns the view of one main's slot (the only one when main is empty in a one-main pool).
func (st Status) Slot(main string) (SlotStatus, bool) {
	if main == "" && len(st.Slots) == 1 {
		return st.Slots[0], true
	}
	for _, s := range st.Slots {
		if s.Main == main {
			return s, true
		}
	}
	return SlotStatus{}, false
}

// Clone returns an independent copy; actor shells keep one to restart from after a panic.
func (p *Pool) Clone() *Pool {
	c := *p
	c.cond = make(map[string]Condition, len(p.cond))
	for k, v := range p.cond {
		c.cond[k] = v
	}
	c.resume = maps.Clone(p.resume)
	c.lacks = maps.Clone(p.lacks) // the slices are replaced, never changed in place
	c.slots = make([]*slot, len(p.slots))
	for i, s := range p.slots {
		c.slots[i] = s.clone()
	}
	return &c
}

func (s *slot) clone() *slot {
	c := *s
	c.autoSwitches = append([]time.Time(nil), s.autoSwitches...)
	c.alarms = make(map[AlarmKind]*Alarm, len(s.alarms))
	for k, a := range s.alarms {
		cp := *a
		c.alarms[k] = &cp
	}
	return &c
}

// Reconfigure applies a new config (reload, pool edit) keeping the state: mains that stay keep
// their slots (what the router showed, the switch in flight, alarms, the flap latch), new mains
// start unarmed, removed ones are forgotten with the conditions of machines that left.
func (p *Pool) Reconfigure(now time.Time, cfg Config) []Action {
	cfg.defaults()
	old := p.slots
	p.cfg, p.slots = cfg, nil
	for _, m := range cfg.Mains {
		i := slices.IndexFunc(old, func(s *slot) bool { return s.main == m.Name })
		if i >= 0 {
			p.slots = append(p.slots, old[i])
		} else {
			p.slots = append(p.slots, newSlot(m.Name))
		}
	}
	for name := range p.cond {
		if !p.member(name) {
			delete(p.cond, name)
		}
	}
	return p.evaluate(now, nil)
}

// Step applies one event at time now and returns the actions to carry out. A refused operator
// command returns an error and changes nothing.
func (p *Pool) Step(now time.Time, ev Event) ([]Action, error) {
	var acts []Action
	switch e := ev.(type) {
	case MachineChanged:
		acts = p.stepMachine(now, e)
	case Tick:
		acts = p.tickSwitches(now)
	case RouterReady:
		for _, s := range p.slots {
			s.retryAt = time.Time{}
		}
	case RouterShows:
		acts = p.stepShows(now, e)
	case RouteResult:
		acts = p.stepResult(now, e)
	case Switch:
		return p.stepSwitch(now, e)
	case SetMode:
		p.cfg.Automatic = e.Automatic
	case SetFailback:
		p.cfg.AutoFailback = e.Automatic
	case Acknowledge:
		var err error
		if acts, err = p.stepAck(e); err != nil {
			return nil, err
		}
	case OutputsLocked:
		acts = p.stepLocked(now, e)
	case RouterLacks:
		acts = p.stepLacks(now, e)
	case SetRole:
		acts = p.stepRole(e)
	case Adopt:
		acts = p.stepAdopt(now, e)
	case Resume:
		p.resume = map[string]AdoptSlot{}
		for _, a := range e.Slots {
			if s := p.slot(a.Main); s != nil && s.state == Unarmed {
				p.resume[a.Main] = a
			}
		}
	case SetQuorum:
		if p.noQuorum == e.OK {
			p.noQuorum = !e.OK
			msg := "quorum regained: silent machines are failed over again"
			if !e.OK {
				msg = "no quorum (most agents silent at once): a silent machine is not failed over"
			}
			acts = []Action{Note{Message: msg}}
		}
	default:
		panic(fmt.Sprintf("failover: unknown event %T", ev))
	}
	return p.evaluate(now, acts), nil
}

func (p *Pool) stepMachine(now time.Time, e MachineChanged) []Action {
	if !p.member(e.Machine) {
		return []Action{Note{Message: fmt.Sprintf("ignored condition of %q: not a machine of this pool", e.Machine)}}
	}
	was := p.cond[e.Machine].usable()
	p.cond[e.Machine] = e.Condition
	var acts []Action
	for _, s := range p.slots {
		if s.main == e.Machine {
			switch u := e.Condition.usable(); {
			case u && !was:
				s.healthySince = now
			case !u:
				s.healthySince = time.Time{}
			}
		}
		p.arm(&acts, s)
	}
	return acts
}

// arm arms an unarmed main once the router has shown it and its on-air machine is seen up.
func (p *Pool) arm(acts *[]Action, s *slot) {
	if s.state != Unarmed || !s.routed || p.cond[s.onAir].down() {
		return
	}
	detail := "main seen healthy: armed"
	if s.onAir != s.main {
		detail = fmt.Sprintf("backup %q seen healthy: armed with it on air, as the router shows", s.onAir)
	}
	*acts = append(*acts, p.become(s, s.stableOn(s.onAir), TriggerNone, detail, 0))
}

// stepShows follows what the router shows: the truth about what is on air is the router's, so a
// supervisor restarted after a failover, or a panel that moved the outputs, is believed, not
// overruled. A switch of ours in flight decides by its own result instead.
func (p *Pool) stepShows(now time.Time, e RouterShows) []Action {
	shown := make(map[conf.Port]Shown, len(e.Outputs))
	for _, o := range e.Outputs {
		shown[o.Output] = o
	}
	var acts []Action
	for _, s := range p.slots {
		if s.switching() {
			continue // a multi-output switch may show half done; its result is what counts
		}
		who, detail, known := p.shows(s.main, shown)
		if !known {
			continue
		}
		if who == "" {
			p.raise(&acts, now, s, AlarmRouterMismatch, "the router shows no machine of the pool on all of "+s.main+"'s outputs: "+detail)
			continue
		}
		p.clear(&acts, s, AlarmRouterMismatch)
		if r, ok := p.resume[s.main]; ok {
			delete(p.resume, s.main)
			if r.OnAir == who {
				p.resumeSlot(&acts, now, s, r)
			}
		}
		sw := s.alarms[AlarmSwitchFailed]
		switch {
		case s.state == Unarmed:
			if who != s.onAir {
				s.onAir = who
				acts = append(acts, Note{Main: s.main, Message: fmt.Sprintf("router shows %s on air", p.who(who))})
			}
			s.routed = true
			p.arm(&acts, s)
		case who == s.onAir:
		case sw != nil && sw.Active && who == s.pending.to:
			// Our switch that was not confirmed in time reached the router after all.
			p.clear(&acts, s, AlarmSwitchFailed)
			s.failedOver = who != s.main && s.pending.trigger != TriggerOperator
			s.onAir = who
			acts = append(acts, p.become(s, s.stableOn(who), s.pending.trigger,
				fmt.Sprintf("router shows %s on air: the switch that was not confirmed took effect late", p.who(who)), 0))
		case p.standby:
			// The active supervisor (or a panel) switched it. A backup put on air while the main
			// was failing was a failover, so automatic failback applies once this side is active.
			mainFailing, _ := p.failing(s.main)
			s.failedOver = who != s.main && mainFailing
			s.onAir = who
			acts = append(acts, p.become(s, s.stableOn(who), TriggerRouter,
				fmt.Sprintf("router shows %s on air (standby: switched by the active supervisor or a panel)", p.who(who)), 0))
		default:
			s.failedOver = false // not ours: no automatic failback from it
			s.onAir = who
			acts = append(acts, p.become(s, s.stableOn(who), TriggerRouter,
				fmt.Sprintf("router shows %s on air: outputs moved outside Standby", p.who(who)), 0))
		}
	}
	return acts
}

// shows works out which machine the router shows for main: the main when every output shows the
// main's input of its role; a backup when every output shows what a switch to that backup routes
// (its input of the role, or the main's for roles it does not cover). known is false when an
// output of the main is missing from shown.
func (p *Pool) shows(main string, shown map[conf.Port]Shown) (who, detail string, known bool) {
	var texts []string
	for _, f := range p.machine(main).Feeds {
		for _, o := range f.Outputs {
			sh, ok := shown[o]
			if !ok {
				return "", "", false
			}
			texts = append(texts, sh.Text)
		}
	}
	for _, cand := range append([]string{main}, p.backupNames()...) {
		xs, _ := p.crosspoints(main, cand)
		match := len(xs) > 0
		for _, x := range xs {
			match = match && shown[x.Output].Input == x.Input
		}
		if match {
			return cand, "", true
		}
	}
	return "", strings.Join(texts, ", "), true
}

// tickSwitches fails switches whose result never came.
func (p *Pool) tickSwitches(now time.Time) []Action {
	var acts []Action
	for _, s := range p.slots {
		if s.switching() && !now.Before(s.pending.deadline) {
			acts = append(acts, p.stepResult(now, RouteResult{Epoch: s.pending.epoch, OK: false, Reason: "no answer from the router actor"})...)
		}
	}
	return acts
}

func (p *Pool) stepResult(now time.Time, r RouteResult) []Action {
	i := slices.IndexFunc(p.slots, func(s *slot) bool { return s.switching() && s.pending.epoch == r.Epoch })
	if i < 0 {
		return []Action{Note{Message: fmt.Sprintf("ignored stale router result (epoch %d, current %d)", r.Epoch, p.epoch)}}
	}
	s := p.slots[i]
	var acts []Action
	to := s.pending.to
	if !r.OK {
		s.retryAt = now.Add(p.cfg.RetryAfter)
		p.raise(&acts, now, s, AlarmSwitchFailed, fmt.Sprintf("switch to %s failed: %s", p.who(to), r.Reason))
		return append(acts, p.become(s, s.pending.from, s.pending.trigger, "switch failed: "+r.Reason, 0))
	}
	if s.pending.automatic {
		s.autoSwitches = append(s.autoSwitches, now)
	}
	s.failedOver = to != s.main && s.pending.trigger != TriggerOperator
	s.onAir = to
	p.clear(&acts, s, AlarmSwitchFailed)
	return append(acts, p.become(s, s.stableOn(to), s.pending.trigger, "confirmed by router", r.Latency))
}

// stepRole makes the pool active or standby under a term. A stale term changes nothing. On
// becoming active the pool starts from what the router shows (which it kept following), so the
// handover itself routes nothing; evaluate then serves mains whose machine is failing now.
func (p *Pool) stepRole(e SetRole) []Action {
	if e.Term < p.term {
		return []Action{Note{Message: fmt.Sprintf("ignored role change of stale term %d (current %d)", e.Term, p.term)}}
	}
	was := !p.standby
	p.term, p.standby = e.Term, !e.Active
	switch {
	case e.Active && !was:
		for _, s := range p.slots {
			s.retryAt = time.Time{}
		}
		return []Action{Note{Message: fmt.Sprintf("active (term %d): adopting what the router shows", e.Term)}}
	case !e.Active && was:
		return []Action{Note{Message: fmt.Sprintf("standby (term %d): following the router, routing nothing", e.Term)}}
	}
	return nil
}

// stepAdopt takes over the active supervisor's view of the pool (standby only): the operators'
// mode and failback, and per main why a backup is on air and whether its flap guard latched,
// for the mains whose machine on air both sides agree on (the router is the judge of that).
func (p *Pool) stepAdopt(now time.Time, e Adopt) []Action {
	if !p.standby {
		return nil // the active side decides; a late copy from the peer changes nothing
	}
	p.cfg.Automatic, p.cfg.AutoFailback = e.Automatic, e.AutoFailback
	var acts []Action
	for _, a := range e.Slots {
		s := p.slot(a.Main)
		if s == nil || s.onAir != a.OnAir {
			continue
		}
		s.failedOver = a.FailedOver
		p.takeAlarms(s, a.Alarms)
		switch {
		case a.Latched && !s.latched:
			// With its alarm, so an operator can see it and reset it here after a takeover.
			s.latched = true
			p.raise(&acts, now, s, AlarmFlapGuard, "automatic switching latched on the active supervisor: acknowledge to re-arm")
		case !a.Latched && s.latched:
			s.latched, s.autoSwitches = false, nil
			p.clear(&acts, s, AlarmFlapGuard)
			delete(s.alarms, AlarmFlapGuard) // acknowledged on the active supervisor
		}
	}
	return acts
}

// decided are the alarms the active side raises from its own decisions; a standby copies them
// from it. The others (router_mismatch, locked_output, mapping_invalid) each side sees for
// itself from the router, and takes only the acknowledgement.
var decided = map[AlarmKind]bool{AlarmOnAirFailed: true, AlarmNoHealthyBackup: true, AlarmNoBackupFree: true, AlarmSwitchFailed: true}

// takeAlarms takes the alarms the writer of a state (the active peer, or this supervisor before
// a restart) had for s, so operators see the same alarms on both sides and an acknowledgement is
// not lost with a takeover or a restart. Silent: nothing was raised or cleared here.
func (p *Pool) takeAlarms(s *slot, alarms []Alarm) {
	theirs := map[AlarmKind]Alarm{}
	for _, a := range alarms {
		theirs[a.Kind] = a
	}
	for k := range decided {
		if a, ok := theirs[k]; ok {
			s.alarms[k] = &a
		} else {
			delete(s.alarms, k)
		}
	}
	for k, a := range s.alarms {
		if t, ok := theirs[k]; ok && !decided[k] && t.Acked && !a.Acked {
			a.Acked = true
			if !a.Active {
				delete(s.alarms, k)
			}
		}
	}
}

// resumeSlot gives a main what this supervisor persisted of it before a restart (Resume).
func (p *Pool) resumeSlot(acts *[]Action, now time.Time, s *slot, r AdoptSlot) {
	s.onAir, s.failedOver = r.OnAir, r.FailedOver
	p.takeAlarms(s, r.Alarms)
	if r.Latched && !s.latched {
		s.latched = true
		p.raise(acts, now, s, AlarmFlapGuard, "automatic switching latched before the supervisor restarted: acknowledge to re-arm")
	}
	if r.OnAir == s.main {
		return
	}
	why := "an operator's choice"
	if r.FailedOver {
		why = "a failover"
	}
	*acts = append(*acts, Note{Main: s.main, Message: fmt.Sprintf("resumed after restart: %s on air by %s", p.who(r.OnAir), why)})
}

func (p *Pool) stepSwitch(now time.Time, e Switch) ([]Action, error) {
	if p.standby {
		return nil, fmt.Errorf("%w (term %d): switch on the active supervisor", ErrStandby, p.term)
	}
	s := p.slot(e.Main)
	if s == nil {
		return nil, fmt.Errorf("%w: main %q", ErrNotInPool, e.Main)
	}
	if s.switching() {
		return nil, ErrSwitchPending
	}
	to := e.To
	if to == "" {
		to = s.main
		if s.onAir == s.main {
			to = p.pick(s, func(c Condition) bool { return !c.down() })
			if to == "" {
				return nil, fmt.Errorf("%w for %s: %s", ErrNoBackupFree, s.main, p.whyNone(s))
			}
		}
	}
	if !p.member(to) {
		return nil, fmt.Errorf("%w: machine %q", ErrNotInPool, to)
	}
	if to == s.onAir {
		return nil, fmt.Errorf("%w: %s", ErrAlreadyOnAir, p.who(to))
	}
	if to != s.main && p.isMain(to) {
		return nil, fmt.Errorf("%w: %q is a main, not a backup", ErrNotInPool, to)
	}
	if c := p.cond[to]; c.down() {
		return nil, fmt.Errorf("%w: %s is %s", ErrTargetDown, p.who(to), describe(c))
	}
	if l := p.lacks[to]; len(l) > 0 {
		return nil, fmt.Errorf("%w: %s: %s", ErrUnroutable, p.who(to), strings.Join(l, "; "))
	}
	if h := p.holder(to, s); h != nil {
		return nil, fmt.Errorf("%w: %s covers %s", ErrTargetBusy, p.who(to), h.main)
	}
	if to != s.main && !p.coversAny(s.main, to) {
		return nil, fmt.Errorf("%w: %s has none of %s's roles", ErrLacksRole, p.who(to), s.main)
	}
	acts := []Action{Note{Main: s.main, Message: fmt.Sprintf("operator %s switches %s to %s", e.By, s.main, p.who(to))}}
	acts = append(acts, p.startSwitch(now, s, to, TriggerOperator, false)...)
	return p.evaluate(now, acts), nil
}

func (p *Pool) stepAck(e Acknowledge) ([]Action, error) {
	var acts []Action
	found := false
	for _, s := range p.slots {
		if e.Main != "" && s.main != e.Main {
			continue
		}
		a := s.alarms[e.Kind]
		if a == nil {
			continue
		}
		found = true
		a.Acked = true
		if !a.Active {
			delete(s.alarms, e.Kind)
		}
		if e.Kind == AlarmFlapGuard && s.latched {
			s.latched, s.autoSwitches = false, nil
			p.clear(&acts, s, AlarmFlapGuard)
			delete(s.alarms, AlarmFlapGuard)
			acts = append(acts, Note{Main: s.main, Message: "flap guard reset by " + e.By + "; automatic switching re-armed"})
		}
	}
	if !found {
		if e.Main != "" && p.slot(e.Main) == nil {
			return nil, fmt.Errorf("%w: main %q", ErrNotInPool, e.Main)
		}
		return nil, fmt.Errorf("%w: %s", ErrNoAlarm, e.Kind)
	}
	return acts, nil
}

func (p *Pool) stepLocked(now time.Time, e OutputsLocked) []Action {
	var acts []Action
	for _, s := range p.slots {
		var names []string
		for _, f := range p.machine(s.main).Feeds {
			for _, o := range f.Outputs {
				for _, l := range e.Outputs {
					if l.Output == o {
						names = append(names, l.Name)
					}
				}
			}
		}
		if len(names) > 0 {
			p.raise(&acts, now, s, AlarmLockedOutput, fmt.Sprintf("output %s locked by another client: make sure routed outputs are not locked", strings.Join(names, ", ")))
		} else {
			p.clear(&acts, s, AlarmLockedOutput)
		}
	}
	return acts
}

// stepLacks takes what the router lacks of the pool's ports: each main whose own ports or whose
// backups' inputs are missing carries mapping_invalid at once, so a mapping that cannot be
// switched is seen when it is made, not when the main fails.
func (p *Pool) stepLacks(now time.Time, e RouterLacks) []Action {
	p.lacks = map[string][]string{}
	for _, m := range slices.Concat(p.cfg.Mains, p.cfg.Backups) {
		for _, f := range m.Feeds {
			for _, l := range e.Ports {
				if (l.Input && l.Port == f.Input) || (!l.Input && slices.Contains(f.Outputs, l.Port)) {
					p.lacks[m.Name] = append(p.lacks[m.Name], l.Reason)
				}
			}
		}
	}
	var acts []Action
	for _, s := range p.slots {
		var why []string
		for _, m := range slices.Concat([]string{s.main}, p.backupNames()) {
			if l := p.lacks[m]; len(l) > 0 && (m == s.main || p.coversAny(s.main, m)) {
				why = append(why, fmt.Sprintf("%s: %s", p.who(m), strings.Join(l, "; ")))
			}
		}
		if len(why) == 0 {
			p.clear(&acts, s, AlarmMappingInvalid)
			continue
		}
		msg := "the router lacks ports of the mapping: " + strings.Join(why, "; ")
		if a := s.alarms[AlarmMappingInvalid]; a != nil && a.Active {
			a.Message = msg // still invalid, for other reasons now
			continue
		}
		p.raise(&acts, now, s, AlarmMappingInvalid, msg)
	}
	return acts
}

// evaluate applies the automatic rules after any event: first the switches, main by main in the
// order their failures were seen (first failed, first served), then the alarms of the mains left
// without a machine, from the allocation that results.
func (p *Pool) evaluate(now time.Time, acts []Action) []Action {
	for _, s := range p.slots {
		if s.state == Unarmed || s.switching() {
			continue
		}
		if failing, _ := p.failing(s.onAir); !failing {
			s.failSeq, s.failedAt = 0, time.Time{}
		} else if s.failSeq == 0 {
			p.seq++
			s.failSeq, s.failedAt = p.seq, now
		}
	}
	if p.standby {
		return acts // the active supervisor decides; this one only keeps its view current
	}
	for _, s := range p.byFailure() {
		if s.state == Unarmed || s.switching() {
			continue
		}
		failing, trigger := p.failing(s.onAir)
		if !failing {
			p.clear(&acts, s, AlarmOnAirFailed)
			p.clear(&acts, s, AlarmNoHealthyBackup)
			p.clear(&acts, s, AlarmNoBackupFree)
			if at, ok := p.failbackAt(s); ok && !now.Before(at) {
				acts = append(acts, p.autoSwitch(now, s, s.main, TriggerFailback)...)
			}
			continue
		}
		if trigger == TriggerNetwork && p.noQuorum {
			continue // this supervisor may be the one cut off: its machines only look silent
		}
		if target := p.replacement(s); target != "" && p.cfg.Automatic && !now.Before(s.retryAt) && !s.latched {
			p.clear(&acts, s, AlarmOnAirFailed)
			p.clear(&acts, s, AlarmNoHealthyBackup)
			p.clear(&acts, s, AlarmNoBackupFree)
			acts = append(acts, p.autoSwitch(now, s, target, trigger)...)
		}
	}
	for _, s := range p.byFailure() {
		if s.state == Unarmed || s.switching() {
			continue
		}
		if failing, _ := p.failing(s.onAir); failing {
			p.failedAlarms(now, &acts, s)
		}
	}
	return acts
}

// failbackAt is when an automatic failback of s is due, if one is pending: a backup on air
// after a failure, automatic mode and failback, and the main usable since healthySince.
func (p *Pool) failbackAt(s *slot) (time.Time, bool) {
	if p.standby || s.latched || s.state == Unarmed || s.switching() || !p.cfg.Automatic || !p.cfg.AutoFailback || s.onAir == s.main ||
		!s.failedOver || !p.cond[s.main].usable() || s.healthySince.IsZero() || len(p.lacks[s.main]) > 0 {
		return time.Time{}, false
	}
	if failing, _ := p.failing(s.onAir); failing {
		return time.Time{}, false
	}
	at := s.healthySince.Add(p.cfg.FailbackAfter)
	if s.retryAt.After(at) {
		at = s.retryAt
	}
	return at, true
}

// failedAlarms raises or clears the alarms of a main whose on-air machine failed and that was not
// switched: on_air_failed in manual mode (naming the machine that would take over), else
// no_backup_free or no_healthy_backup when no machine can take over.
func (p *Pool) failedAlarms(now time.Time, acts *[]Action, s *slot) {
	target := p.replacement(s)
	if !p.cfg.Automatic {
		p.clear(acts, s, AlarmNoHealthyBackup)
		p.clear(acts, s, AlarmNoBackupFree)
		would := "no machine can take over: " + p.whyNone(s)
		if target != "" {
			would = p.who(target) + " would take over"
		}
		p.raise(acts, now, s, AlarmOnAirFailed, fmt.Sprintf("%s on air has failed (%s): switch manually; %s", p.who(s.onAir), describe(p.cond[s.onAir]), would))
		return
	}
	p.clear(acts, s, AlarmOnAirFailed)
	if target != "" {
		p.clear(acts, s, AlarmNoHealthyBackup)
		p.clear(acts, s, AlarmNoBackupFree)
		return
	}
	if kind, why := p.noTarget(s); kind == AlarmNoBackupFree {
		p.clear(acts, s, AlarmNoHealthyBackup)
		p.raise(acts, now, s, kind, fmt.Sprintf("%s failed: no backup free (%s)", s.main, why))
	} else {
		p.clear(acts, s, AlarmNoBackupFree)
		p.raise(acts, now, s, kind, fmt.Sprintf("%s on air has failed (%s) and %s", p.who(s.onAir), describe(p.cond[s.onAir]), why))
	}
}

// byFailure orders the slots: failed mains by when their failure was seen, then the others.
func (p *Pool) byFailure() []*slot {
	order := slices.Clone(p.slots)
	sort.SliceStable(order, func(i, j int) bool {
		a, b := order[i].failSeq, order[j].failSeq
		return a != 0 && (b == 0 || a < b)
	})
	return order
}

// replacement is the machine an automatic switch puts on air for s: the first free usable backup
// in preference order (other than the one failing on air), else the main itself when a backup
// is on air and the main works again; "" when none.
func (p *Pool) replacement(s *slot) string {
	if b := p.pick(s, Condition.usable); b != "" {
		return b
	}
	if s.onAir != s.main && p.cond[s.main].usable() && len(p.lacks[s.main]) == 0 {
		return s.main
	}
	return ""
}

// pick returns the first backup (in order) that is not on air for s, not held by another main,
// covers one of s's roles at least, and whose condition passes ok.
func (p *Pool) pick(s *slot, ok func(Condition) bool) string {
	for _, b := range p.cfg.Backups {
		if b.Name != s.onAir && p.holder(b.Name, s) == nil && ok(p.cond[b.Name]) && len(p.lacks[b.Name]) == 0 && p.coversAny(s.main, b.Name) {
			return b.Name
		}
	}
	return ""
}

// noTarget says why s has no machine to switch to: no_backup_free when a usable backup is busy
// with another main, no_healthy_backup otherwise.
func (p *Pool) noTarget(s *slot) (AlarmKind, string) {
	for _, b := range p.cfg.Backups {
		if b.Name != s.onAir && p.holder(b.Name, s) != nil && p.cond[b.Name].usable() {
			return AlarmNoBackupFree, p.whyNone(s)
		}
	}
	return AlarmNoHealthyBackup, p.whyNone(s)
}

// whyNone lists why no machine can take over s: each candidate and what keeps it.
func (p *Pool) whyNone(s *slot) string {
	var why []string
	cands := p.backupNames()
	if s.onAir != s.main {
		cands = append(cands, s.main)
	}
	for _, c := range cands {
		if c == s.onAir {
			continue
		}
		if h := p.holder(c, s); h != nil && c != s.main {
			why = append(why, fmt.Sprintf("%s is covering %s", c, h.main))
			continue
		}
		if c != s.main && !p.coversAny(s.main, c) {
			why = append(why, fmt.Sprintf("%s has none of %s's roles", c, s.main))
			continue
		}
		if l := p.lacks[c]; len(l) > 0 {
			why = append(why, fmt.Sprintf("%s cannot be routed: %s", p.who(c), strings.Join(l, "; ")))
			continue
		}
		why = append(why, fmt.Sprintf("%s cannot take over: %s", p.who(c), describe(p.cond[c])))
	}
	if len(why) == 0 {
		return "no other machine in the pool"
	}
	return strings.Join(why, "; ")
}

// holder is the slot other than except that has backup b on air or is switching to or from it.
func (p *Pool) holder(b string, except *slot) *slot {
	for _, t := range p.slots {
		if t == except || t.main == b {
			continue
		}
		if t.onAir == b || (t.switching() && t.pending.to == b) {
			return t
		}
	}
	return nil
}

// failing reports whether the machine on air must be replaced, and why.
func (p *Pool) failing(m string) (bool, Trigger) {
	c := p.cond[m]
	switch {
	case !c.Known:
		return true, TriggerNetwork
	case c.Failure != TriggerNone:
		return true, c.Failure
	case p.cfg.SwitchOnCritical && c.Level == Critical:
		return true, TriggerCritical
	}
	return false, TriggerNone
}

// autoSwitch starts an automatic switch unless the main's flap guard is latched or latches now.
func (p *Pool) autoSwitch(now time.Time, s *slot, to string, trigger Trigger) []Action {
	if s.latched {
		return nil
	}
	recent := s.autoSwitches[:0]
	for _, t := range s.autoSwitches {
		if now.Sub(t) < p.cfg.FlapWindow {
			recent = append(recent, t)
		}
	}
	s.autoSwitches = recent
	if len(recent) >= p.cfg.FlapMax {
		s.latched = true
		var acts []Action
		p.raise(&acts, now, s, AlarmFlapGuard, fmt.Sprintf("%d automatic switches of %s within %s: automatic switching latched until acknowledged (wanted %s to %s)",
			len(recent), s.main, p.cfg.FlapWindow, trigger, p.who(to)))
		return acts
	}
	return p.startSwitch(now, s, to, trigger, true)
}

func (p *Pool) startSwitch(now time.Time, s *slot, to string, trigger Trigger, automatic bool) []Action {
	p.epoch++
	s.pending.epoch, s.pending.from = p.epoch, s.state
	s.pending.to, s.pending.trigger, s.pending.automatic = to, trigger, automatic
	s.pending.deadline = now.Add(p.cfg.SwitchTimeout)
	next := SwitchingToBackup
	if to == s.main {
		next = SwitchingToMain
	}
	detail := ""
	if trigger != TriggerOperator && trigger != TriggerFailback {
		detail = describe(p.cond[s.onAir])
	}
	xs, stay := p.crosspoints(s.main, to)
	acts := []Action{p.become(s, next, trigger, detail, 0)}
	if len(stay) > 0 {
		acts = append(acts, Note{Main: s.main, Message: fmt.Sprintf("partial coverage: %s's outputs %s stay on %s (%s lacks their roles)",
			s.main, ports(stay), s.main, to)})
	}
	return append(acts, Route{Epoch: p.epoch, Term: p.term, Main: s.main, From: s.onAir, To: to, Trigger: trigger, Crosspoints: xs, Stay: stay,
		Force: p.cfg.ForceUnlock})
}

// crosspoints is the routing that puts machine to on air for main: each role's outputs get to's
// input of that role when to covers the role, else the main's own input (those are listed in stay).
func (p *Pool) crosspoints(main, to string) (xs []Crosspoint, stay []conf.Port) {
	tm := p.machine(to)
	for _, f := range p.machine(main).Feeds {
		in := f.Input
		if to != main {
			if b, ok := p.covers(tm, f.Role); ok {
				in = b.Input
			} else {
				stay = append(stay, f.Outputs...)
			}
		}
		for _, o := range f.Outputs {
			xs = append(xs, Crosspoint{Output: o, Input: in})
		}
	}
	return xs, stay
}

// covers returns backup b's feed of role when the pool moves that role and b has it.
func (p *Pool) covers(b Machine, role string) (Feed, bool) {
	if len(p.cfg.Roles) > 0 && !slices.Contains(p.cfg.Roles, role) {
		return Feed{}, false
	}
	for _, f := range b.Feeds {
		if f.Role == role {
			return f, true
		}
	}
	return Feed{}, false
}

func (p *Pool) coversAny(main, b string) bool {
	bm := p.machine(b)
	for _, f := range p.machine(main).Feeds {
		if _, ok := p.covers(bm, f.Role); ok {
			return true
		}
	}
	return false
}

// Wake is the next time at which a Tick could change something (a switch timing out, automatic
// switching allowed again after a failed switch, an automatic failback coming due); zero when only
// events can. Shells arm one timer for it instead of ticking. A switch whose deadline has passed
// without a Tick gives that deadline, so a Wake at or before now means: tick at once.
func (p *Pool) Wake(now time.Time) time.Time {
	var w time.Time
	consider := func(t time.Time, overdueToo bool) {
		if (overdueToo || t.After(now)) && !t.IsZero() && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	for _, s := range p.slots {
		switch {
		case s.switching():
			consider(s.pending.deadline, true) // a Tick at or after it always ends the switch
		case s.state == Unarmed || !p.cfg.Automatic:
		default:
			consider(s.retryAt, false)
			if at, ok := p.failbackAt(s); ok {
				consider(at, false)
			}
		}
	}
	return w
}

func (s *slot) switching() bool { return s.state == SwitchingToBackup || s.state == SwitchingToMain }

func (s *slot) stableOn(onAir string) State {
	if onAir == s.main {
		return OnMain
	}
	return OnBackup
}

func (p *Pool) become(s *slot, st State, trigger Trigger, detail string, latency time.Duration) Action {
	t := Transition{Main: s.main, From: s.state, To: st, Trigger: trigger, Detail: detail, Latency: latency, Machine: s.onAir}
	if st == SwitchingToBackup || st == SwitchingToMain {
		t.Machine = s.pending.to
	}
	s.state = st
	return t
}

func (p *Pool) raise(acts *[]Action, now time.Time, s *slot, k AlarmKind, msg string) {
	if a := s.alarms[k]; a != nil && a.Active {
		return
	}
	s.alarms[k] = &Alarm{Kind: k, Message: msg, Since: now, Active: true}
	*acts = append(*acts, AlarmRaised{Main: s.main, Kind: k, Message: msg})
}

func (p *Pool) clear(acts *[]Action, s *slot, k AlarmKind) {
	a := s.alarms[k]
	if a == nil || !a.Active {
		return
	}
	a.Active = false
	if a.Acked {
		delete(s.alarms, k)
	}
	*acts = append(*acts, AlarmCleared{Main: s.main, Kind: k})
}

// slot returns main's slot; an empty name means the only one of a one-main pool.
func (p *Pool) slot(main string) *slot {
	if main == "" && len(p.slots) == 1 {
		return p.slots[0]
	}
	for _, s := range p.slots {
		if s.main == main {
			return s
		}
	}
	return nil
}

func (p *Pool) machine(name string) Machine {
	for _, m := range p.cfg.Mains {
		if m.Name == name {
			return m
		}
	}
	for _, m := range p.cfg.Backups {
		if m.Name == name {
			return m
		}
	}
	return Machine{Name: name}
}

func (p *Pool) isMain(name string) bool {
	return slices.ContainsFunc(p.cfg.Mains, func(m Machine) bool { return m.Name == name })
}

func (p *Pool) member(name string) bool {
	return p.isMain(name) || slices.ContainsFunc(p.cfg.Backups, func(m Machine) bool { return m.Name == name })
}

func (p *Pool) backupNames() []string {
	names := make([]string, len(p.cfg.Backups))
	for i, b := range p.cfg.Backups {
		names[i] = b.Name
	}
	return names
}

// who names a machine with its role in the pool: main "render-1", backup "spare-1".
func (p *Pool) who(name string) string {
	if p.isMain(name) {
		return fmt.Sprintf("main %q", name)
	}
	return fmt.Sprintf("backup %q", name)
}

func ports(ps []conf.Port) string {
	s := make([]string, len(ps))
	for i, x := range ps {
		s[i] = x.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func describe(c Condition) string {
	switch {
	case !c.Known:
		return "not reporting"
	case c.Failure != TriggerNone:
		if c.Detail != "" {
			return "down: " + c.Detail
		}
		return "down: " + string(c.Failure)
	case c.Level == Critical:
		return "critical: " + c.Detail
	}
	return "healthy"
}
