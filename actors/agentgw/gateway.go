// Package agentgw is the supervisor's agent gateway: the actor, at pb.GatewayActorID
// ("standby/agents"), that receives every agent's pb.AgentReport on the supervisor's remote endpoint.
//
// For each report (alone, or many in a pb.AgentReports) it checks the shape against pb's limits,
// the token (constant time) and that the machine is configured; it answers with a pb.AgentReply
// (accepted or refused with the reason, whether this supervisor is active, the supervisors'
// addresses) every report, or, for agents asking for sparse replies, only when that answer
// changed, on refusals and change reports, and at least every Options.Beacon. Accepted reports go
// to the machine actor "standby/machines/<name>" as *machine.Report, From set to the sender's
// address; a plain heartbeat repeating the machine's last report is left in the machine's
// machine.Inbox instead (no message: the per-report cost of the supervisor, bench/README.md).
// With Options.LagBound it measures its own mailbox wait and, when reports wait too long,
// excuses the machines (a fresh heartbeat timeout) rather than let them be declared silent. Refusals are logged at most once a minute per (agent address, machine,
// reason), never per message, and the token is never logged; agent session changes at most once a
// minute per (machine, agent host), as two agents reporting one machine change it on every report.
//
// The supervisor spawns it under its root: ctx.SpawnNamed(agentgw.Props(opts), "agents").
package agentgw

import (
	"cmp"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/machine"
	"standby/actors/node"
	"standby/protocol/pb"
)

// MaxBatch caps the reports of one pb.AgentReports handled; the rest are dropped.
const MaxBatch = 4096

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
	// Inboxes, with Forward nil, are the machines' heartbeat slots: a heartbeat that repeats its
	// machine's last report is left in its inbox instead of sent (see machine.Inbox). Nil sends
	// every report.
	Inboxes *machine.Inboxes
	// Beacon is the longest an agent asking for sparse replies waits for one while nothing
	// changes. Zero answers every report.
	Beacon time.Duration
	// LagBound, when positive, is how long a message may wait in the gateway's mailbox: a probe
	// the gateway sends itself every Probe measures the wait on this supervisor's own clock,
	// and a longer one means reports are late because the supervisor is behind, not because the
	// machines are silent: Pauses is excused (every machine gets a fresh heartbeat timeout) and
	// "supervisor overloaded" is logged once per episode.
	LagBound time.Duration
	// Pauses is the supervisor's pause watch the machine actors judge silence by.
	Pauses *clock.PauseWatch
	// Probe is how often the gateway measures its own mailbox wait; zero means ProbeEvery.
	Probe time.Duration
	// Queue is its mailbox's counts (Mailbox): reports waiting, shed and handled, told in the
	// overload alarm and /metrics; shedding is evidence of an overload. Nil: counts of its own
	// (handled only: the mailbox is another one).
	Queue *Queue
	// Hook, when set, runs first on every message; tests slow the gateway down with it.
	Hook func(msg any)
	// WatchCPU counts a saturated process (no core idle for a second, runtime/metrics) as evidence
	// of an overload too: agents' reports then queue before they reach the supervisor (the
	// transport holds the senders back), where no queue of its own shows it.
	WatchCPU bool
}

// ProbeEvery is how often the gateway measures its own mailbox wait by default (see Options.LagBound).
const ProbeEvery = 20 * time.Millisecond

// probe measures the gateway's mailbox wait: sent when posted, on the supervisor's clock.
type probe struct{ sent time.Time }

// Overloaded is published on the EventStream when the gateway finds the supervisor behind (Active;
// again every OverloadEvery with Update set while it lasts) and when it caught up again.
type Overloaded struct {
	Active, Update bool
	// Lag is the longest mailbox wait measured in the episode so far.
	Lag time.Duration
	// Backlog is how many reports wait for the gateway now.
	Backlog int64
	// Rate is how many reports a second the gateway handled in the episode: while behind, what
	// the supervisor can serve.
	Rate float64
	// Shed counts the heartbeats and change reports dropped in the episode (Mailbox).
	Shed, ShedChanges uint64
	// Late tells that deadline wake-ups came late in the episode (the supervisor's goroutines
	// wait for a core), not only reports in the gateway's queue.
	Late bool
	// Saturated tells that the process had no core idle for a second in the episode (Options.WatchCPU).
	Saturated bool
}

