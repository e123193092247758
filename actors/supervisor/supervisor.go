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
	"sort"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/agentgw"
	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/node"
	"standby/actors/pair"
	"standby/actors/router"
	"standby/conf"
	"standby/protocol/videohub/vhsim"
)

// RouterFactory builds the actor for one router. Subscribers of its Status and LockAlerts are
// the pair actors whose PIDs follow from pairs' names.
type RouterFactory func(env RouterEnv) (*actor.Props, error)

// RouterEnv is what a router actor needs from the supervisor.
type RouterEnv struct {
	Router conf.Router
	// Pairs are the pairs switched through this router, with their PIDs.
	Pairs  []conf.Pair
	PIDs   map[string]*actor.PID
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
	// MachineHook and PairHook run first on every message of every machine / pair actor; tests
	// inject panics with them.
	MachineHook func(machine string, msg any)
	PairHook    func(pair string, msg any)
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
	sim      *demoDriver
	// pauses notices the supervisor's own pauses, which machines must not be blamed for.
	pauses *clock.PauseWatch
	hubs   map[string]*vhsim.Server // in-process simulators of routers with simulate = true
	// agents are the demo's agent processes, by machine; kept across reloads.
	agents map[string]*demoAgent

	routersMu sync.Mutex
	routers   map[string]router.Status // latest status of each router
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
		n, err := node.Start(node.Options{Listen: opts.Listen, Advertise: opts.Advertise, Logger: opts.Logger, Clock: opts.Clock})
		if err != nil {
			s.pauses.Stop()
			return nil, err
		}
		s.node, s.sys = n, n.System
	} else {
		s.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(sys *actor.ActorSystem) *slog.Logger {
			return slog.New(zerolog.NewSlogHandler(opts.Logger.Level(maxLevel(opts.Logger.GetLevel(), zerolog.WarnLevel)).
				With().Str("lib", "protoactor").Logger()))
		}))
	}
	s.routers = map[string]router.Status{}
	s.sys.EventStream.Subscribe(func(evt interface{}) {
		switch e := evt.(type) {
		case *actor.SupervisorEvent:
			s.log.Error().Str("actor", e.Child.Id).Str("reason", fmt.Sprint(e.Reason)).Str("directive", e.Directive.String()).Msg("actor failed")
		case *router.Status:
			s.routersMu.Lock()
			s.routers[e.Router] = *e
			s.routersMu.Unlock()
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
	if err := s.apply(nil, opts.Config); err != nil {
		s.Stop()
		return nil, err
	}
	if s.node != nil {
		// Agents reach the tree through the gateway at pb.GatewayActorID ("standby/agents").
		gw := agentgw.Props(agentgw.Options{Token: opts.Config.Supervisor.AgentToken, Machines: machineNames(opts.Config),
			InitiallyActive: true, Supervisors: []string{s.sys.Address()}, Logger: s.log.With().Str("component", "agents").Logger(),
			Clock: opts.Clock})
		if _, err := s.SpawnRoot(AgentsName, gw); err != nil {
			s.Stop()
			return nil, err
		}
	}
	return s, nil
}

// AgentsName is the gateway's name under the root.
const AgentsName = "agents"

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

// PID returns the local PID of a child of the tree, e.g. PID(PairsDir, "cam1").
func (s *Supervisor) PID(group, name string) *actor.PID {
	return actor.NewPID(s.sys.Address(), RootName+"/"+group+"/"+name)
}

func (s *Supervisor) group(name string) *actor.PID {
	return actor.NewPID(s.sys.Address(), RootName+"/"+name)
}

// Reload applies a new, already validated config. Unchanged pairs keep their state; a pair whose
// policy changed keeps its state under the new policy; a pair whose machines or router changed
// starts afresh.
func (s *Supervisor) Reload(cfg *conf.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	s.mu.Lock()
	old := s.cfg
	s.mu.Unlock()
	return s.apply(old, cfg)
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
	machines, routers, pairs := s.group(MachinesDir), s.group(RoutersDir), s.group(PairsDir)

	// Pairs whose identity (machines, router) changed are replaced; gone ones stopped.
	for _, op := range old.Pairs {
		np := cfg.Pair(op.Name)
		if np == nil || np.Main != op.Main || np.Backup != op.Backup || np.Router != op.Router {
			stopIn(s.sys, pairs, op.Name)
		}
	}
	for _, om := range old.Machines {
		if cfg.Machine(om.Name) == nil {
			stopIn(s.sys, machines, om.Name)
		}
	}
	// Routers: respawn when their settings or their pairs changed (they hold the lock policy).
	for _, r := range cfg.Routers {
		or := old.Router(r.Name)
		if or != nil && reflect.DeepEqual(*or, r) && reflect.DeepEqual(pairsOf(old, r.Name), pairsOf(cfg, r.Name)) {
			continue
		}
		if r.Simulate {
			addr, err := s.simulate(cfg, r)
			if err != nil {
				return fmt.Errorf("router %q: simulator: %w", r.Name, err)
			}
			r.Address = addr
		}
		env := RouterEnv{Router: r, Pairs: pairsOf(cfg, r.Name), PIDs: map[string]*actor.PID{}, Clock: s.opts.Clock,
			Logger: s.log.With().Str("router", r.Name).Logger()}
		for _, p := range env.Pairs {
			env.PIDs[p.Name] = s.PID(PairsDir, p.Name)
		}
		props, err := s.opts.Routers(env)
		if err != nil {
			return fmt.Errorf("router %q: %w", r.Name, err)
		}
		if _, err := spawnIn(s.sys, routers, r.Name, props); err != nil {
			return err
		}
	}
	for _, or := range old.Routers {
		if cfg.Router(or.Name) == nil {
			stopIn(s.sys, routers, or.Name)
		}
	}
	// Pairs before machines, so the first condition a machine sends finds its pair.
	for i := range cfg.Pairs {
		p := cfg.Pairs[i]
		eng := pair.EngineConfig(cfg, &p)
		rpid := s.PID(RoutersDir, p.Router)
		op := old.Pair(p.Name)
		switch {
		case op != nil && op.Main == p.Main && op.Backup == p.Backup && op.Router == p.Router:
			if !reflect.DeepEqual(*op, p) || !reflect.DeepEqual(pair.EngineConfig(old, op), eng) {
				s.sys.Root.Send(s.PID(PairsDir, p.Name), &pair.Reconfigure{Pair: p, Engine: eng, Router: rpid})
				s.log.Info().Str("pair", p.Name).Msg("pair reconfigured, state kept")
			}
		default:
			name := p.Name
			var hook func(any)
			if s.opts.PairHook != nil {
				hook = func(m any) { s.opts.PairHook(name, m) }
			}
			props := pair.Props(pair.Options{Pair: p, Engine: eng, Router: rpid, Clock: s.opts.Clock,
				Logger: s.log, Hook: hook})
			if _, err := spawnIn(s.sys, pairs, p.Name, props); err != nil {
				return err
			}
		}
	}
	for i := range cfg.Machines {
		m := cfg.Machines[i]
		set, subs := s.machineSettings(cfg, &m), s.subscribers(cfg, m.Name)
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
			Clock: s.opts.Clock, Logger: s.log, Hook: hook})
		if _, err := spawnIn(s.sys, machines, m.Name, props); err != nil {
			return err
		}
	}
	if s.node != nil && !initial {
		s.sys.Root.Send(actor.NewPID(s.sys.Address(), RootName+"/"+AgentsName), &agentgw.SetMachines{Names: machineNames(cfg)})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cfg = cfg
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

func (s *Supervisor) subscribers(cfg *conf.Config, name string) []machine.Subscriber {
	var subs []machine.Subscriber
	for _, p := range cfg.Pairs {
		if p.Main == name {
			subs = append(subs, machine.Subscriber{PID: s.PID(PairsDir, p.Name), Side: failover.Main})
		}
		if p.Backup == name {
			subs = append(subs, machine.Subscriber{PID: s.PID(PairsDir, p.Name), Side: failover.Backup})
		}
	}
	return subs
}

func pairsOf(cfg *conf.Config, routerName string) []conf.Pair {
	var ps []conf.Pair
	for _, p := range cfg.Pairs {
		if p.Router == routerName {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name < ps[j].Name })
	return ps
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

// Pairs returns every pair's view, in config order.
func (s *Supervisor) Pairs() ([]pair.View, error) {
	cfg := s.Config()
	views := make([]pair.View, 0, len(cfg.Pairs))
	for _, p := range cfg.Pairs {
		res, err := s.sys.Root.RequestFuture(s.PID(PairsDir, p.Name), &pair.GetStatus{}, 2*time.Second).Result()
		if err != nil {
			return nil, fmt.Errorf("pair %q: %w", p.Name, err)
		}
		views = append(views, *res.(*pair.View))
	}
	return views, nil
}

// Command sends an operator event to a pair and returns the pair's refusal, if any.
func (s *Supervisor) Command(pairName string, ev failover.Event) error {
	if s.Config().Pair(pairName) == nil {
		return fmt.Errorf("%w %q", ErrUnknownPair, pairName)
	}
	res, err := s.sys.Root.RequestFuture(s.PID(PairsDir, pairName), &pair.Command{Event: ev}, 5*time.Second).Result()
	if err != nil {
		return fmt.Errorf("pair %q: %w", pairName, err)
	}
	if r := res.(*pair.CommandReply); r.Err != nil {
		return fmt.Errorf("pair %q: %w", pairName, r.Err)
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
	s.routersMu.Lock()
	defer s.routersMu.Unlock()
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

// ErrUnknownPair: a command named no configured pair.
var ErrUnknownPair = errors.New("unknown pair")

// Stop stops every actor and the actor system. Calling it again does nothing.
func (s *Supervisor) Stop() { s.stopOnce.Do(s.stop) }

func (s *Supervisor) stop() {
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
func pauseAfter(cfg *conf.Config) time.Duration {
	d := cfg.Supervisor.HeartbeatTimeout.Duration
	for i := range cfg.Machines {
		d = min(d, cfg.MachineTimeout(&cfg.Machines[i]))
	}
	return d / 2
}

// simulate starts (once per router name) the in-process Videohub simulator of a router with
// simulate = true, labelling its inputs with the machines that feed them, and returns its address.
func (s *Supervisor) simulate(cfg *conf.Config, r conf.Router) (string, error) {
	if h := s.hubs[r.Name]; h != nil {
		return h.Addr(), nil
	}
	o := vhsim.Options{Listen: r.Address, Inputs: r.Inputs, Outputs: r.Outputs, FriendlyName: r.Name,
		InputLabels: make([]string, r.Inputs), Logger: s.log.With().Str("sim", r.Name).Logger().Level(zerolog.WarnLevel)}
	for _, p := range pairsOf(cfg, r.Name) {
		for _, f := range p.Feeds {
			for _, in := range []struct {
				port    conf.Port
				machine string
			}{{f.MainInput, p.Main}, {f.BackupInput, p.Backup}} {
				if n := in.port.Number; n >= 1 && n <= r.Inputs {
					o.InputLabels[n-1] = in.machine
				}
			}
		}
	}
	h, err := vhsim.Start(o)
	if err != nil {
		return "", err
	}
	// A studio starts with its mains on air: every pair output on its main's input.
	for _, p := range pairsOf(cfg, r.Name) {
		for _, f := range p.Feeds {
			for _, out := range f.Outputs {
				if out.Number >= 1 && out.Number <= r.Outputs && f.MainInput.Number >= 1 && f.MainInput.Number <= r.Inputs {
					_ = h.SetRoute(out.Number-1, f.MainInput.Number-1)
				}
			}
		}
	}
	s.hubs[r.Name] = h
	s.log.Info().Str("router", r.Name).Str("address", h.Addr()).Msgf("simulated Videohub %dx%d started (standby router --address %s status)", r.Inputs, r.Outputs, h.Addr())
	return h.Addr(), nil
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
	if opts.OnStart != nil {
		stop, err := opts.OnStart(s)
		if err != nil {
			return err
		}
		if stop != nil {
			defer stop()
		}
	}
	s.log.Info().Str("supervisor", opts.Config.Supervisor.Name).Str("remote", s.sys.Address()).Int("pairs", len(opts.Config.Pairs)).
		Int("machines", len(opts.Config.Machines)).Int("routers", len(opts.Config.Routers)).Msg("standby running")
	for {
		select {
		case <-ctx.Done():
			s.log.Info().Msg("stopping")
			return nil
		case cfg := <-reload:
			if err := s.Reload(cfg); err != nil {
				s.log.Error().Err(err).Msg("reload failed")
				continue
			}
			s.log.Info().Msg("config reloaded")
		}
	}
}

func videohubOptions(env RouterEnv) router.VideohubOptions {
	return router.VideohubOptions{Router: env.Router, Pairs: env.Pairs, PIDs: env.PIDs, Clock: env.Clock, Log: env.Logger}
}
