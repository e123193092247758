package failover

import (
	"fmt"
	"time"
)

// Side is a role within a pair.
type Side int

// The two sides of a pair. Backup pools will add more backups; Main stays index 0.
const (
	Main Side = iota
	Backup
)

func (s Side) String() string {
	switch s {
	case Main:
		return "main"
	case Backup:
		return "backup"
	}
	return fmt.Sprintf("Side(%d)", int(s))
}

// Other is the opposite side.
func (s Side) Other() Side { return 1 - s }

// Level is a health level.
type Level int

// Health levels, worst last.
const (
	Normal Level = iota
	Warning
	Critical
)

func (l Level) String() string {
	switch l {
	case Normal:
		return "normal"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("Level(%d)", int(l))
}

// Trigger names why a switch or alarm happened. Failure triggers are the machine failure kinds;
// the rest name operator and policy causes.
type Trigger string

// Triggers.
const (
	TriggerNone     Trigger = ""
	TriggerEngine   Trigger = "engine"   // the engine service is down or hung
	TriggerVideoIO  Trigger = "videoio"  // the video I/O service is down
	TriggerNetwork  Trigger = "network"  // the machine is silent past its heartbeat timeout
	TriggerService  Trigger = "service"  // another watched service is down
	TriggerCritical Trigger = "critical" // a health value is Critical
	TriggerOperator Trigger = "operator" // an operator pressed Switch
	TriggerFailback Trigger = "failback" // automatic return to the main
	TriggerRouter   Trigger = "router"   // the router shows the other machine on air (moved outside Standby)
)

// Condition is what the supervisor knows of one machine, as its machine actor reports it.
type Condition struct {
	// Known is false until the machine has reported at least once.
	Known bool
	// Failure is the kind of failure the machine has now; TriggerNone when it works.
	Failure Trigger
	// Level is the worst level of its health values.
	Level Level
	// Detail says what failed or is critical, for logs and alarms ("engine: process exited").
	Detail string
}

// down reports a machine that cannot carry the feed.
func (c Condition) down() bool { return !c.Known || c.Failure != TriggerNone }

// usable reports a machine that may be switched to automatically.
func (c Condition) usable() bool { return !c.down() && c.Level != Critical }

// State is where a pair is in its failover cycle.
type State int

// Pair states.
const (
	// Unarmed: the machine on air (the main, unless the router shows the backup) has not been seen
	// healthy yet; nothing switches automatically.
	Unarmed State = iota
	// OnMain: the main is on air.
	OnMain
	// SwitchingToBackup: a route to the backup was requested and awaits the router's answer.
	SwitchingToBackup
	// OnBackup: the backup is on air.
	OnBackup
	// SwitchingToMain: a route to the main was requested and awaits the router's answer.
	SwitchingToMain
)

func (s State) String() string {
	switch s {
	case Unarmed:
		return "unarmed"
	case OnMain:
		return "on-main"
	case SwitchingToBackup:
		return "switching-to-backup"
	case OnBackup:
		return "on-backup"
	case SwitchingToMain:
		return "switching-to-main"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// AlarmKind names an alarm. A pair has at most one alarm of each kind.
type AlarmKind string

// Alarms.
const (
	AlarmMainFailed      AlarmKind = "main_failed"       // manual mode: the on-air machine failed; an operator must switch
	AlarmNoHealthyBackup AlarmKind = "no_healthy_backup" // the machine to switch to is itself down or critical
	AlarmSwitchFailed    AlarmKind = "switch_failed"     // the router refused or did not confirm a switch
	AlarmFlapGuard       AlarmKind = "flap_guard"        // too many automatic switches; automatic switching latched off
	AlarmLockedOutput    AlarmKind = "locked_output"     // an output of the pair is locked by another router client
	AlarmRouterMismatch  AlarmKind = "router_mismatch"   // the pair's outputs do not all show one of its machines
)

// Alarm is shown until it is acknowledged; it may clear (Active false) before that.
type Alarm struct {
	Kind    AlarmKind
	Message string
	Since   time.Time
	Active  bool
	Acked   bool
}

// Action is an output of Step for the shell to carry out.
type Action interface{ isAction() }

// Route asks the shell to route the pair's feeds to Side's machine and report back a
// RouteResult carrying Epoch.
type Route struct {
	Epoch   uint64
	To      Side
	Machine string
	Trigger Trigger
	// Force allows one force-unlock of outputs locked by other router clients.
	Force bool
}

// Transition records a state change; the shell logs one line for each.
type Transition struct {
	From, To State
	Trigger  Trigger
	Detail   string
	// Latency is the router's measured switch time on a confirmed switch.
	Latency time.Duration
}

// AlarmRaised and AlarmCleared report alarm changes.
type AlarmRaised struct {
	Kind    AlarmKind
	Message string
}

// AlarmCleared reports that an alarm's cause went away (it stays shown until acknowledged).
type AlarmCleared struct{ Kind AlarmKind }

// Note is an informational event for the log that changes no state (e.g. a stale result ignored).
type Note struct{ Message string }

func (Route) isAction()        {}
func (Transition) isAction()   {}
func (AlarmRaised) isAction()  {}
func (AlarmCleared) isAction() {}
func (Note) isAction()         {}

// Event is an input of Step.
type Event interface{ isEvent() }

// MachineChanged reports a machine's new condition.
type MachineChanged struct {
	Side      Side
	Condition Condition
}

// Tick lets time-based rules (failback hold, switch deadline) fire.
type Tick struct{}

// Switch is an operator's Switch command.
type Switch struct {
	To Side
	By string
}

// SetMode switches between automatic and manual failover.
type SetMode struct {
	Automatic bool
	By        string
}

// SetFailback switches between automatic and manual failback.
type SetFailback struct {
	Automatic bool
	By        string
}

// Acknowledge acknowledges an alarm; acknowledging the flap guard re-arms automatic switching.
type Acknowledge struct {
	Kind AlarmKind
	By   string
}

// RouteResult is the router's answer to a Route action.
type RouteResult struct {
	Epoch   uint64
	OK      bool
	Reason  string
	Latency time.Duration
}

// OutputsLocked reports whether another router client holds locks on the pair's outputs.
type OutputsLocked struct {
	Locked bool
	Detail string
}

// RouterReady reports that the pair's router is connected and ready (again): a switch that
// failed while it was away is retried at once instead of after RetryAfter.
type RouterReady struct{}

// RouterShows reports what the router shows on the pair's outputs, from its own state (at connect
// and on every routing change): Known with Side when every output shows that machine's input;
// Known false, with Detail, when they disagree or show inputs of neither machine.
type RouterShows struct {
	Known  bool
	Side   Side
	Detail string
}

func (RouterReady) isEvent()    {}
func (RouterShows) isEvent()    {}
func (MachineChanged) isEvent() {}
func (Tick) isEvent()           {}
func (Switch) isEvent()         {}
func (SetMode) isEvent()        {}
func (SetFailback) isEvent()    {}
func (Acknowledge) isEvent()    {}
func (RouteResult) isEvent()    {}
func (OutputsLocked) isEvent()  {}
