// Package supervisor wires Standby's resident process: the actor system, the supervision tree of
// machine, router and pair actors, config reload, and Run for `standby run`. It is embeddable so
// tests run a whole supervisor in-process; cmd/standby only turns flags and signals into Options
// and a context.
package supervisor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/action"
	"standby/actors/agentgw"
	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/node"
	"standby/actors/pool"
	"standby/actors/redundancy"
	"standby/actors/router"
	"standby/conf"
	"standby/protocol/identity"
	"standby/protocol/pb"
	"standby/protocol/videohub/vhsim"
)

// RouterFactory builds the actor for one router. Pool actors subscribe to it (router.Subscribe).
type RouterFactory func(env RouterEnv) (*actor.Props, error)

// RouterEnv is what a router actor needs from the supervisor.
type RouterEnv struct {
	Router conf.Router
	Clock  clock.Clock
	Logger zerolog.Logger
}

// Options configure a supervisor.
type Options struct {
	Config *conf.Config
	// Listen is the protoactor remote endpoint (agents, control UIs, the peer supervisor);
	// empty runs without one (tests of the tree). Advertise is the address peers dial back.
	Listen, Advertise string
	Logger            zerolog.Logger
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// Routers builds router actors; nil means the Videohub router actor.
	Routers RouterFactory
	// AgentBinary, with a remote endpoint, makes the demo studio run a real `standby agent`
	// process with simulated services for each simulated machine (cmd/standby passes its own
	// executable). Without it simulated machines are fed in-process.
	AgentBinary string
	// OnStart runs once the tree is up (control surfaces attach here); the returned func runs
	// at stop. An error stops the supervisor.
	OnStart func(s *Supervisor) (stop func(), err error)
	// OnReload, when set, is told the outcome of each config from Run's reload channel (nil:
	// applied); /metrics and systemd's status follow it.
	OnReload func(err error)
	// MachineHook and PoolHook run first on every message of every machine / pool actor; tests
	// inject panics with them.
	MachineHook func(machine string, msg any)
	PoolHook    func(pool string, msg any)
	// GatewayHook runs first on every message of the agent gateway; tests slow it down with it.
	GatewayHook func(msg any)
}

// Supervisor is a running supervisor.
type Supervisor struct {
	opts Options
	log  zerolog.Logger
	sys  *actor.ActorSystem
	node *node.Node // nil without a remote endpoint
	root *actor.PID

	reloadMu sync.Mutex // one reload at a time (SIGHUP and mapping edits may race)
	stopOnce sync.Once
	mu       sync.Mutex // guards cfg and the demo driver during reload
	cfg      *conf.Config
	pools    []PoolEntry    // derived from cfg, kept with it
	poolAt   map[string]int // pools' index by name: looked up per pool, a scan made status O(n²)
	sim      *demoDriver
	// pauses notices the supervisor's own pauses, which machines must not be blamed for.
	pauses *clock.PauseWatch
	// inboxes are the machines' heartbeat slots, shared by the gateway and the machine actors.
	inboxes machine.Inboxes
	// queue counts what waits in the gateway's mailbox and what it shed.
	queue agentgw.Queue
	hubs  map[string]*vhsim.Server // in-process simulators of routers with simulate = true
	// agents are the demo's agent processes, by machine; kept across reloads.
	agents map[string]*demoAgent

	// eventsMu guards what is kept from the event stream: each router's latest status, and the
	// pools' latest View (pool.ViewEvent), of which the state document's copy is made (asking
	// every pool after each transition cost thousands of round trips a save at facility scale).
	eventsMu sync.Mutex
	routers  map[string]router.Status
	views    map[string]pool.View

	// standby and term are this supervisor's role in its pair (guarded by mu): a standby
	// supervisor's pools route nothing; new pools are spawned in the current role.
	standby bool
	term    uint64

	// state is the supervisor's state document (state.go).
	state stateBox
}

