package control

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/pool"
	"standby/actors/supervisor"
	"standby/conf"
	"standby/protocol/pb"
)

// Simulator changes simulated machines (simulated = true) as failures would. *supervisor.Supervisor
// implements it for the demo driver's machines. Methods are safe for concurrent use and answer
// within a few seconds.
type Simulator interface {
	SimulateService(machine, service string, up bool) error
	SimulateHealth(machine, health string, value float64) error
	SimulateSilence(machine string, silent bool) error
}

// Role is this supervisor's place in a supervisor pair.
type Role struct {
	// Name is "standalone" (no peer supervisor), "primary" or "secondary".
	Name string
	// BackupActive: the backup supervisor is the one in control.
	BackupActive bool
	// ReadOnly: changes are refused here (a secondary that is not in control).
	ReadOnly bool
	// Peer names the other supervisor, when paired.
	Peer string
	// NoEdits: a secondary acts for its primary; mapping and pool edits wait for the primary
	// (Pixotope: "No file changes can be pushed or pulled until the Main server is back").
	NoEdits bool
}

// pairedRole reads the role from the supervisor's sync link: the side that is not active is
// read-only (its engines route nothing anyway). A link that does not answer is read-only too.
func pairedRole(s *supervisor.Supervisor) func() Role {
	return func() Role {
		v, err := s.Redundancy()
		if err != nil || v == nil {
			return Role{Name: "secondary", ReadOnly: true, Peer: "the peer"}
		}
		name := "secondary"
		if v.Mode == conf.RedundancyPrimary {
			name = "primary"
		}
		return Role{Name: name, BackupActive: (name == "secondary") == v.Active, ReadOnly: !v.Active, Peer: v.Peer,
			NoEdits: name == "secondary" && v.Active}
	}
}

// Standalone is the role of a supervisor without a peer.
var Standalone = Role{Name: "standalone"}

// chip is the status chip text for a role.
func (r Role) chip() string {
	switch {
	case r.Name == "" || r.Name == Standalone.Name:
		return "No redundancy"
	case r.BackupActive:
		return "Backup is active"
	}
	return "Backup is idle"
}

// Service runs operations for both control surfaces. Safe for concurrent use.
type Service struct {
	sup   *supervisor.Supervisor
	sim   Simulator // nil: no simulation
	role  func() Role
	hub   *Hub
	log   zerolog.Logger
	clock clock.Clock

	editMu sync.Mutex // one mapping edit at a time, from read to reload

	reload  func(by string, force bool) (string, error) // Options.Reload
	version string                                      // Options.Version
	// startWarnings are found at start and shown in the status (a state_dir that cannot be written).
	startWarnings []string
	// pendingDetach (under editMu) is the pair the edit under way removes the backup of; once the
	// edit is applied it joins detached (under detachMu, which the status reads without waiting
	// for an edit): the pairs whose backup was removed, by name.
	pendingDetach *detachedPair
	detachMu      sync.Mutex
	detached      map[string]detachedPair
}

// Do authenticates req, checks the operator's level and runs the operation. via names the surface
// for logs ("remote", "http 10.0.0.5:51234"). Subscriptions are the caller's business: Do only
// checks them.
func (s *Service) Do(via string, req *pb.ControlRequest) *pb.ControlReply {
	op, ok := OpOf(req)
	if !ok {
		return refusal(pb.Code_CODE_BAD_REQUEST, "the request carries no operation")
	}
	if n := proto.Size(req); n > maxBody {
		return refusal(pb.Code_CODE_BAD_REQUEST, "request of %d bytes; at most %d", n, maxBody)
	}
	who, refused := s.Authorize(via, req.GetToken(), op)
	if refused != nil {
		return refused
	}
	return s.execute(via, who, req)
}