// OverloadEvery is how often an ongoing overload episode is told again with fresh figures;
// OverloadCalm how long an episode lasts past its last evidence (a 60 s overload at twice the
// rate served made 18 episodes of 250 ms calm each).
const (
	OverloadEvery = time.Second
	OverloadCalm  = 5 * time.Second
)

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
	if o.Queue == nil {
		o.Queue = &Queue{}
	}
	return actor.PropsFromProducer(func() actor.Actor {
		g := &gateway{
			opts:     o,
			gate:     newGate(o.Token, o.Machines),
			active:   o.InitiallyActive,
			sups:     append([]string(nil), o.Supervisors...),
			throttle: node.NewThrottle(time.Minute, o.Clock),
		}
		return g
	})
}

// pid is the machine actor's PID, cached: a PID keeps the process it resolved (and resolves again
// once that actor is gone), where a fresh PID per report costs a process-registry lookup each
// time (bench/README.md).
func (st *beatState) machinePID(ctx actor.Context, name string) *actor.PID {
	if st.pid == nil {
		st.pid = actor.NewPID(ctx.Self().Address, MachinesPrefix+name)
	}
	return st.pid
}

type gateway struct {
	opts     Options
	gate     *gate
	active   bool
	sups     []string
	throttle *node.Throttle
	supsGen  uint64 // counts SetSupervisors, so a changed list is answered at once
	// overload: whether an episode is on, its longest wait, and the probe timer's stop.
	overloaded bool
	maxLag     time.Duration
	lastOver   time.Time // the last probe that found the supervisor behind
	ep         episode
	cpu        cpuWatch
	lw         *lagWatch // shared with the probe's timer
	stopProbe  func()
	term       uint64
}

// heardOf is one machine's latest witness statement.
type heardOf struct {
	at    time.Time
	heard []*pb.AgentReport_Heard
}

func (g *gateway) Receive(ctx actor.Context) {
	if g.opts.Hook != nil {
		g.opts.Hook(ctx.Message())
	}
	switch m := ctx.Message().(type) {
	case *actor.Started:
		g.ep.lastLates = g.opts.Pauses.Lates() // evidence from before this gateway is not its episode's
		g.ep.lastShed, g.ep.lastCh = g.opts.Queue.Shed()
		if g.opts.LagBound > 0 {
			root, self, clk := ctx.ActorSystem().Root, ctx.Self(), g.opts.Clock
			every := cmp.Or(g.opts.Probe, ProbeEvery)
			lw := g.lagWatch()
			g.stopProbe = clock.Repeat(every, every, func() {
				if now := clk.Now(); lw.tick(now) {
					root.Send(self, &probe{sent: now})
				}
			})
		}
	case *actor.Stopping, *actor.Restarting:
		if g.stopProbe != nil {
			g.stopProbe()
		}
	case *probe:
		g.lagWatch().read()
		g.checkLag(ctx, m)
	case *pb.AgentReport:
		g.handleReport(ctx, m)
	case *pb.AgentReports:
		for _, r := range m.Reports[:min(len(m.Reports), MaxBatch)] {
			if r != nil {
				g.handleReport(ctx, r)
			}
		}
	case *SetMachines:
		g.gate.setMachines(m.Names)
	case *SetActive:
		g.active, g.term = m.Active, max(g.term, m.Term)
	case *GetVotes:
		ctx.Respond(g.votes(m))
	case *SetSupervisors:
		g.sups = append([]string(nil), m.Addrs...)
		g.supsGen++
	case *GetAgent:
		var addr string
		if st := g.gate.machines[m.Machine]; st != nil {
			addr = st.addr
		}
		ctx.Respond(&Agent{Address: addr})
	}
	// Anything else (a peer sending some other linked-in type) is ignored.
}

// lagWatch sees the gateway fall behind while it still is: the probe's timer, on its own
// goroutine, finds the last probe unread for longer than the bound and excuses the machines at
// once, every beat until the gateway reads it. Waiting for the late probe to be read excused
// them only once the backlog had cleared, after the deadlines it pushed past had fired (the
// arming burst of 1000 pairs). One probe is outstanding at a time, so a backlog is not fed more.
type lagWatch struct {
	pending atomic.Int64 // when the unread probe was sent (unix ns); 0 when none is
	bound   time.Duration
	pauses  *clock.PauseWatch
}

func (g *gateway) lagWatch() *lagWatch {
	if g.lw == nil {
		g.lw = &lagWatch{bound: g.opts.LagBound, pauses: g.opts.Pauses}
	}
	return g.lw
}