// Start builds the actor system and the tree for opts.Config.
func Start(opts Options) (*Supervisor, error) {
	if opts.Config == nil {
		return nil, fmt.Errorf("supervisor: no config")
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	if opts.Routers == nil {
		opts.Routers = func(env RouterEnv) (*actor.Props, error) { return router.VideohubProps(videohubOptions(env)), nil }
	}
	s := &Supervisor{opts: opts, log: opts.Logger, hubs: map[string]*vhsim.Server{}}
	s.pauses = clock.WatchPauses(opts.Clock, opts.Config.Supervisor.Tick.Duration, pauseAfter(opts.Config), func(gap time.Duration) {
		s.log.Warn().Dur("paused_ms", gap).Msg("supervisor was paused (GC, SIGSTOP, VM or CPU starvation): machines get a fresh heartbeat timeout")
	})
	if opts.Listen != "" {
		creds, err := loadTLS(opts.Config, opts.Clock.Now())
		if err != nil {
			s.pauses.Stop()
			return nil, err
		}
		n, err := node.Start(node.Options{Listen: opts.Listen, Advertise: opts.Advertise, Logger: opts.Logger, Clock: opts.Clock, TLS: creds})
		if err != nil {
			s.pauses.Stop()
			return nil, err
		}
		s.node, s.sys = n, n.System
		if creds != nil {
			s.log.Info().Str("identity", creds.Self.String()).Str("ca", opts.Config.TLS.CA).Time("expires", creds.NotAfter).
				Msg("links are mutual TLS with the studio CA")
		} else {
			s.log.Warn().Msg("links are not authenticated: anyone on the network can forge a failover; set up [tls] with `standby certs`")
		}
	} else {
		s.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
			return slog.New(zerolog.NewSlogHandler(opts.Logger.Level(maxLevel(opts.Logger.GetLevel(), zerolog.WarnLevel)).
				With().Str("lib", "protoactor").Logger()))
		}))
	}
	s.routers, s.views = map[string]router.Status{}, map[string]pool.View{}
	s.sys.EventStream.Subscribe(func(evt interface{}) {
		switch e := evt.(type) {
		case *actor.SupervisorEvent:
			s.log.Error().Str("actor", e.Child.Id).Str("reason", fmt.Sprint(e.Reason)).Str("directive", e.Directive.String()).Msg("actor failed")
		case *router.Status:
			s.eventsMu.Lock()
			s.routers[e.Router] = *e
			s.eventsMu.Unlock()
		case *pool.ViewEvent:
			s.eventsMu.Lock()
			s.views[e.View.Name] = e.View
			s.eventsMu.Unlock()
		case *pool.Event:
			s.poolChanged()
		}
	})
	root, err := s.sys.Root.SpawnNamed(rootProps(s.log), RootName)
	if err != nil {
		s.Stop()
		return nil, err
	}
	s.root = root
	if _, err := s.sys.Root.RequestFuture(root, &whenReady{}, 5*time.Second).Result(); err != nil {
		s.Stop()
		return nil, fmt.Errorf("supervision tree did not start: %w", err)
	}
	paired := opts.Config.Redundancy.Paired() && s.node != nil
	if paired {
		// Standby until the pair decides: pools are spawned routing nothing.
		term, err := redundancy.ReadTerm(opts.Config.Supervisor.StateDir)
		if err != nil {
			s.Stop()
			return nil, err
		}
		s.standby, s.term = true, term
	}
	if err := s.startActions(opts.Config); err != nil {
		s.Stop()
		return nil, err
	}
	if err := s.apply(nil, s.openState(opts.Config)); err != nil {
		s.Stop()
		return nil, err
	}
	s.resumePools()
	s.startState()
	if s.node != nil {
		// Agents reach the tree through the gateway at pb.GatewayActorID ("standby/agents").
		gw := agentgw.Props(agentgw.Options{Token: opts.Config.Supervisor.AgentToken, Machines: machineNames(s.Config()), Name: opts.Config.Supervisor.Name,
			InitiallyActive: !paired, Supervisors: []string{s.sys.Address()}, Logger: s.log.With().Str("component", "agents").Logger(),
			Clock: opts.Clock, Inboxes: &s.inboxes, Beacon: replyBeacon(opts.Config), LagBound: pauseAfter(opts.Config), Pauses: s.pauses,
			Queue: &s.queue, Hook: opts.GatewayHook, WatchCPU: true})
		// Bounded in reports: past the bound heartbeats are shed, past the limit changes too.
		if _, err := spawnIn(s.sys, s.root, AgentsName, gw, agentgw.Mailbox(agentgw.MailboxOptions{Pauses: s.pauses, Queue: &s.queue, Clock: opts.Clock})); err != nil {
			s.Stop()
			return nil, err
		}
	}
	if paired {
		r := opts.Config.Redundancy
		agents := agentsOf(s.Config())
		link := redundancy.LinkProps(redundancy.LinkOptions{
			Config: redundancy.Config{Mode: r.Mode, Name: opts.Config.Supervisor.Name, FailoverOffset: r.FailoverOffset.Duration,
				AutoFailback: r.Failback == conf.ModeAutomatic, Agents: agents, SyncInterval: r.SyncInterval.Duration},
			Peer: r.Peer, Self: s.sys.Address(), SyncInterval: r.SyncInterval.Duration, StateDir: opts.Config.Supervisor.StateDir,
			Gateway: s.group(AgentsName), OnRole: s.SetRole, OnQuorum: s.SetQuorum, HeartbeatTimeout: opts.Config.Supervisor.HeartbeatTimeout.Duration,
			Held: s.HeldState, Doc: s.Doc, Apply: s.adoptPools, StateEvery: 4,
			Clock: opts.Clock, Logger: s.log})
		if _, err := s.SpawnRoot(SyncName, link); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// AgentsName is the gateway's name under the root; SyncName the sync link's (pb.SyncActorID).
const (
	AgentsName = "agents"
	SyncName   = "sync"
)

// agentsOf is how many of cfg's machines have agents (not simulated): the witnesses' electorate.
func agentsOf(cfg *conf.Config) int {
	n := 0
	for _, m := range cfg.Machines {
		if !m.Simulated {
			n++
		}
	}
	return n
}

func machineNames(cfg *conf.Config) []string {
	names := make([]string, len(cfg.Machines))
	for i, m := range cfg.Machines {
		names[i] = m.Name
	}
	return names
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}

// System is the actor system (for control surfaces and tests).
func (s *Supervisor) System() *actor.ActorSystem { return s.sys }

// Config is the config in force.
func (s *Supervisor) Config() *conf.Config {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cfg
}

// PID returns the local PID of a child of the tree, e.g. PID(PoolsDir, "cam1").
func (s *Supervisor) PID(group, name string) *actor.PID {
	return actor.NewPID(s.sys.Address(), RootName+"/"+group+"/"+name)
}

func (s *Supervisor) group(name string) *actor.PID {
	return actor.NewPID(s.sys.Address(), RootName+"/"+name)
}

// apply moves the tree from old (nil at start) to cfg.
func (s *Supervisor) apply(old, cfg *conf.Config) error {
	initial := old == nil
	if initial {
		old = &conf.Config{}
	}
	for _, w := range cfg.Warnings() {
		s.log.Warn().Msg(w)
	}
	s.pauses.SetAfter(pauseAfter(cfg))
	machines, routers, pools := s.group(MachinesDir), s.group(RoutersDir), s.group(PoolsDir)
	oldPools, newPools := s.PoolEntries(), poolsOf(cfg)

	for _, op := range oldPools {
		if findPool(newPools, op.Name) == nil {
			stopIn(s.sys, pools, op.Name)
		}
	}
	for _, om := range old.Machines {
		if cfg.Machine(om.Name) == nil {
			stopIn(s.sys, machines, om.Name)
		}
	}
	// Routers: respawned only when their own settings changed; pools subscribe to them.
	for _, r := range cfg.Routers {
		or := old.Router(r.Name)
		if or != nil && reflect.DeepEqual(*or, r) {
			continue
		}
		if r.Simulate {
			addr, err := s.simulate(cfg, r)
			if err != nil {
				return fmt.Errorf("router %q: simulator: %w", r.Name, err)
			}
			r.Address = addr
		}
		env := RouterEnv{Router: r, Clock: s.opts.Clock, Logger: s.log.With().Str("router", r.Name).Logger()}
		props, err := s.opts.Routers(env)
		if err != nil {
			return fmt.Errorf("router %q: %w", r.Name, err)
		}
		if _, err := spawnIn(s.sys, routers, r.Name, props); err != nil {
			return err
		}
		if or != nil {
			// The new router actor knows no subscribers yet: every pool on it subscribes again.
			for _, p := range newPools {
				if p.Router == r.Name && findPool(oldPools, p.Name) != nil {
					s.sys.Root.Send(s.PID(PoolsDir, p.Name), &pool.Reconfigure{Engine: p.Engine, Router: s.PID(RoutersDir, p.Router),
						LockOutputs: p.LockOutputs, ForceUnlock: p.ForceUnlock, Resubscribe: true})
				}
			}
		}
	}
	for _, or := range old.Routers {
		if cfg.Router(or.Name) == nil {
			stopIn(s.sys, routers, or.Name)
		}
	}
	// Pools before machines, so the first condition a machine sends finds its pool.
	for _, p := range newPools {
		rpid := s.PID(RoutersDir, p.Router)
		if op := findPool(oldPools, p.Name); op != nil {
			if !reflect.DeepEqual(*op, p) {
				s.sys.Root.Send(s.PID(PoolsDir, p.Name), &pool.Reconfigure{Engine: p.Engine, Router: rpid,
					LockOutputs: p.LockOutputs, ForceUnlock: p.ForceUnlock})
				s.log.Info().Str("pool", p.Name).Msg("pool reconfigured, state kept")
			}
			continue
		}
		if h := s.hubs[p.Router]; h != nil {
			wireSim(h, *cfg.Router(p.Router), []PoolEntry{p})
		}
		name := p.Name
		var hook func(any)
		if s.opts.PoolHook != nil {
			hook = func(m any) { s.opts.PoolHook(name, m) }
		}
		s.mu.Lock()
		standby, term := s.standby, s.term
		s.mu.Unlock()
		props := pool.Props(pool.Options{Name: p.Name, Pair: p.Pair, Engine: p.Engine, Router: rpid, LockOutputs: p.LockOutputs,
			ForceUnlock: p.ForceUnlock, Clock: s.opts.Clock, Logger: s.log, Hook: hook, Standby: standby, Term: term})
		if _, err := spawnIn(s.sys, pools, p.Name, props); err != nil {
			return err
		}
	}
	subsOf := s.subscribers(newPools)
	for i := range cfg.Machines {
		m := cfg.Machines[i]
		set, subs := s.machineSettings(cfg, &m), subsOf[m.Name]
		if om := old.Machine(m.Name); om != nil {
			s.sys.Root.Send(s.PID(MachinesDir, m.Name), &machine.Reconfigure{Settings: set, Subscribers: subs})
			continue
		}
		name := m.Name
		var hook func(any)
		if s.opts.MachineHook != nil {
			hook = func(msg any) { s.opts.MachineHook(name, msg) }
		}
		props := machine.Props(machine.Options{Name: m.Name, Settings: set, Subscribers: subs, Pauses: s.pauses,
			Clock: s.opts.Clock, Logger: s.log, Hook: hook, Inbox: s.inboxes.Get(m.Name), Through: s.through})
		if _, err := spawnIn(s.sys, machines, m.Name, props); err != nil {
			return err
		}
	}
	if s.node != nil && !initial {
		s.sys.Root.Send(actor.NewPID(s.sys.Address(), RootName+"/"+AgentsName), &agentgw.SetMachines{Names: machineNames(cfg)})
		if cfg.Redundancy.Paired() && agentsOf(cfg) != agentsOf(old) {
			// The witnesses' electorate (a secondary's studio arrives from its primary).
			s.sys.Root.Send(actor.NewPID(s.sys.Address(), RootName+"/"+SyncName), &redundancy.SetAgents{N: agentsOf(cfg)})
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg, s.pools, s.poolAt = cfg, newPools, indexPools(newPools)
	if s.standby || s.term > 0 {
		// A role change while this reload spawned pools may have missed them; the engines
		// ignore a role they already have.
		for _, p := range newPools {
			s.sys.Root.Send(s.PID(PoolsDir, p.Name), &pool.SetRole{Active: !s.standby, Term: s.term})
		}
	}
	if s.sim != nil && sameSimulation(old, cfg) {
		return nil // keep what operators set on simulated machines
	}
	if s.sim != nil {
		s.sim.stop()
		s.sim = nil
	}
	if !hasSimulated(cfg) {
		return nil
	}
	if err := s.startDemoAgents(cfg); err != nil {
		return err
	}
	s.sim = startDemo(s, cfg)
	return nil
}

func (s *Supervisor) machineSettings(cfg *conf.Config, m *conf.Machine) machine.Settings {
	timeout := cfg.MachineTimeout(m)
	set := machine.Settings{Timeout: timeout, Thresholds: map[string]failover.Thresholds{}}
	for name, t := range m.Health {
		th := failover.Thresholds{Warning: *t.Warning, Critical: *t.Critical}
		if t.Hysteresis != nil {
			th.Hysteresis = *t.Hysteresis
		} else {
			th.Hysteresis = failover.DefaultHysteresis(th.Warning, th.Critical)
		}
		set.Thresholds[name] = th
	}
	return set
}

// subscribers lists, by machine, the pool actors that use it.
func (s *Supervisor) subscribers(pools []PoolEntry) map[string][]machine.Subscriber {
	subs := map[string][]machine.Subscriber{}
	for _, p := range pools {
		pid := s.PID(PoolsDir, p.Name)
		for _, m := range slices.Concat(p.Engine.Mains, p.Engine.Backups) {
			subs[m.Name] = append(subs[m.Name], machine.Subscriber{PID: pid})
		}
	}
	return subs
}

// PoolEntry is one pool actor's settings: a [[pair]] or a [[pool]] of the config.
type PoolEntry struct {
	Name, Router             string
	Pair                     bool
	Engine                   failover.Config
	LockOutputs, ForceUnlock bool
}

// poolsOf lists the pools of cfg in config order: pairs first, then pools.
func poolsOf(cfg *conf.Config) []PoolEntry {
	var out []PoolEntry
	for _, sp := range cfg.PoolSpecs() {
		out = append(out, PoolEntry{Name: sp.Name, Router: sp.Router, Pair: sp.Pair, Engine: pool.Engine(cfg, &sp),
			LockOutputs: sp.LockOutputs, ForceUnlock: sp.ForceUnlock})
	}
	return out
}

// PoolEntries lists the pools in force (pairs first, then pools), as their actors run them.
func (s *Supervisor) PoolEntries() []PoolEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pools
}

// PoolEntry returns the pool (or pair) named name, or nil.
func (s *Supervisor) PoolEntry(name string) *PoolEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i, ok := s.poolAt[name]; ok {
		return &s.pools[i]
	}
	return nil
}

func indexPools(ps []PoolEntry) map[string]int {
	at := make(map[string]int, len(ps))
	for i, p := range ps {
		at[p.Name] = i
	}
	return at
}

func findPool(ps []PoolEntry, name string) *PoolEntry {
	for i := range ps {
		if ps[i].Name == name {
			return &ps[i]
		}
	}
	return nil
}

// sameSimulation reports whether two configs simulate the same machines with the same script.
func sameSimulation(a, b *conf.Config) bool {
	sim := func(c *conf.Config) []conf.Machine {
		var ms []conf.Machine
		for _, m := range c.Machines {
			if m.Simulated {
				ms = append(ms, m)
			}
		}
		return ms
	}
	return reflect.DeepEqual(sim(a), sim(b)) && reflect.DeepEqual(a.Demo, b.Demo) &&
		a.Supervisor.AgentToken == b.Supervisor.AgentToken
}

func hasSimulated(cfg *conf.Config) bool {
	for _, m := range cfg.Machines {
		if m.Simulated {
			return true
		}
	}
	return false
}

// Pools returns every pool's view (pairs included), in config order.
func (s *Supervisor) Pools() ([]pool.View, error) {
	ps := s.PoolEntries()
	views := make([]pool.View, 0, len(ps))
	for _, p := range ps {
		v, err := s.Pool(p.Name)
		if err != nil {
			return nil, err
		}
		views = append(views, *v)
	}
	return views, nil
}

// PoolView returns one pool's view as it last published it (pool.ViewEvent: after every message
// that may have changed it, and before it answers a Command), asking the pool only when it has
// published none yet: an operator's switch spares a round trip to the pool that way.
func (s *Supervisor) PoolView(name string) (*pool.View, error) {
	s.eventsMu.Lock()
	v, ok := s.views[name]
	s.eventsMu.Unlock()
	if ok && s.PoolEntry(name) != nil {
		return &v, nil
	}
	return s.Pool(name)
}

// Pool returns one pool's view.
func (s *Supervisor) Pool(name string) (*pool.View, error) {
	if s.PoolEntry(name) == nil {
		return nil, fmt.Errorf("%w %q", ErrUnknownPair, name)
	}
	res, err := s.sys.Root.RequestFuture(s.PID(PoolsDir, name), &pool.GetStatus{}, 2*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("pool %q: %w", name, err)
	}
	v, ok := res.(*pool.View)
	if !ok {
		return nil, fmt.Errorf("pool %q: unexpected answer %T", name, res)
	}
	return v, nil
}

// Command sends an operator event to a pool and returns the pool's refusal, if any.
func (s *Supervisor) Command(name string, ev failover.Event) error {
	if s.PoolEntry(name) == nil {
		return fmt.Errorf("%w %q", ErrUnknownPair, name)
	}
	res, err := s.sys.Root.RequestFuture(s.PID(PoolsDir, name), &pool.Command{Event: ev}, 5*time.Second).Result()
	if err != nil {
		return fmt.Errorf("pool %q: %w", name, err)
	}
	if r := res.(*pool.CommandReply); r.Err != nil {
		return fmt.Errorf("pool %q: %w", name, r.Err)
	}
	if _, ok := ev.(failover.Acknowledge); ok {
		s.poolChanged() // no pool event says so, and the state document keeps acknowledgements
	}
	return nil
}

// Machines returns every machine's snapshot, by name.
func (s *Supervisor) Machines() (map[string]machine.Snapshot, error) {
	cfg := s.Config()
	out := make(map[string]machine.Snapshot, len(cfg.Machines))
	for _, m := range cfg.Machines {
		res, err := s.sys.Root.RequestFuture(s.PID(MachinesDir, m.Name), &machine.GetSnapshot{}, 2*time.Second).Result()
		if err != nil {
			return nil, fmt.Errorf("machine %q: %w", m.Name, err)
		}
		out[m.Name] = res.(machine.Snapshot)
	}
	return out, nil
}

// Routers returns the latest status of every configured router.
func (s *Supervisor) Routers() []router.Status {
	cfg := s.Config()
	s.eventsMu.Lock()
	defer s.eventsMu.Unlock()
	out := make([]router.Status, 0, len(cfg.Routers))
	for _, r := range cfg.Routers {
		st, ok := s.routers[r.Name]
		if !ok {
			st = router.Status{Router: r.Name, Conn: router.Connecting}
		}
		out = append(out, st)
	}
	return out
}

// SpawnRoot spawns (or replaces) a named child of the root, e.g. the agent gateway "agents"
// (PID id "standby/agents") or the control endpoint.
func (s *Supervisor) SpawnRoot(name string, props *actor.Props) (*actor.PID, error) {
	return spawnIn(s.sys, s.root, name, props)
}

// RouterLacks lists what the routers as they are lack of the pair or pool named name in cfg
// ("input 99: hub1 has 12 inputs (1..12)"), so an edit that cannot be switched is refused when
// it is made. A router that is not connected, or not read yet, is not checked (the pool's
// mapping_invalid alarm catches it once it is).
func (s *Supervisor) RouterLacks(cfg *conf.Config, name string) []string {
	var out []string
	for _, p := range poolsOf(cfg) {
		if p.Name != name {
			continue
		}
		snap, err := s.RouterMirror(p.Router) // an unknown router is an error here: not checked
		if err != nil || snap.Status.Conn != router.Connected || !snap.Mirror.Known() {
			continue
		}
		for _, l := range pool.Lacks(snap.Mirror, p.Engine, p.Router).Ports {
			out = append(out, l.Reason)
		}
	}
	return out
}

// RouterMirror returns the router actor's current view of a router (its labels, routing, locks).
func (s *Supervisor) RouterMirror(name string) (*router.Snapshot, error) {
	if s.Config().Router(name) == nil {
		return nil, fmt.Errorf("unknown router %q", name)
	}
	res, err := s.sys.Root.RequestFuture(s.PID(RoutersDir, name), &router.GetMirror{}, 2*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("router %q: %w", name, err)
	}
	return res.(*router.Snapshot), nil
}

// Address is the remote endpoint's address ("nonhost" without one).
func (s *Supervisor) Address() string { return s.sys.Address() }

// ErrUnknownPair: a command named no configured pair or pool.
var ErrUnknownPair = errors.New("unknown pair")

// Stop stops every actor and the actor system. Calling it again does nothing.
func (s *Supervisor) Stop() { s.stopOnce.Do(s.stop) }

func (s *Supervisor) stop() {
	// The document first: what it saves must be the state before shutdown, and a save under way
	// must finish while the pools still answer and before the caller may remove state_dir.
	s.stopState()
	if s.node != nil {
		s.node.Stopping() // the demo agents stopped below would otherwise be logged as lost peers
	}
	s.mu.Lock()
	if s.sim != nil {
		s.sim.stop()
		s.sim = nil
	}
	for _, a := range s.agents {
		a.stop()
	}
	// Let them go first: an agent that sees its supervisor vanish before its own SIGTERM logs
	// the loss as an error.
	deadline := time.After(2 * time.Second)
	for _, a := range s.agents {
		select {
		case <-a.exited:
		case <-deadline:
		}
	}
	s.mu.Unlock()
	if s.root != nil {
		_ = s.sys.Root.StopFuture(s.root).Wait()
	}
	if s.node != nil {
		s.node.Stop()
	} else {
		s.sys.Shutdown()
	}
	for _, h := range s.hubs {
		h.Close()
	}
	s.pauses.Stop()
}

// pauseAfter is the gap in the supervisor's own beat that counts as a pause: half the shortest
// heartbeat timeout, so a pause long enough to make a machine look silent is always noticed.
// Reports is the agent gateway's queue: reports handled, waiting, shed (for /metrics).
func (s *Supervisor) Reports() *agentgw.Queue { return &s.queue }

// through is the report path's watermark the machine actors judge silence by (agentgw.Queue):
// now without a gateway (no remote endpoint: nothing is delivered).
func (s *Supervisor) through(now time.Time) time.Time {
	if s.node == nil {
		return now
	}
	return s.queue.Through(now)
}

func pauseAfter(cfg *conf.Config) time.Duration {
	d := cfg.Supervisor.HeartbeatTimeout.Duration
	for i := range cfg.Machines {
		d = min(d, cfg.MachineTimeout(&cfg.Machines[i]))
	}
	return d / 2
}

// simulate starts (once per router name) the in-process Videohub simulator of a router with
// simulate = true, wired as a studio starts (wireSim), and returns its address.
func (s *Supervisor) simulate(cfg *conf.Config, r conf.Router) (string, error) {
	if h := s.hubs[r.Name]; h != nil {
		return h.Addr(), nil
	}
	o := vhsim.Options{Listen: r.Address, Inputs: r.Inputs, Outputs: r.Outputs, FriendlyName: r.Name,
		Logger: s.log.With().Str("sim", r.Name).Logger().Level(zerolog.WarnLevel)}
	h, err := vhsim.Start(o)
	if err != nil {
		return "", err
	}
	wireSim(h, r, poolsOf(cfg))
	s.hubs[r.Name] = h
	s.log.Info().Str("router", r.Name).Str("address", h.Addr()).Msgf("simulated Videohub %dx%d started (standby router --address %s status)", r.Inputs, r.Outputs, h.Addr())
	return h.Addr(), nil
}

// wireSim wires a simulated router as a studio is: its inputs labelled with the machines that
// feed them, every output of a main on that main's input (a studio starts with its mains on air;
// a pool added at run time is cabled the same way).
func wireSim(h *vhsim.Server, r conf.Router, pools []PoolEntry) {
	for _, p := range pools {
		if p.Router != r.Name {
			continue
		}
		for _, m := range slices.Concat(p.Engine.Mains, p.Engine.Backups) {
			for _, f := range m.Feeds {
				if n := f.Input.Number; n >= 1 && n <= r.Inputs {
					_ = h.SetInputLabel(n-1, m.Name)
				}
			}
		}
		for _, m := range p.Engine.Mains {
			for _, f := range m.Feeds {
				for _, out := range f.Outputs {
					if out.Number >= 1 && out.Number <= r.Outputs && f.Input.Number >= 1 && f.Input.Number <= r.Inputs {
						_ = h.SetRoute(out.Number-1, f.Input.Number-1)
					}
				}
			}
		}
	}
}

// Simulator returns the in-process simulator of a router with simulate = true, or nil.
func (s *Supervisor) Simulator(routerName string) *vhsim.Server { return s.hubs[routerName] }

// Run runs a supervisor until ctx is done, applying configs received on reload. A config that
// fails validation never reaches here: the caller reports its errors and keeps the running one.
func Run(ctx context.Context, opts Options, reload <-chan *conf.Config) error {
	if opts.Listen == "" {
		opts.Listen, opts.Advertise = opts.Config.Supervisor.Listen, opts.Config.Supervisor.Advertise
	}
	s, err := Start(opts)
	if err != nil {
		return err
	}
	defer s.Stop()
	limitMemory(s.Config(), s.log)
	if opts.OnStart != nil {
		stop, err := opts.OnStart(s)
		if err != nil {
			return err
		}
		if stop != nil {
			defer stop()
		}
	}
	s.log.Info().Str("supervisor", opts.Config.Supervisor.Name).Str("remote", s.sys.Address()).Int("pools", len(s.PoolEntries())).
		Int("machines", len(opts.Config.Machines)).Int("routers", len(opts.Config.Routers)).Msg("standby running")
	for {
		select {
		case <-ctx.Done():
			s.log.Info().Msg("stopping")
			return nil
		case cfg := <-reload:
			err := s.Reload(cfg)
			if opts.OnReload != nil {
				opts.OnReload(err)
			}
			if err != nil {
				s.log.Error().Err(err).Msg("reload failed")
				continue
			}
			s.log.Info().Msg("config reloaded")
			limitMemory(s.Config(), s.log)
		}
	}
}

func videohubOptions(env RouterEnv) router.VideohubOptions {
	return router.VideohubOptions{Router: env.Router, Clock: env.Clock, Log: env.Logger}
}

// loadTLS loads the supervisor's [tls] credentials (nil without [tls]), generating a studio CA and
// the certificates of the supervisor and of an "operator" first when the table says generate.
func loadTLS(cfg *conf.Config, now time.Time) (*identity.Credentials, error) {
	t := cfg.TLS
	if !t.Enabled() {
		return nil, nil
	}
	if t.Generate {
		dir := conf.GeneratedDir(cfg.Supervisor.StateDir)
		for _, o := range []identity.IssueOptions{
			{Role: identity.RoleSupervisor, Names: []string{cfg.Supervisor.Name}},
			{Role: identity.RoleOperator, Names: []string{"operator"}},
		} {
			if _, _, err := identity.Ensure(dir, o, now); err != nil {
				return nil, fmt.Errorf("tls generate in %s: %w", dir, err)
			}
		}
	}
	creds, err := identity.Load(t.Files(), now)
	if err != nil {
		return nil, err
	}
	if creds.Self.Role != identity.RoleSupervisor {
		return nil, fmt.Errorf("tls cert %s is a certificate of %s, not of a supervisor", t.Cert, creds.Self)
	}
	return creds, nil
}

// SetRole makes this supervisor the active one of its pair or a standby, under term: the pools of
// a standby follow the router and their machines and route nothing, and the agent gateway tells
// agents it is not active. A term lower than the current one is refused (a supervisor that
// learned of a higher term never goes back).
func (s *Supervisor) SetRole(active bool, term uint64) error {
	s.mu.Lock()
	if term < s.term {
		cur := s.term
		s.mu.Unlock()
		return fmt.Errorf("role change of term %d refused: this supervisor is at term %d", term, cur)
	}
	changed := s.standby == active || s.term != term
	s.standby, s.term = !active, term
	s.mu.Unlock()
	if !changed {
		return nil
	}
	// Pools spawned meanwhile by a reload read the new role; these are told.
	s.tellPools(&pool.SetRole{Active: active, Term: term})
	if active {
		s.poolChanged() // this side writes the state document from now on
	}
	if s.node != nil {
		s.sys.Root.Send(s.group(AgentsName), &agentgw.SetActive{Active: active, Term: term})
	}
	role := "standby"
	if active {
		role = "active"
	}
	s.log.Warn().Str("role", role).Uint64("term", term).Msg("supervisor role changed")
	s.sys.EventStream.Publish(&action.RoleChanged{Active: active, Term: term})
	return nil
}

// Redundancy is the sync link's view; nil without a peer supervisor.
func (s *Supervisor) Redundancy() (*redundancy.View, error) {
	if !s.Config().Redundancy.Paired() || s.node == nil {
		return nil, nil
	}
	res, err := s.sys.Root.RequestFuture(s.group(SyncName), &redundancy.GetView{}, 2*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("sync link: %w", err)
	}
	return res.(*redundancy.View), nil
}

// ErrNotPaired refuses Make primary on a supervisor without a peer.
var ErrNotPaired = errors.New("this supervisor has no peer ([redundancy] mode none)")

// MakePrimary is an operator's Make primary: this supervisor becomes the active one (at once when
// its peer is unavailable, else once the peer handed over). It says what happened.
func (s *Supervisor) MakePrimary(by string) (string, error) {
	if !s.Config().Redundancy.Paired() || s.node == nil {
		return "", ErrNotPaired
	}
	res, err := s.sys.Root.RequestFuture(s.group(SyncName), &redundancy.MakePrimaryRequest{By: by}, 2*time.Second).Result()
	if err != nil {
		return "", fmt.Errorf("sync link: %w", err)
	}
	r := res.(*redundancy.MakePrimaryReply)
	return r.Message, r.Err
}

// Resync is an operator's Resync now on the sync link; it says what it did.
func (s *Supervisor) Resync(by string) (string, error) {
	if !s.Config().Redundancy.Paired() || s.node == nil {
		return "", ErrNotPaired
	}
	res, err := s.sys.Root.RequestFuture(s.group(SyncName), &redundancy.ResyncRequest{By: by}, 2*time.Second).Result()
	if err != nil {
		return "", fmt.Errorf("sync link: %w", err)
	}
	r := res.(*redundancy.ResyncReply)
	return r.Message, r.Err
}

// poolsState is the pools' durable state for the peer supervisor (pb.SyncState).
func (s *Supervisor) poolsState() (*pb.SyncState, error) {
	entries := s.PoolEntries()
	views := make([]pool.View, 0, len(entries))
	for _, e := range entries {
		s.eventsMu.Lock()
		v, ok := s.views[e.Name]
		s.eventsMu.Unlock()
		if !ok { // not started yet: ask, as it will publish once it has
			w, err := s.Pool(e.Name)
			if err != nil {
				return nil, err
			}
			v = *w
		}
		views = append(views, v)
	}
	st := &pb.SyncState{}
	for _, v := range views {
		p := &pb.SyncState_Pool{Name: v.Name, Automatic: v.Automatic, Failback: v.Failback}
		for _, sl := range v.Slots {
			ps := &pb.SyncState_Slot{Main: sl.Main, OnAir: sl.OnAir, FailedOver: sl.FailedOver, Latched: sl.Latched}
			for _, a := range sl.Alarms {
				ps.Alarms = append(ps.Alarms, &pb.SyncState_Alarm{Kind: string(a.Kind), Message: a.Message, SinceMs: a.Since.UnixMilli(), Active: a.Active, Acked: a.Acked})
			}
			p.Slots = append(p.Slots, ps)
		}
		st.Pools = append(st.Pools, p)
	}
	return st, nil
}

// SetQuorum tells the pools whether a silent machine may be failed over (redundancy.Quorum).
func (s *Supervisor) SetQuorum(ok bool) { s.tellPools(&pool.SetQuorum{OK: ok}) }

// tellPools sends msg to every pool actor of the config in force (pools only read it).
func (s *Supervisor) tellPools(msg any) {
	s.mu.Lock()
	names := make([]string, len(s.pools))
	for i, p := range s.pools {
		names[i] = p.Name
	}
	s.mu.Unlock()
	for _, n := range names {
		s.sys.Root.Send(s.PID(PoolsDir, n), msg)
	}
}

// Role is this supervisor's role: whether it is the active one, and its term.
func (s *Supervisor) Role() (active bool, term uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !s.standby, s.term
}

// LinksAuthenticated reports whether the protoactor links are mutual TLS with the studio CA.
func (s *Supervisor) LinksAuthenticated() bool { return s.node != nil && s.node.Identity.Role != "" }

// Identity is this supervisor's certificate identity ("supervisor studio-a"), "" in plaintext.
func (s *Supervisor) Identity() string {
	if !s.LinksAuthenticated() {
		return ""
	}
	return s.node.Identity.String()
}

// RemoteRefusals counts inbound remote messages and handshakes refused, by type and sender role.
func (s *Supervisor) RemoteRefusals() map[node.RefusalKey]uint64 {
	if s.node == nil {
		return nil
	}
	return s.node.Refused.Snapshot()
}

// replyBeacon is how long the gateway leaves an agent's unchanged heartbeats unanswered. Paired, a
// tenth of failover_offset, so the silence agents report of a supervisor stays far below the half
// offset the witnesses' vote allows; alone, a second (replies then only tell agents they are heard).
func replyBeacon(c *conf.Config) time.Duration {
	if c.Redundancy.Paired() {
		return c.Redundancy.FailoverOffset.Duration / 10
	}
	return time.Second
}