// Authorize checks that token belongs to an operator whose level allows op, and that this
// supervisor takes changes. It returns the operator, or the refusal to send.
func (s *Service) Authorize(via, token string, op Op) (conf.Operator, *pb.ControlReply) {
	who, ok := authenticate(s.sup.Config().Operators, token)
	var r *pb.ControlReply
	switch {
	case !ok && token == "":
		r = refusal(pb.Code_CODE_UNAUTHENTICATED, "no token: present an [[operator]] token")
	case !ok:
		r = refusal(pb.Code_CODE_UNAUTHENTICATED, "unknown token")
	case who.Level < Level(op):
		r = refusal(pb.Code_CODE_PERMISSION_DENIED, "permission denied: %s needs level %d (%s); operator %q has level %d (%s)",
			op, Level(op), levelName(Level(op)), who.Name, who.Level, levelName(who.Level))
	case op == OpMakePrimary || op == OpResync || op == OpReload:
		// Allowed on the standby side: that is what they are for (a reload reads this side's file).
	case Level(op) >= conf.LevelConfigure && s.role().NoEdits:
		r = refusal(pb.Code_CODE_READ_ONLY, "read-only for edits: this secondary acts for its primary; edit the mapping once the primary is back (switches, mode, failback and acknowledgements work)")
	case Level(op) > conf.LevelView && s.role().ReadOnly:
		peer := s.role().Peer
		if peer == "" {
			peer = "the primary"
		}
		r = refusal(pb.Code_CODE_READ_ONLY, "read-only: this supervisor is standby; %s is active, change it there", peer)
	}
	if r != nil {
		// Never the token itself.
		s.log.Info().Str("via", via).Str("op", string(op)).Str("operator", who.Name).Str("code", CodeName(r.Code)).
			Str("reason", r.Reason).Msg("control request refused")
		r.Operator, r.Level = who.Name, int32(who.Level)
		return who, r
	}
	return who, nil
}

// execute runs an authorized request.
func (s *Service) execute(via string, who conf.Operator, req *pb.ControlRequest) *pb.ControlReply {
	op, _ := OpOf(req)
	var r *pb.ControlReply
	var target string
	onMachine := op == OpSimulate // target names a machine rather than a pair or pool
	switch x := req.GetOp().(type) {
	case *pb.ControlRequest_Status:
		st, err := s.Status()
		if err != nil {
			r = refusal(pb.Code_CODE_INTERNAL, "status: %v", err)
			break
		}
		r = &pb.ControlReply{Ok: true, Status: st}
	case *pb.ControlRequest_Subscribe, *pb.ControlRequest_Unsubscribe:
		r = refusal(pb.Code_CODE_BAD_REQUEST, "subscriptions are kept by the remote control actor")
	case *pb.ControlRequest_Switch:
		target = x.Switch.GetPair()
		r = s.doSwitch(who, x.Switch)
	case *pb.ControlRequest_SetMode:
		target = x.SetMode.GetPair()
		r = s.doPolicy(who, target, "mode", x.SetMode.GetMode(), func(auto bool) failover.Event {
			return failover.SetMode{Automatic: auto, By: who.Name}
		})
	case *pb.ControlRequest_SetFailback:
		target = x.SetFailback.GetPair()
		r = s.doPolicy(who, target, "failback", x.SetFailback.GetFailback(), func(auto bool) failover.Event {
			return failover.SetFailback{Automatic: auto, By: who.Name}
		})
	case *pb.ControlRequest_Acknowledge:
		target = x.Acknowledge.GetPair()
		if target == "" && x.Acknowledge.GetMachine() != "" {
			target, onMachine = x.Acknowledge.GetMachine(), true
		}
		r = s.doAcknowledge(who, x.Acknowledge)
	case *pb.ControlRequest_Simulate:
		target = x.Simulate.GetMachine()
		r = s.doSimulate(x.Simulate)
	case *pb.ControlRequest_AddBackup:
		target = x.AddBackup.GetPair()
		r = s.editMapping(who.Name, x.AddBackup.GetPair(), func(c *conf.Config) *pb.ControlReply { return s.addBackup(c, x.AddBackup) })
	case *pb.ControlRequest_RemoveBackup:
		target = x.RemoveBackup.GetPair()
		r = s.editMapping(who.Name, x.RemoveBackup.GetPair(), func(c *conf.Config) *pb.ControlReply { return s.removeBackup(c, x.RemoveBackup) })
	case *pb.ControlRequest_SetFeeds:
		target = x.SetFeeds.GetPair()
		r = s.editMapping(who.Name, x.SetFeeds.GetPair(), func(c *conf.Config) *pb.ControlReply { return setFeeds(c, x.SetFeeds) })
	case *pb.ControlRequest_SetPool:
		target = x.SetPool.GetPool()
		r = s.editMapping(who.Name, x.SetPool.GetPool(), func(c *conf.Config) *pb.ControlReply { return setPool(c, x.SetPool) })
	case *pb.ControlRequest_MakePrimary:
		msg, err := s.sup.MakePrimary(who.Name)
		if err != nil {
			r = refusal(pb.Code_CODE_BAD_REQUEST, "make primary: %v", err)
		} else {
			r = &pb.ControlReply{Ok: true, Reason: msg}
		}
	case *pb.ControlRequest_Resync:
		msg, err := s.sup.Resync(who.Name)
		if err != nil {
			r = refusal(pb.Code_CODE_BAD_REQUEST, "resync: %v", err)
		} else {
			r = &pb.ControlReply{Ok: true, Reason: msg}
		}
	case *pb.ControlRequest_Reload:
		r = s.doReload(who, x.Reload.GetForce())
	case *pb.ControlRequest_TestAction:
		target = x.TestAction.GetAction()
		r = s.doTestAction(who, target)
	case *pb.ControlRequest_RemovePool:
		target = x.RemovePool.GetPool()
		r = s.editMapping(who.Name, x.RemovePool.GetPool(), func(c *conf.Config) *pb.ControlReply { return removePool(c, x.RemovePool) })
	default:
		r = refusal(pb.Code_CODE_BAD_REQUEST, "unknown operation")
	}
	r.Operator, r.Level = who.Name, int32(who.Level)
	if op != OpStatus {
		s.logChange(via, who, op, target, onMachine, r)
	}
	return r
}

