package action

import (
	"fmt"
	"strconv"
	"time"

	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/pool"
	"standby/conf"
)

// Event is what an action's templates see ({{.Pair}}); its fields are exactly conf.ActionFields.
type Event struct {
	// Event is the event's name as the action's on lists it (failover, alarm, ...; test for a Test).
	Event string
	// Pair is the pair or pool the event concerns; empty for takeover and standby.
	Pair string
	// Main is the main of the pair (in a pool: the main whose feeds moved or whose alarm it is).
	Main string
	// Machine is the machine on air after a switch, the machine of a machine event, else the main.
	Machine string
	// From and To are the machines before and after a switch (To is the target of a failed one).
	From, To string
	// Trigger is why: engine, videoio, network, service, critical, operator, failback, router.
	Trigger string
	// Detail says what happened in words.
	Detail string
	// Alarm is the alarm kind of alarm and alarm_cleared.
	Alarm string
	// Time is when it happened.
	Time time.Time
	// SwitchMs is the router's measured switch time of a confirmed switch, in milliseconds.
	SwitchMs float64
	// Supervisor is this supervisor's [supervisor] name.
	Supervisor string
}

// Fields are the event's fields as strings, by name (for STANDBY_* variables and agent commands).
func (e Event) Fields() map[string]string {
	return map[string]string{
		"Event": e.Event, "Pair": e.Pair, "Main": e.Main, "Machine": e.Machine, "From": e.From, "To": e.To,
		"Trigger": e.Trigger, "Detail": e.Detail, "Alarm": e.Alarm, "Time": e.Time.UTC().Format(time.RFC3339Nano),
		"SwitchMs": strconv.FormatFloat(e.SwitchMs, 'f', -1, 64), "Supervisor": e.Supervisor,
	}
}

// Environ is the event as STANDBY_EVENT=..., STANDBY_SWITCH_MS=..., sorted by conf.ActionFields.
func (e Event) Environ() []string {
	f := e.Fields()
	out := make([]string, 0, len(f))
	for _, k := range conf.ActionFields {
		out = append(out, EnvName(k)+"="+f[k])
	}
	return out
}

// EnvName is the environment variable of a field: SwitchMs → STANDBY_SWITCH_MS.
func EnvName(field string) string { return conf.ActionEnvName(field) }

// RoleChanged is published by the supervisor when it becomes the active one of its pair
// (takeover) or stops being it (standby).
type RoleChanged struct {
	Active bool
	Term   uint64
}

// occurrence is one thing that happened, with the names it goes by, most specific first (a
// failover is also a switch); an action runs once per occurrence, under the first name it lists.
type occurrence struct {
	names []string
	ev    Event
}

// translator turns the actor system's events into occurrences. It keeps what a single event does
// not say: the machine on air for each main (the From of the next switch), the target of a switch
// in flight, which machines are down, and which pool each machine belongs to.
type translator struct {
	supervisor string
	onAir      map[string]string // pool\x00main → machine on air
	target     map[string]string // pool\x00main → target of the switch in flight
	down       map[string]bool   // machine → failed
	poolOf     map[string]string // machine → its pair or pool
}

func newTranslator() *translator {
	return &translator{onAir: map[string]string{}, target: map[string]string{}, down: map[string]bool{}, poolOf: map[string]string{}}
}

// configure reads the supervisor's name and the machines' pools from cfg.
func (t *translator) configure(cfg *conf.Config) {
	t.supervisor = cfg.Supervisor.Name
	t.poolOf = map[string]string{}
	for _, p := range cfg.Pairs {
		t.poolOf[p.Main], t.poolOf[p.Backup] = p.Name, p.Name
	}
	for _, p := range cfg.Pools {
		for _, m := range append(append([]string(nil), p.Mains...), p.Backups...) {
			t.poolOf[m] = p.Name
		}
	}
}

