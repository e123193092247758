// Package agentgw is the supervisor's agent gateway: the actor, at pb.GatewayActorID
// ("standby/agents"), that receives every agent's pb.AgentReport on the supervisor's remote endpoint.
//
// For each report it checks the shape against pb's limits, the token (constant time) and that the
// machine is configured; it answers every report with a pb.AgentReply (accepted or refused with the
// reason, whether this supervisor is active, the supervisors' addresses) and forwards accepted ones
// as *machine.Report, From set to the sender's address, to the machine actor
// "standby/machines/<name>". Refusals are logged at most once a minute per (agent address, machine,
// reason), never per message, and the token is never logged; agent session changes at most once a
// minute per (machine, agent host), as two agents reporting one machine change it on every report.
//
// The supervisor spawns it under its root: ctx.SpawnNamed(agentgw.Props(opts), "agents").
package agentgw

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/machine"
	"standby/actors/node"
	"standby/protocol/pb"
)

// MachinesPrefix is the id prefix of the machine actors reports are forwarded to (the supervisor's
// "machines" group under its root "standby").
const MachinesPrefix = "standby/machines/"

// Options configure the gateway.
type Options struct {
	// Token is the supervisor's agent_token. Empty refuses every agent.
	Token string
	// Machines are the configured [[machine]] names; reports naming others are refused. Update with
	// SetMachines on reload.
	Machines []string
	// Active tells whether this supervisor is the active one of its pair. It runs on the gateway's
	// goroutine for every report, so it must be cheap and safe for concurrent use (an atomic.Bool's
	// Load). Nil means the gateway's own flag, set with SetActive (initially InitiallyActive).
	Active func() bool
	// InitiallyActive is the flag's value until the first SetActive, when Active is nil.
	InitiallyActive bool
	// Supervisors are the remote endpoints of both supervisors of the pair, sent to agents in every
	// reply for their information (agents report only to the addresses of their own config, so a
	// forged reply cannot redirect them). Update with SetSupervisors.
	Supervisors []string
	// Name is this supervisor's [supervisor] name, sent to agents in every reply.
	Name string
	// Logger receives accepted-session and refusal lines.
	Logger zerolog.Logger
	// Clock paces the refusal log throttle. Nil means the wall clock.
	Clock clock.Clock
	// Forward delivers an accepted report. Nil sends it to MachinesPrefix+name on this node; tests
	// and the demo driver can replace it. It runs on the gateway's goroutine and must not block.
	Forward func(ctx actor.Context, r *machine.Report)
}

// SetMachines replaces the set of configured machine names (config reload).
type SetMachines struct{ Names []string }

// SetActive tells the gateway whether this supervisor is active (used when Options.Active is nil)
// and its pair's term, both sent to agents in every reply.
type SetActive struct {
	Active bool
	Term   uint64
}

// GetVotes asks what the agents say of the supervisor named Peer: answered with *Votes. Machines
// that reported within Within count; one hears Peer when its latest report lists Peer silent for
// at most LostAfter. An empty Peer (its name not known yet) means any supervisor but Self.
type GetVotes struct {
	Peer, Self        string
	Within, LostAfter time.Duration
	// FreshWithin counts, in Votes.Fresh, the machines that reported within it.
	FreshWithin time.Duration
}

// Votes are the agents' witness: Reporting machines reported lately, Hear of them still hear the
// peer (and HearActive hear it as active).
type Votes struct {
	Reporting, Hear, HearActive int
	Fresh                       int
}

// GetAgent asks for the remote endpoint of the agent that last reported Machine (answered with
// *Agent; Address is empty when none has reported yet). Agent commands are sent there.
type GetAgent struct{ Machine string }

// Agent answers GetAgent.
type Agent struct{ Address string }

// SetSupervisors replaces the supervisor addresses sent to agents.
type SetSupervisors struct{ Addrs []string }

// Props returns the gateway's props.
func Props(o Options) *actor.Props {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return actor.PropsFromProducer(func() actor.Actor {
		g := &gateway{
			opts:     o,
			gate:     newGate(o.Token, o.Machines),
			active:   o.InitiallyActive,
			sups:     append([]string(nil), o.Supervisors...),
			throttle: node.NewThrottle(time.Minute, o.Clock),
			sessions: map[string]uint64{},
			pids:     map[string]*actor.PID{},
			heard:    map[string]heardOf{},
			addrs:    map[string]string{},
		}
		if g.opts.Forward == nil {
			g.opts.Forward = g.forwardToMachine
		}
		return g
	})
}

// forwardToMachine sends to the machine actor through a cached PID: a PID keeps the process it
// resolved (and resolves again once that actor is gone), where a fresh PID per report costs a
// process-registry lookup each time (bench/README.md).
func (g *gateway) forwardToMachine(ctx actor.Context, r *machine.Report) {
	pid := g.pids[r.Machine]
	if pid == nil {
		pid = actor.NewPID(ctx.Self().Address, MachinesPrefix+r.Machine)
		g.pids[r.Machine] = pid
	}
	ctx.Send(pid, r)
}