// tick runs on the timer: it says whether to send a probe now.
func (w *lagWatch) tick(now time.Time) bool {
	p := w.pending.Load() // only this timer writes a send time; the gateway only clears it
	if p == 0 {
		w.pending.Store(now.UnixNano())
		return true
	}
	if now.UnixNano()-p > int64(w.bound) {
		w.pauses.Excuse()
	}
	return false
}

// read is the gateway taking a probe.
func (w *lagWatch) read() { w.pending.Store(0) }

// episode is what an overload episode measured so far, and the counters as it began.
type episode struct {
	start, told      time.Time
	handled          uint64
	shed, changes    uint64
	lates            uint64
	late             bool
	lastShed, lastCh uint64 // the counters at the previous probe
	lastLates        uint64
	saturated        bool // the process's cores were saturated in the episode
}

// checkLag judges what a probe found: the supervisor is behind when the probe waited past
// LagBound in the gateway's mailbox, when deadline wake-ups came late since the previous probe
// (clock.PauseWatch.Late), or when the mailbox shed reports. Then the machines are excused (a
// fresh heartbeat timeout each) and an episode starts, logged and published once, told again
// every OverloadEvery with fresh figures; it ends, logged once, after OverloadCalm without such
// evidence.
func (g *gateway) checkLag(ctx actor.Context, p *probe) {
	now := g.opts.Clock.Now()
	lag := now.Sub(p.sent)
	shed, changes := g.opts.Queue.Shed()
	lates := g.opts.Pauses.Lates()
	late := lates != g.ep.lastLates
	saturated := g.opts.WatchCPU && g.cpu.saturated(now)
	behind := lag > g.opts.LagBound || late || shed != g.ep.lastShed || changes != g.ep.lastCh || saturated
	g.ep.lastShed, g.ep.lastCh, g.ep.lastLates = shed, changes, lates
	switch {
	case behind:
		if lag > g.opts.LagBound {
			g.opts.Pauses.Excuse()
		}
		g.maxLag = max(g.maxLag, lag)
		g.lastOver = now
		if !g.overloaded {
			g.overloaded = true
			g.ep = episode{start: now, told: now, handled: g.opts.Queue.Handled(), shed: shed, changes: changes, lates: lates,
				lastShed: shed, lastCh: changes, lastLates: lates, late: late, saturated: saturated}
			o := g.overload(now, true, shed, changes)
			g.opts.Logger.Warn().Float64("waited_ms", ms(lag)).Float64("bound_ms", ms(g.opts.LagBound)).Int64("backlog", o.Backlog).
				Bool("late_wakeups", late).Bool("cpu_saturated", saturated).Uint64("shed", o.Shed).
				Msg("supervisor overloaded: reports wait in its queue; machines get a fresh heartbeat timeout instead of being declared silent")
			ctx.ActorSystem().EventStream.Publish(o)
			return
		}
		g.ep.late = g.ep.late || late
		g.ep.saturated = g.ep.saturated || saturated
	case g.overloaded && lag < g.opts.LagBound/2 && now.Sub(g.lastOver) >= max(2*g.opts.LagBound, OverloadCalm):
		// Calm for OverloadCalm (and at least a heartbeat timeout, twice the bound) since the last
		// sign of lag: reports queued in the burst have been read by now, and an overload that
		// comes and goes is one alarm, not one every few hundred milliseconds. One more excuse covers a machine whose
		// deadline the burst's backlog pushed past (an episode that ended at the first calm probe
		// let most of a 1000-pair burst's false silences through).
		g.opts.Pauses.Excuse()
		g.overloaded = false
		o := g.overload(now, false, shed, changes)
		g.opts.Logger.Info().Float64("max_waited_ms", ms(g.maxLag)).Float64("served_per_s", o.Rate).Uint64("shed", o.Shed).
			Uint64("shed_changes", o.ShedChanges).Msg("supervisor no longer overloaded")
		ctx.ActorSystem().EventStream.Publish(o)
		g.maxLag = 0
		return
	}
	if g.overloaded && now.Sub(g.ep.told) >= OverloadEvery {
		g.ep.told = now
		o := g.overload(now, true, shed, changes)
		o.Update = true
		ctx.ActorSystem().EventStream.Publish(o)
	}
}