// translate returns the occurrences of one event of the actor system (nil for those no action
// fires on).
func (t *translator) translate(evt any, now time.Time) []occurrence {
	base := Event{Supervisor: t.supervisor, Time: now}
	switch e := evt.(type) {
	case *pool.Event:
		base.Pair, base.Time = e.Pool, e.Time
		return t.poolAction(e.Pool, e.Action, base)
	case *machine.Changed:
		c := e.Condition
		base.Machine, base.Pair, base.Trigger, base.Detail = e.Machine, t.poolOf[e.Machine], string(c.Failure), c.Detail
		was := t.down[e.Machine]
		switch {
		case c.Failure != failover.TriggerNone && !was:
			t.down[e.Machine] = true
			return []occurrence{{names: []string{conf.EventMachineDown}, ev: base}}
		case c.Failure == failover.TriggerNone && c.Known && was:
			delete(t.down, e.Machine)
			return []occurrence{{names: []string{conf.EventMachineUp}, ev: base}}
		}
	case *machine.AlarmChanged:
		a := e.Alarm
		base.Machine, base.Pair, base.Alarm, base.Detail = e.Machine, t.poolOf[e.Machine], string(a.Kind), a.Message
		switch {
		case !a.Active:
			return []occurrence{{names: []string{conf.EventAlarmCleared}, ev: base}}
		case !a.Acked:
			return []occurrence{{names: []string{conf.EventAlarm}, ev: base}}
		}
	case *RoleChanged:
		base.Detail = fmt.Sprintf("term %d", e.Term)
		if e.Active {
			base.Detail = "this supervisor is active, " + base.Detail
			return []occurrence{{names: []string{conf.EventTakeover}, ev: base}}
		}
		base.Detail = "this supervisor is standby, " + base.Detail
		return []occurrence{{names: []string{conf.EventStandby}, ev: base}}
	}
	return nil
}

func (t *translator) poolAction(poolName string, act failover.Action, base Event) []occurrence {
	switch a := act.(type) {
	case failover.Transition:
		key := poolName + "\x00" + a.Main
		base.Main, base.Trigger, base.Detail = a.Main, string(a.Trigger), a.Detail
		from := t.onAir[key]
		if from == "" {
			from = a.Main
		}
		switch a.To {
		case failover.SwitchingToBackup, failover.SwitchingToMain:
			t.target[key] = a.Machine
			return nil
		case failover.OnMain, failover.OnBackup:
			t.onAir[key] = a.Machine
		}
		switching := a.From == failover.SwitchingToBackup || a.From == failover.SwitchingToMain
		if !switching {
			return nil // settled without a switch of Standby's (arming, the router moved by others)
		}
		target := t.target[key]
		delete(t.target, key)
		ok := (a.From == failover.SwitchingToBackup && a.To == failover.OnBackup || a.From == failover.SwitchingToMain && a.To == failover.OnMain) &&
			(target == "" || a.Machine == target)
		if !ok {
			if target == "" {
				target = a.Machine
			}
			base.Machine, base.From, base.To = a.Machine, from, target
			return []occurrence{{names: []string{conf.EventSwitchFailed}, ev: base}}
		}
		base.Machine, base.From, base.To = a.Machine, from, a.Machine
		base.SwitchMs = float64(a.Latency) / float64(time.Millisecond)
		kind := conf.EventFailover
		if a.To == failover.OnMain {
			kind = conf.EventFailback
		}
		return []occurrence{{names: []string{kind, conf.EventSwitch}, ev: base}}
	case failover.AlarmRaised:
		base.Main, base.Machine, base.Alarm, base.Detail = a.Main, t.machineOf(poolName, a.Main), string(a.Kind), a.Message
		return []occurrence{{names: []string{conf.EventAlarm}, ev: base}}
	case failover.AlarmCleared:
		base.Main, base.Machine, base.Alarm = a.Main, t.machineOf(poolName, a.Main), string(a.Kind)
		return []occurrence{{names: []string{conf.EventAlarmCleared}, ev: base}}
	}
	return nil
}

// machineOf is the machine on air for main (the main when not known).
func (t *translator) machineOf(poolName, main string) string {
	if m := t.onAir[poolName+"\x00"+main]; m != "" {
		return m
	}
	return main
}