type gateway struct {
	opts     Options
	gate     *gate
	active   bool
	sups     []string
	throttle *node.Throttle
	sessions map[string]uint64 // machine → last accepted session, to log agent (re)starts once
	pids     map[string]*actor.PID
	term     uint64
	heard    map[string]heardOf // machine → what its latest report said of the supervisors
	addrs    map[string]string  // machine → the agent address of its latest accepted report
}

// heardOf is one machine's latest witness statement.
type heardOf struct {
	at    time.Time
	heard []*pb.AgentReport_Heard
}

func (g *gateway) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *pb.AgentReport:
		g.handleReport(ctx, m)
	case *SetMachines:
		g.gate.setMachines(m.Names)
		for name := range g.sessions {
			if !g.gate.machines[name] {
				delete(g.sessions, name)
			}
		}
		for name := range g.pids {
			if !g.gate.machines[name] {
				delete(g.pids, name)
			}
		}
		for name := range g.heard {
			if !g.gate.machines[name] {
				delete(g.heard, name)
			}
		}
		for name := range g.addrs {
			if !g.gate.machines[name] {
				delete(g.addrs, name)
			}
		}
	case *SetActive:
		g.active, g.term = m.Active, max(g.term, m.Term)
	case *GetVotes:
		ctx.Respond(g.votes(m))
	case *SetSupervisors:
		g.sups = append([]string(nil), m.Addrs...)
	case *GetAgent:
		ctx.Respond(&Agent{Address: g.addrs[m.Machine]})
	}
	// Anything else (a peer sending some other linked-in type) is ignored.
}

func (g *gateway) isActive() bool {
	if g.opts.Active != nil {
		return g.opts.Active()
	}
	return g.active
}

func (g *gateway) handleReport(ctx actor.Context, r *pb.AgentReport) {
	from := r.AgentAddress
	if s := ctx.Sender(); s != nil {
		from = s.Address
	}
	reply := &pb.AgentReply{Active: g.isActive(), Seq: r.Seq, Supervisor: g.opts.Name, Term: g.term}
	if reason := g.gate.check(r); reason != "" {
		reply.Reason = reason
		g.logRefusal(from, r.Machine, reason)
	} else {
		reply.Accepted, reply.Supervisors = true, g.sups
		if g.sessions[r.Machine] != r.Session {
			g.sessions[r.Machine] = r.Session
			g.logSession(from, r)
		}
		if len(r.Heard) > 0 {
			g.heard[r.Machine] = heardOf{at: g.opts.Clock.Now(), heard: r.Heard}
		}
		if r.AgentAddress != "" {
			g.addrs[r.Machine] = clip(r.AgentAddress, 256)
		}
		m := toReport(r)
		m.From = from
		g.opts.Forward(ctx, m)
	}
	if ctx.Sender() != nil {
		ctx.Respond(reply)
	}
}

// logSession logs a session change at most once a minute per (machine, agent host): two agents
// reporting one machine flip it on every report, which the machine's duplicate_agent alarm tells.
func (g *gateway) logSession(from string, r *pb.AgentReport) {
	ok, skipped := g.throttle.Allow("session\x00" + r.Machine + "\x00" + clip(node.Host(from), 128))
	if !ok {
		return
	}
	g.opts.Logger.Info().Str("machine", r.Machine).Str("agent", clip(from, 128)).Uint64("session", r.Session).
		Int("suppressed", skipped).Msg("agent session started")
}

// logRefusal logs a refused report at most once a minute per (agent host, machine, reason). All
// three come from the network, so they are cut to size; the throttle bounds how many it remembers.
func (g *gateway) logRefusal(from, machineName, reason string) {
	from, machineName = clip(from, 128), clip(machineName, pb.MaxNameLen)
	ok, skipped := g.throttle.Allow(node.Host(from) + "\x00" + machineName + "\x00" + reason)
	if !ok {
		return
	}
	g.opts.Logger.Warn().Str("agent", from).Str("machine", machineName).Str("reason", reason).
		Int("suppressed", skipped).Msg("refused agent report")
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// votes counts the agents' statements about peer (see GetVotes).
func (g *gateway) votes(q *GetVotes) *Votes {
	now := g.opts.Clock.Now()
	v := &Votes{}
	for _, h := range g.heard {
		if now.Sub(h.at) <= q.FreshWithin {
			v.Fresh++
		}
		if now.Sub(h.at) > q.Within {
			continue
		}
		v.Reporting++
		hear, active := false, false
		for _, s := range h.heard {
			peer := s.Supervisor == q.Peer || (q.Peer == "" && s.Supervisor != q.Self)
			if peer && time.Duration(s.SilentMs)*time.Millisecond <= q.LostAfter {
				hear, active = true, active || s.Active
			}
		}
		if hear {
			v.Hear++
		}
		if active {
			v.HearActive++
		}
	}
	return v
}