// logChange logs every change request with the operator's name, and publishes the done ones.
func (s *Service) logChange(via string, who conf.Operator, op Op, target string, onMachine bool, r *pb.ControlReply) {
	ev := s.log.Info()
	msg := "operator change done"
	if !r.Ok {
		msg = "operator change refused"
	}
	if len(target) > 64 {
		target = target[:64] + "…" // names come from the network; keep log lines short
	}
	ev.Str("via", via).Str("operator", who.Name).Str("op", string(op)).Str("target", target).
		Str("code", CodeName(r.Code)).Str("reason", r.Reason).Msg(msg)
	if r.Ok {
		e := &pb.ControlEvent{Kind: "operator", Operator: who.Name, Op: string(op), Detail: r.Reason}
		if onMachine {
			e.Machine = target
		} else {
			e.Pair = target
		}
		s.hub.publish(e)
	}
}

// CodeName is a Code without its prefix ("target_down"), for logs.
func CodeName(c pb.Code) string {
	return strings.ToLower(strings.TrimPrefix(c.String(), "CODE_"))
}

// target turns an operator's "to" into the machine to put on air for the main of slot: "main",
// "backup" (the only backup of a pair), "any" in a pool, or a machine name. "" means: let the
// engine choose.
func target(e *supervisor.PoolEntry, slot failover.SlotStatus, to string) (string, bool) {
	switch to {
	case "main":
		return slot.Main, true
	case "any":
		return "", true
	case "backup":
		if len(e.Engine.Backups) == 1 {
			return e.Engine.Backups[0].Name, true
		}
		return "", true
	}
	return to, !e.Pair // a pair takes main or backup only
}

