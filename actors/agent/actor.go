package agent

import (
	"crypto/subtle"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/node"
	"standby/conf"
	"standby/protocol/pb"
)

// Messages from the watchers to the agent actor.
type (
	serviceEvent struct {
		i      int
		up     bool
		reason string
		at     time.Time
	}
	healthEvent struct {
		i      int
		value  float64
		ok     bool
		reason string
	}
	beat struct{}
)

// searchWarnAfter is how long the agent reports to all supervisors, none answering as active, before
// it says so in the log (then at most once a minute).
const searchWarnAfter = 5 * time.Second

// missLimit is how many heartbeats the followed supervisor may leave unanswered before the agent
// reports to all supervisors again.
const missLimit = 3

// agentActor owns the agent's state: it turns watcher events into immediate change reports, sends
// heartbeats, follows the active supervisor and applies sim settings.
type agentActor struct {
	machine, token string
	session        uint64
	self           string // the agent's advertised address
	interval       time.Duration
	clock          clock.Clock
	log            zerolog.Logger

	tbl       *table
	fol       *follower
	gws       []*actor.PID // gateway PIDs, parallel to fol.addrs
	sent      sentLog
	seq       uint64
	lean      []leanRef // per supervisor, parallel to gws
	gated     bool      // holding reports until every service has been checked once
	gateUntil time.Time
	searchFor time.Duration // how long searching without an active supervisor
	throttle  *node.Throttle
	cancel    func()
	// commands are the [[command]]s supervisors may ask for, by name; commandsRunning those in flight.
	commands        map[string]*conf.Command
	commandsRunning int
}

func (a *agentActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		root, self := ctx.ActorSystem().Root, ctx.Self()
		a.cancel = clock.Repeat(a.interval, a.interval, func() { root.Send(self, &beat{}) })
		a.maybeOpenGate(ctx)
	case *actor.Stopping:
		if a.cancel != nil {
			a.cancel()
		}
	case *beat:
		a.handleBeat(ctx)
	case *serviceEvent:
		s := &a.tbl.services[msg.i]
		if a.tbl.setService(msg.i, msg.up, msg.reason, msg.at) {
			a.logService(s)
			if !a.maybeOpenGate(ctx) && !a.gated {
				a.send(ctx, true)
			}
		}
	case *healthEvent:
		if a.tbl.setHealth(msg.i, msg.value, msg.ok, msg.reason) {
			if h := a.tbl.health[msg.i]; h.ok {
				a.log.Info().Str("health", h.name).Float64("value", h.value).Msg("health value readable")
			} else {
				a.log.Warn().Str("health", h.name).Str("reason", h.reason).Msg("health value unreadable")
			}
			if !a.gated {
				a.send(ctx, true)
			}
		}
	case *pb.AgentReply:
		a.handleReply(msg)
	case *pb.CommandRequest:
		a.handleCommand(ctx, msg)
	case *commandDone:
		a.commandsRunning--
	case *pb.SimSet:
		reply := a.handleSim(ctx, msg)
		if ctx.Sender() != nil {
			ctx.Respond(reply)
		}
	}
}

func (a *agentActor) logService(s *serviceState) {
	if s.up {
		a.log.Info().Str("service", s.name).Msg("service up")
	} else {
		a.log.Warn().Str("service", s.name).Str("reason", s.reason).Msg("service down")
	}
}

// maybeOpenGate starts reporting once every service has been checked or the wait is over, so a
// restarting agent never reports a service down merely because its first check is still running.
// It reports whether it opened the gate (and sent the first report).
func (a *agentActor) maybeOpenGate(ctx actor.Context) bool {
	if !a.gated || (!a.tbl.servicesKnown() && a.clock.Now().Before(a.gateUntil)) {
		return false
	}
	a.gated = false
	a.send(ctx, true)
	return true
}

func (a *agentActor) handleBeat(ctx actor.Context) {
	if a.gated {
		a.maybeOpenGate(ctx)
		return
	}
	a.send(ctx, false)
	if followed := a.fol.following(); a.fol.beat() {
		a.log.Warn().Str("supervisor", followed).Int("beats", a.fol.missLimit+1).Str("now_following", a.fol.following()).
			Msg("followed supervisor stopped answering")
	}
	if a.fol.following() != "" {
		a.searchFor = 0
		return
	}
	a.searchFor += a.interval
	if a.searchFor >= searchWarnAfter {
		if ok, skipped := a.throttle.Allow("searching"); ok {
			a.log.Warn().Strs("supervisors", a.fol.addrs).Dur("for", a.searchFor).Int("suppressed", skipped).
				Msg("no supervisor answers as active (check supervisors, and that they can reach this agent's address)")
		}
	}
}

// leanRef is what a lean heartbeat to one supervisor may name: the last report sent to it in full
// (seq, and the table's ver then), once that supervisor said it takes lean heartbeats.
type leanRef struct {
	ok       bool
	seq, ver uint64
}

