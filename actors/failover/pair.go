// Package failover is Standby's failover decision: a pure state machine per pair.
//
// A Pair takes events (machine conditions, operator commands, router results, ticks) together
// with the current time and returns actions (route, transition, alarm). It has no goroutines,
// no I/O and no clock of its own, so its scenario tests run as scripts and every decision is
// reproducible. The actor shell in package actors feeds it and carries out its actions.
//
// A pair is the smallest backup pool: sides are indices, Main first, so pools can grow the
// list of backups without changing how events and actions flow.
package failover

import (
	"errors"
	"fmt"
	"time"
)

// Errors returned for operator commands the pair refuses. Nothing changes when they are returned.
var (
	// ErrTargetDown: the machine to switch to is down.
	ErrTargetDown = errors.New("target machine is down")
	// ErrSwitchPending: another switch awaits the router's answer.
	ErrSwitchPending = errors.New("a switch is already in progress")
	// ErrAlreadyOnAir: the machine to switch to already carries the feed.
	ErrAlreadyOnAir = errors.New("already on air")
	// ErrNoAlarm: there is no such alarm to acknowledge.
	ErrNoAlarm = errors.New("no such alarm")
)

// Config is the per-pair policy.
type Config struct {
	// Machines names each side's machine, indexed by Side.
	Machines [2]string
	// Automatic switches on failure; otherwise a failure raises an alarm only.
	Automatic bool
	// SwitchOnCritical also treats a Critical health level of the on-air machine as a failure.
	SwitchOnCritical bool
	// AutoFailback returns to the main after FailbackAfter of continuous health, when the
	// backup went on air because of a failure (never after an operator's choice).
	AutoFailback  bool
	FailbackAfter time.Duration
	// FlapMax automatic switches within FlapWindow latch automatic switching off.
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

// Pair is the failover state machine of one pair. The zero value is not usable: use New.
type Pair struct {
	cfg   Config
	state State
	cond  [2]Condition
	epoch uint64

	// pending is the switch awaiting a RouteResult (valid in Switching* states).
	pending struct {
		from      State
		to        Side
		trigger   Trigger
		automatic bool
		deadline  time.Time
	}
	// failedOver is true when the backup is on air because of a failure, not an operator.
	failedOver bool
	// mainHealthySince is when the main last became usable; zero while it is not.
	mainHealthySince time.Time
	// retryAt holds back automatic switches after a failed one.
	retryAt time.Time
	// autoSwitches are the times of recent automatic switches, for the flap guard.
	autoSwitches []time.Time
	latched      bool
	alarms       map[AlarmKind]*Alarm
	// unarmedOnAir is the side on air before the pair is armed: the main until the router shows
	// otherwise (a supervisor restarted while the backup was on air arms on the backup).
	unarmedOnAir Side
}

// New returns a pair in the Unarmed state with the main assumed on air until the router shows
// otherwise (RouterShows).
func New(cfg Config) *Pair {
	if cfg.FlapMax < 1 {
		cfg.FlapMax = 3
	}
	if cfg.FlapWindow <= 0 {
		cfg.FlapWindow = time.Minute
	}
	if cfg.SwitchTimeout <= 0 {
		cfg.SwitchTimeout = 2 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	return &Pair{cfg: cfg, alarms: map[AlarmKind]*Alarm{}}
}

// Status is a read-only view of a pair for UIs and logs.
type Status struct {
	State      State
	OnAir      Side
	Conditions [2]Condition
	Automatic  bool
	Failback   bool
	Latched    bool
	Epoch      uint64
	Alarms     []Alarm
}

// Status returns the pair's current view. Alarms are in a fixed kind order.
func (p *Pair) Status() Status {
	s := Status{State: p.state, OnAir: p.OnAir(), Conditions: p.cond, Automatic: p.cfg.Automatic,
		Failback: p.cfg.AutoFailback, Latched: p.latched, Epoch: p.epoch}
	for _, k := range alarmOrder {
		if a := p.alarms[k]; a != nil {
			s.Alarms = append(s.Alarms, *a)
		}
	}
	return s
}

var alarmOrder = []AlarmKind{AlarmMainFailed, AlarmNoHealthyBackup, AlarmSwitchFailed, AlarmFlapGuard, AlarmLockedOutput, AlarmRouterMismatch}

// OnAir is the side whose feed the router carries (the previous side while a switch is pending).
func (p *Pair) OnAir() Side {
	switch p.state {
	case OnBackup, SwitchingToMain:
		return Backup
	case Unarmed:
		return p.unarmedOnAir
	}
	return Main
}

// Clone returns an independent copy; actor shells keep one to restart from after a panic.
func (p *Pair) Clone() *Pair {
	c := *p
	c.autoSwitches = append([]time.Time(nil), p.autoSwitches...)
	c.alarms = make(map[AlarmKind]*Alarm, len(p.alarms))
	for k, a := range p.alarms {
		cp := *a
		c.alarms[k] = &cp
	}
	return &c
}

// Reconfigure applies a new policy (config reload) keeping state. Machines must not change.
func (p *Pair) Reconfigure(now time.Time, cfg Config) []Action {
	old := p.Clone()
	*p = *New(cfg)
	p.state, p.cond, p.epoch, p.pending = old.state, old.cond, old.epoch, old.pending
	p.failedOver, p.mainHealthySince, p.retryAt = old.failedOver, old.mainHealthySince, old.retryAt
	p.autoSwitches, p.latched, p.alarms = old.autoSwitches, old.latched, old.alarms
	return p.evaluate(now, nil)
}

// Step applies one event at time now and returns the actions to carry out. A refused operator
// command returns an error and changes nothing.
func (p *Pair) Step(now time.Time, ev Event) ([]Action, error) {
	var acts []Action
	switch e := ev.(type) {
	case MachineChanged:
		acts = p.stepMachine(now, e)
	case Tick:
		acts = p.tickSwitch(now)
	case RouterReady:
		p.retryAt = time.Time{}
	case RouterShows:
		acts = p.stepShows(now, e)
	case RouteResult:
		acts = p.stepResult(now, e)
	case Switch:
		return p.stepSwitch(now, e)
	case SetMode:
		p.cfg.Automatic = e.Automatic
		if !e.Automatic {
			p.clearAlarm(&acts, AlarmNoHealthyBackup)
		}
	case SetFailback:
		p.cfg.AutoFailback = e.Automatic
	case Acknowledge:
		a := p.alarms[e.Kind]
		if a == nil {
			return nil, fmt.Errorf("%w: %s", ErrNoAlarm, e.Kind)
		}
		a.Acked = true
		if !a.Active {
			delete(p.alarms, e.Kind)
		}
		if e.Kind == AlarmFlapGuard && p.latched {
			p.latched, p.autoSwitches = false, nil
			p.clearAlarm(&acts, AlarmFlapGuard)
			delete(p.alarms, AlarmFlapGuard)
			acts = append(acts, Note{Message: "flap guard reset by " + e.By + "; automatic switching re-armed"})
		}
	case OutputsLocked:
		if e.Locked {
			p.raiseAlarm(&acts, now, AlarmLockedOutput, e.Detail)
		} else {
			p.clearAlarm(&acts, AlarmLockedOutput)
		}
	default:
		panic(fmt.Sprintf("failover: unknown event %T", ev))
	}
	return p.evaluate(now, acts), nil
}

func (p *Pair) stepMachine(now time.Time, e MachineChanged) []Action {
	wasUsable := p.cond[Main].usable()
	p.cond[e.Side] = e.Condition
	if e.Side == Main {
		switch u := p.cond[Main].usable(); {
		case u && !wasUsable:
			p.mainHealthySince = now
		case !u:
			p.mainHealthySince = time.Time{}
		}
	}
	var acts []Action
	if onAir := p.unarmedOnAir; p.state == Unarmed && !p.cond[onAir].down() {
		detail := "main seen healthy: armed"
		if onAir == Backup {
			detail = "backup seen healthy: armed with the backup on air, as the router shows"
		}
		acts = append(acts, p.become(stable(onAir), TriggerNone, detail, 0))
	}
	return acts
}

// stepShows follows what the router shows: the truth about what is on air is the router's, so a
// supervisor restarted after a failover, or a panel that moved the outputs, is believed, not
// overruled. A switch of ours in flight decides by its own result instead.
func (p *Pair) stepShows(now time.Time, e RouterShows) []Action {
	var acts []Action
	if p.switching() {
		return nil // a multi-output switch may show half done; its result is what counts
	}
	if !e.Known {
		p.raiseAlarm(&acts, now, AlarmRouterMismatch, "the router shows neither machine on all of the pair's outputs: "+e.Detail)
		return acts
	}
	p.clearAlarm(&acts, AlarmRouterMismatch)
	switch {
	case e.Side == p.OnAir():
	case p.state == Unarmed:
		p.unarmedOnAir = e.Side
		acts = append(acts, Note{Message: fmt.Sprintf("router shows %s %q on air", e.Side, p.cfg.Machines[e.Side])})
	case p.alarms[AlarmSwitchFailed] != nil && p.alarms[AlarmSwitchFailed].Active && e.Side == p.pending.to:
		// Our switch that was not confirmed in time reached the router after all.
		p.clearAlarm(&acts, AlarmSwitchFailed)
		p.failedOver = e.Side == Backup && p.pending.trigger != TriggerOperator
		acts = append(acts, p.become(stable(e.Side), p.pending.trigger,
			fmt.Sprintf("router shows %s %q on air: the switch that was not confirmed took effect late", e.Side, p.cfg.Machines[e.Side]), 0))
	default:
		p.failedOver = false // not ours: no automatic failback from it
		acts = append(acts, p.become(stable(e.Side), TriggerRouter,
			fmt.Sprintf("router shows %s %q on air: outputs moved outside Standby", e.Side, p.cfg.Machines[e.Side]), 0))
	}
	return acts
}

// tickSwitch fails a switch whose result never came.
func (p *Pair) tickSwitch(now time.Time) []Action {
	if !p.switching() || now.Before(p.pending.deadline) {
		return nil
	}
	return p.stepResult(now, RouteResult{Epoch: p.epoch, OK: false, Reason: "no answer from the router actor"})
}

func (p *Pair) stepResult(now time.Time, r RouteResult) []Action {
	if !p.switching() || r.Epoch != p.epoch {
		return []Action{Note{Message: fmt.Sprintf("ignored stale router result (epoch %d, current %d)", r.Epoch, p.epoch)}}
	}
	var acts []Action
	to := p.pending.to
	if !r.OK {
		p.retryAt = now.Add(p.cfg.RetryAfter)
		p.raiseAlarm(&acts, now, AlarmSwitchFailed, fmt.Sprintf("switch to %s %q failed: %s", to, p.cfg.Machines[to], r.Reason))
		return append(acts, p.become(p.pending.from, p.pending.trigger, "switch failed: "+r.Reason, 0))
	}
	if p.pending.automatic {
		p.autoSwitches = append(p.autoSwitches, now)
	}
	p.failedOver = to == Backup && p.pending.trigger != TriggerOperator
	p.clearAlarm(&acts, AlarmSwitchFailed)
	return append(acts, p.become(stable(to), p.pending.trigger, "confirmed by router", r.Latency))
}

func (p *Pair) stepSwitch(now time.Time, e Switch) ([]Action, error) {
	if p.switching() {
		return nil, ErrSwitchPending
	}
	if e.To == p.OnAir() {
		return nil, fmt.Errorf("%w: %s %q", ErrAlreadyOnAir, e.To, p.cfg.Machines[e.To])
	}
	if c := p.cond[e.To]; c.down() {
		return nil, fmt.Errorf("%w: %s %q is %s", ErrTargetDown, e.To, p.cfg.Machines[e.To], describe(c))
	}
	acts := []Action{Note{Message: fmt.Sprintf("operator %s switches to %s", e.By, e.To)}}
	acts = append(acts, p.startSwitch(now, e.To, TriggerOperator, false)...)
	return p.evaluate(now, acts), nil
}

// evaluate applies the automatic rules after any event.
func (p *Pair) evaluate(now time.Time, acts []Action) []Action {
	if p.state == Unarmed || p.switching() {
		return acts
	}
	onAir := p.OnAir()
	standby := onAir.Other()
	failing, trigger := p.failing(onAir)

	// Alarms that follow conditions.
	if failing && !p.cfg.Automatic {
		p.raiseAlarm(&acts, now, AlarmMainFailed, fmt.Sprintf("%s %q on air has failed (%s): switch manually", onAir, p.cfg.Machines[onAir], describe(p.cond[onAir])))
	} else {
		p.clearAlarm(&acts, AlarmMainFailed)
	}
	if failing && p.cfg.Automatic && !p.cond[standby].usable() {
		p.raiseAlarm(&acts, now, AlarmNoHealthyBackup, fmt.Sprintf("%s %q on air has failed (%s) and %s %q cannot take over: %s",
			onAir, p.cfg.Machines[onAir], describe(p.cond[onAir]), standby, p.cfg.Machines[standby], describe(p.cond[standby])))
	} else {
		p.clearAlarm(&acts, AlarmNoHealthyBackup)
	}

	if !p.cfg.Automatic || now.Before(p.retryAt) {
		return acts
	}
	switch {
	case failing && p.cond[standby].usable():
		return append(acts, p.autoSwitch(now, standby, trigger)...)
	case onAir == Backup && p.failedOver && p.cfg.AutoFailback && p.cond[Main].usable() &&
		!p.mainHealthySince.IsZero() && now.Sub(p.mainHealthySince) >= p.cfg.FailbackAfter:
		return append(acts, p.autoSwitch(now, Main, TriggerFailback)...)
	}
	return acts
}

// failing reports whether the on-air side must be replaced, and why.
func (p *Pair) failing(s Side) (bool, Trigger) {
	c := p.cond[s]
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

// autoSwitch starts an automatic switch unless the flap guard is latched or latches now.
func (p *Pair) autoSwitch(now time.Time, to Side, trigger Trigger) []Action {
	if p.latched {
		return nil
	}
	recent := p.autoSwitches[:0]
	for _, t := range p.autoSwitches {
		if now.Sub(t) < p.cfg.FlapWindow {
			recent = append(recent, t)
		}
	}
	p.autoSwitches = recent
	if len(recent) >= p.cfg.FlapMax {
		p.latched = true
		var acts []Action
		p.raiseAlarm(&acts, now, AlarmFlapGuard, fmt.Sprintf("%d automatic switches within %s: automatic switching latched until acknowledged (wanted %s to %s)",
			len(recent), p.cfg.FlapWindow, trigger, to))
		return acts
	}
	return p.startSwitch(now, to, trigger, true)
}

func (p *Pair) startSwitch(now time.Time, to Side, trigger Trigger, automatic bool) []Action {
	p.epoch++
	p.pending.from = p.state
	p.pending.to, p.pending.trigger, p.pending.automatic = to, trigger, automatic
	p.pending.deadline = now.Add(p.cfg.SwitchTimeout)
	next := SwitchingToBackup
	if to == Main {
		next = SwitchingToMain
	}
	detail := ""
	if trigger != TriggerOperator && trigger != TriggerFailback {
		detail = describe(p.cond[to.Other()])
	}
	return []Action{
		p.become(next, trigger, detail, 0),
		Route{Epoch: p.epoch, To: to, Machine: p.cfg.Machines[to], Trigger: trigger, Force: p.cfg.ForceUnlock},
	}
}

// Wake is the next time at which a Tick could change something (a switch timing out, automatic
// switching allowed again after a failed switch, an automatic failback coming due); zero when only
// events can. Shells arm one timer for it instead of ticking. A switch whose deadline has passed
// without a Tick gives that deadline, so a Wake at or before now means: tick at once.
func (p *Pair) Wake(now time.Time) time.Time {
	if p.switching() {
		return p.pending.deadline // a Tick at or after it always ends the switch
	}
	var w time.Time
	consider := func(t time.Time) {
		if t.After(now) && (w.IsZero() || t.Before(w)) {
			w = t
		}
	}
	if p.state == Unarmed || !p.cfg.Automatic {
		return w
	}
	consider(p.retryAt)
	if p.OnAir() == Backup && p.failedOver && p.cfg.AutoFailback && !p.mainHealthySince.IsZero() {
		consider(p.mainHealthySince.Add(p.cfg.FailbackAfter))
	}
	return w
}

func (p *Pair) switching() bool { return p.state == SwitchingToBackup || p.state == SwitchingToMain }

func (p *Pair) become(s State, trigger Trigger, detail string, latency time.Duration) Action {
	t := Transition{From: p.state, To: s, Trigger: trigger, Detail: detail, Latency: latency}
	p.state = s
	return t
}

func (p *Pair) raiseAlarm(acts *[]Action, now time.Time, k AlarmKind, msg string) {
	if a := p.alarms[k]; a != nil && a.Active {
		return
	}
	p.alarms[k] = &Alarm{Kind: k, Message: msg, Since: now, Active: true}
	*acts = append(*acts, AlarmRaised{Kind: k, Message: msg})
}

func (p *Pair) clearAlarm(acts *[]Action, k AlarmKind) {
	a := p.alarms[k]
	if a == nil || !a.Active {
		return
	}
	a.Active = false
	if a.Acked {
		delete(p.alarms, k)
	}
	*acts = append(*acts, AlarmCleared{Kind: k})
}

func stable(s Side) State {
	if s == Main {
		return OnMain
	}
	return OnBackup
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