// doSwitch asks the pair to switch and waits until the router confirmed it (or why not), so the
// reply says what really happened.
func (s *Service) doSwitch(who conf.Operator, op *pb.ControlRequest_SwitchOp) *pb.ControlReply {
	name := op.GetPair()
	e := s.sup.PoolEntry(name)
	if e == nil {
		return unknownPair(name)
	}
	v, err := s.sup.PoolView(name) // the pool checks the switch again itself
	if err != nil {
		return refusal(pb.Code_CODE_INTERNAL, "%v", err)
	}
	slot, ok := v.Slot(op.GetMain())
	if !ok {
		if op.GetMain() == "" {
			return refusal(pb.Code_CODE_BAD_REQUEST, "main: missing: pool %q has %d mains", name, len(v.Slots))
		}
		return refusal(pb.Code_CODE_NOT_IN_POOL, "main: %q is not a main of %q", op.GetMain(), name)
	}
	if op.GetTo() == "" {
		// A repeated request must not flip the routing back: a switch says where to.
		return refusal(pb.Code_CODE_BAD_REQUEST, "to: missing: main or backup (a pool: a backup's name, or any); a switch never toggles")
	}
	to, ok := target(e, slot, op.GetTo())
	if !ok {
		return refusal(pb.Code_CODE_BAD_REQUEST, "to: %q is not main or backup", op.GetTo())
	}
	for _, a := range slot.Alarms {
		if a.Kind == failover.AlarmLockedOutput && a.Active && !e.ForceUnlock {
			return refusal(pb.Code_CODE_OUTPUT_LOCKED, "output locked by another router client: %s (%q has force_unlock = false)", a.Message, name)
		}
	}
	// Listen before asking, so the outcome cannot slip by.
	outcome := s.hub.watchPair(name)
	defer outcome.stop()
	if err := s.sup.Command(name, failover.Switch{Main: slot.Main, To: to, By: who.Name}); err != nil {
		return commandRefusal(name, err)
	}
	deadline := pool.SwitchTimeout(s.sup.Config(), e.Router) + 2*time.Second
	return outcome.wait(e, slot.Main, deadline)
}

// doPolicy sets mode or failback ("automatic" | "manual").
func (s *Service) doPolicy(who conf.Operator, name, what, value string, ev func(auto bool) failover.Event) *pb.ControlReply {
	if s.sup.PoolEntry(name) == nil {
		return unknownPair(name)
	}
	if value != conf.ModeAutomatic && value != conf.ModeManual {
		return refusal(pb.Code_CODE_BAD_REQUEST, "%s: %q is not automatic or manual", what, value)
	}
	s.editMu.Lock() // one writer of the state files at a time
	defer s.editMu.Unlock()
	if err := s.sup.Command(name, ev(value == conf.ModeAutomatic)); err != nil {
		return commandRefusal(name, err)
	}
	r := &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("pair %q: %s set to %s", name, what, value)}
	if err := s.sup.SetPolicy(name, what, value, who.Name); err != nil {
		r.Warnings = append(r.Warnings, fmt.Sprintf("in force, but not saved: it will not survive a restart (%v)", err))
		s.log.Error().Err(err).Str("pair", name).Msgf("%s set to %s but not saved under state_dir", what, value)
	}
	return r
}

func (s *Service) doAcknowledge(who conf.Operator, op *pb.ControlRequest_AcknowledgeOp) *pb.ControlReply {
	name := op.GetPair()
	if op.GetMachine() != "" {
		if name != "" {
			return refusal(pb.Code_CODE_BAD_REQUEST, "acknowledge: name a pair or a machine, not both (pair %q, machine %q)", name, op.GetMachine())
		}
		return s.doAcknowledgeMachine(who, op.GetMachine(), op.GetAlarm())
	}
	if s.sup.PoolEntry(name) == nil {
		return unknownPair(name)
	}
	if op.GetAlarm() == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "alarm: missing (e.g. flap_guard, switch_failed)")
	}
	if err := s.sup.Command(name, failover.Acknowledge{Main: op.GetMain(), Kind: failover.ParseAlarmKind(op.GetAlarm()), By: who.Name}); err != nil {
		return commandRefusal(name, err)
	}
	return &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("pair %q: alarm %s acknowledged", name, op.GetAlarm())}
}

// doAcknowledgeMachine acknowledges a machine's own alarm; an active duplicate_agent makes the
// machine follow the newer agent session (the operator vouches for it).
func (s *Service) doAcknowledgeMachine(who conf.Operator, name, alarm string) *pb.ControlReply {
	if alarm == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "alarm: missing (e.g. duplicate_agent)")
	}
	err := s.sup.AcknowledgeMachine(name, failover.ParseAlarmKind(alarm), who.Name)
	switch {
	case errors.Is(err, supervisor.ErrUnknownMachine):
		return refusal(pb.Code_CODE_UNKNOWN_MACHINE, "unknown machine %q", name)
	case errors.Is(err, failover.ErrNoAlarm):
		return refusal(pb.Code_CODE_NO_ALARM, "%v", err)
	case err != nil:
		return refusal(pb.Code_CODE_INTERNAL, "%v", err)
	}
	return &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("machine %q: alarm %s acknowledged", name, alarm)}
}