// send reports the current state, with what the agent hears of each supervisor, to every
// supervisor, each copy with its own seq so the reply can be credited to the supervisor that sent it.
// A heartbeat to a supervisor that takes lean ones, with nothing changed since the last full
// report to it, leaves the content out and names that report (pb.AgentReport.same_as).
func (a *agentActor) send(ctx actor.Context, change bool) {
	now := a.clock.Now().UnixNano()
	heard := a.fol.heard(func(beats int) uint32 { return uint32(min(int64(beats)*a.interval.Milliseconds(), 1<<31)) })
	if len(a.lean) < len(a.gws) {
		a.lean = make([]leanRef, len(a.gws))
	}
	for _, i := range a.fol.targets() {
		a.seq++
		l := &a.lean[i]
		var r *pb.AgentReport
		if !change && l.ok && l.seq != 0 && l.ver == a.tbl.ver {
			r = &pb.AgentReport{SameAs: l.seq}
		} else {
			r = a.tbl.report()
			r.Change, r.AgentAddress = change, a.self
			l.seq, l.ver = a.seq, a.tbl.ver
		}
		r.Machine, r.Token, r.Session, r.Seq, r.SentUnixNano, r.Heard = a.machine, a.token, a.session, a.seq, now, heard
		r.SparseReplies = true // unchanged heartbeats need no answer: the supervisor's beacon says it is alive
		a.sent.put(a.seq, i)
		ctx.Request(a.gws[i], r)
	}
}

func (a *agentActor) handleReply(r *pb.AgentReply) {
	i, ok := a.sent.lookup(r.Seq)
	if !ok {
		return
	}
	addr := a.fol.addrs[i]
	if i < len(a.lean) {
		l := &a.lean[i]
		l.ok = r.Accepted && r.LeanBeats
		if !r.Accepted || (r.SendFull && r.Seq > l.seq) {
			l.seq = 0 // the next report to it goes in full
		}
	}
	if !r.Accepted {
		if ok, skipped := a.throttle.Allow("refused|" + addr + "|" + r.Reason); ok {
			a.log.Error().Str("supervisor", addr).Str("reason", truncate(r.Reason, pb.MaxReasonLen)).Int("suppressed", skipped).
				Msg("supervisor refused this agent's reports")
		}
	}
	// r.Supervisors is not followed: an agent reports only to the supervisors of its own config, so
	// a forged reply cannot send its reports (and token) elsewhere.
	// A supervisor answering sparsely may stay quiet for its beacon: that many beats are not silence.
	quiet := 0
	if ms := int64(r.BeaconMs); ms > 0 && a.interval > 0 {
		quiet = int(min((time.Duration(ms)*time.Millisecond+a.interval-1)/a.interval, 1<<16))
	}
	if a.fol.answered(i, truncate(r.Supervisor, pb.MaxNameLen), r.Active, r.Term, quiet) {
		if f := a.fol.following(); f != "" {
			a.log.Info().Str("supervisor", f).Uint64("term", r.Term).Msg("following active supervisor")
		} else {
			a.log.Warn().Str("supervisor", addr).Msg("no supervisor answers as active now")
		}
	}
}

// handleSim applies a SimSet all or nothing.
func (a *agentActor) handleSim(ctx actor.Context, m *pb.SimSet) *pb.SimSetReply {
	if subtle.ConstantTimeCompare([]byte(m.Token), []byte(a.token)) != 1 {
		if ok, skipped := a.throttle.Allow("simtoken"); ok {
			a.log.Warn().Int("suppressed", skipped).Msg("refused sim set: wrong token")
		}
		return &pb.SimSetReply{Reason: "wrong token"}
	}
	var bad []string
	for _, s := range m.Services {
		if i := a.tbl.serviceIndex(s.Name); i < 0 || !a.tbl.services[i].sim {
			bad = append(bad, "service "+fmt.Sprintf("%q", truncate(s.Name, pb.MaxNameLen)))
		}
	}
	for _, h := range m.Health {
		if i := a.tbl.healthIndex(h.Name); i < 0 || !a.tbl.health[i].sim {
			bad = append(bad, "health "+fmt.Sprintf("%q", truncate(h.Name, pb.MaxNameLen)))
		} else if math.IsNaN(h.Value) || math.IsInf(h.Value, 0) {
			bad = append(bad, fmt.Sprintf("health %q: %v is not a finite number", h.Name, h.Value))
		}
	}
	if len(bad) > 0 {
		return &pb.SimSetReply{Reason: truncate("nothing applied: "+strings.Join(bad, ", ")+" (only this agent's sim entries can be set)", pb.MaxReasonLen)}
	}
	now := a.clock.Now()
	for _, s := range m.Services {
		i := a.tbl.serviceIndex(s.Name)
		reason := s.Reason
		if reason == "" {
			reason = reasonSimDown
		}
		if a.tbl.setService(i, s.Up, reason, now) {
			a.logService(&a.tbl.services[i])
		}
	}
	for _, h := range m.Health {
		reason := h.Reason
		if h.Fail && reason == "" {
			reason = reasonSimDown
		}
		a.tbl.setHealth(a.tbl.healthIndex(h.Name), h.Value, !h.Fail, reason)
	}
	a.log.Debug().Int("services", len(m.Services)).Int("health", len(m.Health)).Msg("sim set")
	if !a.gated && (len(m.Services) > 0 || len(m.Health) > 0) {
		a.send(ctx, true) // a sim setting is an event: report it now, not on the beat
	}
	return &pb.SimSetReply{Accepted: true}
}