// overload is the episode's figures at now.
func (g *gateway) overload(now time.Time, active bool, shed, changes uint64) *Overloaded {
	o := &Overloaded{Active: active, Lag: g.maxLag, Shed: shed - g.ep.shed, ShedChanges: changes - g.ep.changes, Late: g.ep.late,
		Saturated: g.ep.saturated}
	o.Backlog = g.opts.Queue.Waiting()
	if d := now.Sub(g.ep.start); d > 0 {
		o.Rate = float64(g.opts.Queue.Handled()-g.ep.handled) / d.Seconds()
	}
	return o
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func (g *gateway) isActive() bool {
	if g.opts.Active != nil {
		return g.opts.Active()
	}
	return g.active
}

func (g *gateway) handleReport(ctx actor.Context, r *pb.AgentReport) {
	g.opts.Queue.handled.Add(1)
	from := r.AgentAddress
	if s := ctx.Sender(); s != nil {
		from = s.Address
	}
	active := g.isActive()
	st, reason := g.gate.admit(r)
	if reason != "" {
		g.logRefusal(from, r.Machine, reason)
		if ctx.Sender() != nil {
			ctx.Respond(&pb.AgentReply{Active: active, Seq: r.Seq, Supervisor: g.opts.Name, Term: g.term, Reason: reason})
		}
		return
	}
	if st.session != r.Session {
		st.session = r.Session
		g.logSession(from, r)
	}
	now := g.opts.Clock.Now()
	if len(r.Heard) > 0 {
		st.heard = heardOf{at: now, heard: r.Heard}
	}
	if r.AgentAddress != "" && st.addr != r.AgentAddress {
		st.addr = clip(r.AgentAddress, 256)
	}
	held := g.deliver(ctx, st, r, from, now)
	if ctx.Sender() == nil || (held && r.SparseReplies && !g.answerDue(st, r, active, now)) {
		return // a heartbeat costs no reply (and no allocation for one)
	}
	reply := &pb.AgentReply{Active: active, Seq: r.Seq, Supervisor: g.opts.Name, Term: g.term, Accepted: true, Supervisors: g.sups,
		LeanBeats: true, SendFull: !held}
	if r.SparseReplies {
		reply.BeaconMs = uint32(g.opts.Beacon.Milliseconds())
	}
	ctx.Respond(reply)
}

// beatState is what the gateway keeps of one machine's reports: the last one delivered (the fast
// path sends only what differs from it) and what its agent was last told.
type beatState struct {
	session uint64 // the last accepted session, to log agent (re)starts once
	pid     *actor.PID
	heard   heardOf // what its latest report said of the supervisors
	addr    string  // the agent address of its latest accepted report

	rep      *machine.Report // the last report delivered with new content; heartbeats repeating it share it
	repAgent string          // its agent_address (not in a machine.Report)
	full     [2]uint64       // session and seq of the last full report: what a lean heartbeat names
	from     string
	inbox    *machine.Inbox
	// budget is what is left of the flood allowance (see allow), as of budgetAt.
	budget   float64
	budgetAt time.Time

	told        bool
	toldAt      time.Time
	toldSession uint64
	active      bool
	term, gen   uint64
}

// deliver hands an accepted report to its machine actor: a plain heartbeat repeating the machine's
// last report (or a lean one naming it) goes to its inbox (a Poke only if the actor wants every
// one), anything else (a change, new content, another session or agent address) as a message. It
// reports false for a lean heartbeat naming a report not held here, which is not delivered.
func (g *gateway) deliver(ctx actor.Context, st *beatState, r *pb.AgentReport, from string, now time.Time) bool {
	lean := r.SameAs != 0
	if lean && (st.rep == nil || st.full != [2]uint64{r.Session, r.SameAs} || st.from != from) {
		return false
	}
	if !lean {
		st.full = [2]uint64{r.Session, r.Seq}
	}
	direct := g.opts.Forward != nil || g.opts.Inboxes == nil
	if lean || (!r.Change && st.rep != nil && st.from == from && sameContent(st.rep, st.repAgent, r)) {
		if direct {
			m := *st.rep
			m.Seq = r.Seq
			g.forward(ctx, st, &m)
			return true
		}
		if st.inbox == nil {
			st.inbox = g.opts.Inboxes.Get(r.Machine)
		}
		if st.inbox.Put(st.rep, r.Seq, now, false) {
			ctx.Send(st.machinePID(ctx, r.Machine), &machine.Poke{})
		}
		return true
	}
	m := toReport(r)
	m.From = from
	st.rep, st.repAgent, st.from = m, r.AgentAddress, from
	if !direct && !st.allow(now) {
		// A flood of changes (a broken or hostile agent): the newest waits in the inbox, one Poke
		// at a time, so the machine's mailbox and the supervisor's memory stay bounded.
		if st.inbox == nil {
			st.inbox = g.opts.Inboxes.Get(r.Machine)
		}
		if st.inbox.Put(m, m.Seq, now, true) {
			ctx.Send(st.machinePID(ctx, r.Machine), &machine.Poke{})
		}
		return true
	}
	g.forward(ctx, st, m)
	return true
}

// Per-machine budget of reports sent as messages: floodBurst at once, refilled at floodRate a
// second. An agent reports changes a few times a second at most; beyond, they coalesce.
const (
	floodBurst = 50
	floodRate  = 50
)

// allow spends one message of the machine's budget at now, if any is left.
func (st *beatState) allow(now time.Time) bool {
	if st.budgetAt.IsZero() {
		st.budget, st.budgetAt = floodBurst, now
	}
	if d := now.Sub(st.budgetAt); d > 0 {
		st.budget = min(st.budget+d.Seconds()*floodRate, floodBurst)
		st.budgetAt = now
	}
	if st.budget < 1 {
		return false
	}
	st.budget--
	return true
}

// answerDue tells whether a report asking for sparse replies is answered: when what its agent was
// last told changed, on a change report, and at least every Beacon.
func (g *gateway) answerDue(st *beatState, r *pb.AgentReport, active bool, now time.Time) bool {
	if st.told && !r.Change && st.toldSession == r.Session && st.active == active && st.term == g.term &&
		st.gen == g.supsGen && now.Sub(st.toldAt) < g.opts.Beacon {
		return false
	}
	st.told, st.toldAt, st.toldSession, st.active, st.term, st.gen = true, now, r.Session, active, g.term, g.supsGen
	return true
}

func (g *gateway) forward(ctx actor.Context, st *beatState, m *machine.Report) {
	if g.opts.Forward != nil {
		g.opts.Forward(ctx, m)
		return
	}
	ctx.Send(st.machinePID(ctx, m.Machine), m)
}

// sameContent tells whether r says what rep (with agent address agent) said of the machine: same
// session, agent address, services and health values; seq, time, heard and the change flag aside.
func sameContent(rep *machine.Report, agent string, r *pb.AgentReport) bool {
	if rep.Session != r.Session || agent != r.AgentAddress || len(rep.Services) != len(r.Services) || len(rep.Health) != len(r.Health) {
		return false
	}
	for i, s := range rep.Services {
		t := r.Services[i]
		if s.Name != t.Name || s.Up != t.Up || s.Reason != t.Reason {
			return false
		}
	}
	for i, h := range rep.Health {
		k := r.Health[i]
		if h.Name != k.Name || h.Value != k.Value || h.OK != k.Ok || h.Reason != k.Reason {
			return false
		}
	}
	return true
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
	for _, st := range g.gate.machines {
		h := st.heard
		if h.at.IsZero() {
			continue
		}
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

// cpuWatch tells whether the process's cores were saturated over the last second: the Go runtime
// found no P idle (runtime/metrics /cpu/classes). Read on the gateway's probe only.
type cpuWatch struct {
	samples   []metrics.Sample
	at        time.Time
	idle, all float64
	full      bool // the last whole second was saturated
}

// saturationIdle is the idle share of the cores below which a second counts as saturated.
const saturationIdle = 0.03

func (w *cpuWatch) saturated(now time.Time) bool {
	if w.samples == nil {
		w.samples = []metrics.Sample{{Name: "/cpu/classes/idle:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"}}
	}
	if !w.at.IsZero() && now.Sub(w.at) < time.Second {
		return w.full
	}
	metrics.Read(w.samples)
	if w.samples[0].Value.Kind() != metrics.KindFloat64 || w.samples[1].Value.Kind() != metrics.KindFloat64 {
		return false
	}
	idle, all := w.samples[0].Value.Float64(), w.samples[1].Value.Float64()
	if !w.at.IsZero() && all > w.all {
		w.full = (idle-w.idle)/(all-w.all) < saturationIdle
	}
	w.at, w.idle, w.all = now, idle, all
	return w.full
}