func (s *Service) doSimulate(op *pb.ControlRequest_SimulateOp) *pb.ControlReply {
	name := op.GetMachine()
	m := s.sup.Config().Machine(name)
	switch {
	case m == nil:
		return refusal(pb.Code_CODE_UNKNOWN_MACHINE, "unknown machine %q", name)
	case !m.Simulated || s.sim == nil:
		return refusal(pb.Code_CODE_NOT_SIMULATED, "machine %q is not simulated: only simulated = true machines can be failed from here", name)
	}
	n := 0
	for _, set := range []bool{op.GetService() != "", op.GetHealth() != "", op.GetSilent() != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return refusal(pb.Code_CODE_BAD_REQUEST, "set exactly one of service (with up), health (with value) or silent (on/off)")
	}
	var err error
	var done string
	switch {
	case op.GetService() != "":
		err = s.sim.SimulateService(name, op.GetService(), op.GetUp())
		done = fmt.Sprintf("machine %q: service %s %s", name, op.GetService(), map[bool]string{true: "up", false: "down"}[op.GetUp()])
	case op.GetHealth() != "":
		err = s.sim.SimulateHealth(name, op.GetHealth(), op.GetValue())
		done = fmt.Sprintf("machine %q: %s = %g", name, op.GetHealth(), op.GetValue())
	default:
		silent := op.GetSilent() == "on"
		if !silent && op.GetSilent() != "off" {
			return refusal(pb.Code_CODE_BAD_REQUEST, "silent: %q is not on or off", op.GetSilent())
		}
		err = s.sim.SimulateSilence(name, silent)
		done = fmt.Sprintf("machine %q: heartbeats %s", name, map[bool]string{true: "stopped", false: "resumed"}[silent])
	}
	switch {
	case errors.Is(err, supervisor.ErrNoSimulation):
		return refusal(pb.Code_CODE_NOT_SIMULATED, "%v", err)
	case errors.Is(err, actor.ErrTimeout), errors.Is(err, actor.ErrDeadLetter):
		return refusal(pb.Code_CODE_INTERNAL, "simulation did not answer: %v", err)
	case err != nil:
		return refusal(pb.Code_CODE_BAD_REQUEST, "%v", err)
	}
	return &pb.ControlReply{Ok: true, Reason: done}
}

func unknownPair(name string) *pb.ControlReply {
	return refusal(pb.Code_CODE_UNKNOWN_PAIR, "unknown pair %q", name)
}

// commandRefusal classifies a pair's refusal by the engine's sentinel errors.
func commandRefusal(name string, err error) *pb.ControlReply {
	msg := err.Error()
	for _, c := range []struct {
		err  error
		code pb.Code
	}{
		{failover.ErrTargetDown, pb.Code_CODE_TARGET_DOWN},
		{failover.ErrSwitchPending, pb.Code_CODE_SWITCH_PENDING},
		{failover.ErrAlreadyOnAir, pb.Code_CODE_ALREADY_ON_AIR},
		{failover.ErrNoAlarm, pb.Code_CODE_NO_ALARM},
		{failover.ErrTargetBusy, pb.Code_CODE_TARGET_BUSY},
		{failover.ErrLacksRole, pb.Code_CODE_NO_BACKUP},
		{failover.ErrNoBackupFree, pb.Code_CODE_NO_BACKUP},
		{failover.ErrNotInPool, pb.Code_CODE_NOT_IN_POOL},
		{failover.ErrStandby, pb.Code_CODE_READ_ONLY}, // the engine itself refuses: read-only by construction
	} {
		if errors.Is(err, c.err) {
			return refusal(c.code, "%s", msg)
		}
	}
	if errors.Is(err, supervisor.ErrUnknownPair) {
		return unknownPair(name)
	}
	return refusal(pb.Code_CODE_INTERNAL, "%s", msg)
}
