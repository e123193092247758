package failover

import (
	"fmt"
	"time"

	"standby/conf"
)

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

// State is where one main's slot is in its failover cycle.
type State int

// Slot states. "Backup" is whichever backup of the pool covers the main.
const (
	// Unarmed: the machine on air (the main, unless the router shows a backup) has not been seen
	// healthy yet; nothing switches automatically.
	Unarmed State = iota
	// OnMain: the main is on air.
	OnMain
	// SwitchingToBackup: a route to a backup was requested and awaits the router's answer.
	SwitchingToBackup
	// OnBackup: a backup is on air for the main.
	OnBackup
	// SwitchingToMain: a route back to the main was requested and awaits the router's answer.
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

// AlarmKind names an alarm. A main's slot has at most one alarm of each kind.
type AlarmKind string

// Alarms.
const (
	AlarmOnAirFailed     AlarmKind = "on_air_failed"     // manual mode: the machine on air (main or backup) failed; an operator must switch
	AlarmNoHealthyBackup AlarmKind = "no_healthy_backup" // no machine to switch to is healthy
	AlarmNoBackupFree    AlarmKind = "no_backup_free"    // the healthy backups all cover other mains; the main waits for one
	AlarmSwitchFailed    AlarmKind = "switch_failed"     // the router refused or did not confirm a switch
	AlarmFlapGuard       AlarmKind = "flap_guard"        // too many automatic switches; automatic switching latched off
	AlarmLockedOutput    AlarmKind = "locked_output"     // an output of the main is locked by another router client
	AlarmRouterMismatch  AlarmKind = "router_mismatch"   // the main's outputs do not all show one machine of the pool
	AlarmMappingInvalid  AlarmKind = "mapping_invalid"   // the router lacks a port or label the main or its backups use
)

// ParseAlarmKind reads an alarm kind an operator typed or a store kept, accepting main_failed,
// the name on_air_failed had before it also covered a failed backup on air.
func ParseAlarmKind(s string) AlarmKind {
	if s == "main_failed" {
		return AlarmOnAirFailed
	}
	return AlarmKind(s)
}

// Alarm is shown until it is acknowledged; it may clear (Active false) before that.
type Alarm struct {
	Kind    AlarmKind
	Message string
	Since   time.Time
	Active  bool
	Acked   bool
}

// Crosspoint routes Input to Output; ports are as the config writes them.
type Crosspoint struct {
	Output conf.Port
	Input  conf.Port
}

// Action is an output of Step for the shell to carry out.
type Action interface{ isAction() }

// Route asks the shell to apply Crosspoints (one router request) and report back a RouteResult
// carrying Epoch. It puts machine To on air for Main, replacing From.
type Route struct {
	Epoch uint64
	// Term is the supervisor pair's term the route is made under (logged with it).
	Term     uint64
	Main     string
	From, To string
	Trigger  Trigger
	// Crosspoints are every output of the main with the input it gets; outputs of roles To does
	// not cover get the main's own input (they stay on the main).
	Crosspoints []Crosspoint
	// Stay lists the main's outputs that stay on the main because To lacks their role.
	Stay []conf.Port
	// Force allows one force-unlock of outputs locked by other router clients.
	Force bool
}

// Transition records a slot's state change; the shell logs one line for each.
type Transition struct {
	Main     string
	From, To State
	// Machine is on air after the transition (the target while switching).
	Machine string
	Trigger Trigger
	Detail  string
	// Latency is the router's measured switch time on a confirmed switch.
	Latency time.Duration
}

// AlarmRaised reports a new alarm of a main's slot.
type AlarmRaised struct {
	Main    string
	Kind    AlarmKind
	Message string
}

// AlarmCleared reports that an alarm's cause went away (it stays shown until acknowledged).
type AlarmCleared struct {
	Main string
	Kind AlarmKind
}

// Note is an informational event for the log that changes no state (e.g. a stale result ignored).
// Main is empty when it concerns the whole pool.
type Note struct {
	Main    string
	Message string
}

func (Route) isAction()        {}
func (Transition) isAction()   {}
func (AlarmRaised) isAction()  {}
func (AlarmCleared) isAction() {}
func (Note) isAction()         {}

// Event is an input of Step.
type Event interface{ isEvent() }

// MachineChanged reports a machine's new condition.
type MachineChanged struct {
	Machine   string
	Condition Condition
}

// Tick lets time-based rules (failback hold, switch deadline, retry spacing) fire.
type Tick struct{}

// Switch is an operator's Switch or "Move To": put To on air for Main. Main may be empty in a
// pool of one main. To is a machine of the pool, or empty for "the other one": any free backup
// when the main is on air, the main when a backup is.
type Switch struct {
	Main string
	To   string
	By   string
}

// SetRole tells the pool whether its supervisor is the active one, under which term (it increases
// with every takeover; a lower one than the pool's is ignored). A standby pool follows the router
// and its machines and never routes.
type SetRole struct {
	Active bool
	Term   uint64
}

// Adopt is the active supervisor's view of the pool, sent over the sync link to the standby one,
// which takes it so that a takeover continues where the other left off (automatic failback of a
// failover it did not see itself, a latched flap guard, the operators' mode and failback).
type Adopt struct {
	Automatic, AutoFailback bool
	Slots                   []AdoptSlot
}

// Resume is what this supervisor persisted of the pool before it restarted (its state
// document): per main, the machine that was on air, whether that was a failover and whether the
// flap guard latched. Each main takes its entry when the router first shows it, and only if the
// router shows the same machine on air; a restart alone then switches nothing and loses nothing
// (a failed-over main still fails back automatically).
type Resume struct{ Slots []AdoptSlot }

// AdoptSlot is one main's durable state in Adopt and Resume.
type AdoptSlot struct {
	Main, OnAir         string
	FailedOver, Latched bool
	// Alarms of the main as the writer had them, acknowledgements included.
	Alarms []Alarm
}

// SetQuorum tells the pool whether its supervisor hears enough of the studio's agents to believe
// a machine's silence. Without quorum (a supervisor of a pair whose agents all fell silent at once:
// it is probably the one cut off) a silence switches nothing; other failures still do.
type SetQuorum struct{ OK bool }

// SetMode switches the pool between automatic and manual failover.
type SetMode struct {
	Automatic bool
	By        string
}

// SetFailback switches the pool between automatic and manual failback.
type SetFailback struct {
	Automatic bool
	By        string
}

// Acknowledge acknowledges an alarm of Main (every main that has it, when Main is empty);
// acknowledging the flap guard re-arms automatic switching.
type Acknowledge struct {
	Main string
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

// LockedOutput is an output of the pool that another router client has locked.
type LockedOutput struct {
	Output conf.Port
	// Name is how a person reads it ("1 (CAM 1)").
	Name string
}

// OutputsLocked reports every output of the pool that other router clients hold locked now
// (an empty list: none).
type OutputsLocked struct{ Outputs []LockedOutput }

// RouterLacks reports every port of the pool's config that the router as it is does not have
// (a number beyond its size, a label it does not carry); empty when every port resolves.
type RouterLacks struct{ Ports []LackedPort }

// LackedPort is one port the router lacks, with the reason in words ("input 99: the router has
// 12 inputs (1..12)").
type LackedPort struct {
	Port   conf.Port
	Input  bool
	Reason string
}

// RouterReady reports that the pool's router is connected and ready (again): a switch that
// failed while it was away is retried at once instead of after RetryAfter.
type RouterReady struct{}

// Shown is what the router shows on one output of the pool.
type Shown struct {
	Output conf.Port
	// Input is the input routed to Output, spelled as the pool's config spells it when it is a
	// pool machine's input (else its 1-based number); zero when nothing is routed.
	Input conf.Port
	// Text is how a person reads it ("output 1 ← input 2 (render-1b)").
	Text string
}

// RouterShows reports what the router shows on the pool's outputs, from its own state (at connect
// and on every routing change). Outputs missing from the list are not known (a label the router
// does not carry): the mains they belong to are left as they are.
type RouterShows struct{ Outputs []Shown }

func (RouterReady) isEvent()    {}
func (RouterShows) isEvent()    {}
func (SetRole) isEvent()        {}
func (SetQuorum) isEvent()      {}
func (Adopt) isEvent()          {}
func (Resume) isEvent()         {}
func (MachineChanged) isEvent() {}
func (Tick) isEvent()           {}
func (Switch) isEvent()         {}
func (SetMode) isEvent()        {}
func (SetFailback) isEvent()    {}
func (Acknowledge) isEvent()    {}
func (RouteResult) isEvent()    {}
func (OutputsLocked) isEvent()  {}
func (RouterLacks) isEvent()    {}
