package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/node"
	"standby/conf"
	"standby/protocol/identity"
	"standby/protocol/pb"
)

// studioOptions describe one setup.
type studioOptions struct {
	bin  string
	dir  string
	mode Mode // ModeAgents or ModeSimulated (resolved)
	// pairs in the setup; the first agentPairs have agent processes (ModeAgents), the others are
	// simulated machines driven by the supervisor's demo driver at its fixed 50 ms beat.
	pairs, agentPairs int
	heartbeatInterval time.Duration
	heartbeatTimeout  time.Duration
	failbackAfter     time.Duration
	pingInterval      time.Duration
	// pool adds the pool scenario's pool (poolMains mains, poolBackups backups) on its own
	// simulated router, with agent processes and engines for its machines (ModeAgents).
	pool bool
	// tls runs every protoactor link on mutual TLS with the setup's own studio CA.
	tls bool
	// takeover runs a pair of supervisors (primary and secondary-failover), agents reporting to both.
	takeover bool
	// actions is TOML appended to the supervisor's config ([[action]] entries); empty: none.
	actions string
	// pin runs the supervisor on CPU 0 and the load processes on CPU 1 (taskset), so the load
	// generator never takes the supervisor's core: the overload scenario.
	pin bool
	// loads is how many load processes share the machines beyond the agent pairs (each its own
	// connection, as many hosts of agents would be); zero means one.
	loads    int
	log      zerolog.Logger
	progress func(format string, args ...any)
}

// Studio is one running setup: simulated Videohubs, the supervisor, agents and engines, and an
// Observer per router. Close kills everything it started.
type Studio struct {
	o     studioOptions
	procs procs

	sims      []*child
	simAddrs  []string
	observers []*Observer

	poolSim      *child    // the pool's router (pool only)
	poolAddr     string    // its address
	poolObserver *Observer // the bench's own connection to it

	sup      *child
	supLog   *supLog
	ctl      *ctlPipe // ModeSimulated
	api      error    // nil when the control API answers
	supCmd   string   // how the supervisor was started, for the report
	load     *child   // the (first) load process (ModeAgents with agentPairs < pairs)
	loads    []*child // every load process, with its config file
	loadCfgs []string
	httpAddr string
	agentTok string
	opTok    string

	mu         sync.Mutex
	engines    map[string]*child    // machine → its engine process (ModeAgents)
	agents     map[string]*child    // machine → its agent process
	agentAddrs map[string]string    // machine → the agent's remote endpoint
	agentSaw   map[string]time.Time // machine → when its agent last logged a service down
	node       *node.Node           // the bench's own remote endpoint, for SimSet (ModeAgents)
	sleepPath  string
	tls        *benchTLS // nil: plaintext links

	// The takeover scenario's pair of supervisors: the primary is sup (started from supSpec
	// again after each run), the secondary sup2.
	supSpec      childSpec
	sup2         *child
	supLog2      *supLog
	addrA, addrB string
}

// startStudio starts a setup and waits until every pair is armed on its main.
func startStudio(ctx context.Context, o studioOptions) (_ *Studio, err error) {
	if o.progress == nil {
		o.progress = func(string, ...any) {}
	}
	s := &Studio{o: o, supLog: newSupLog(), engines: map[string]*child{}, agents: map[string]*child{},
		agentAddrs: map[string]string{}, agentSaw: map[string]time.Time{}, agentTok: secret(), opTok: secret()}
	defer func() {
		if err != nil {
			s.Close()
		}
	}()
	for _, d := range []string{"logs", "agents", "engines", "state"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if o.tls {
		if s.tls, err = newBenchTLS(filepath.Join(o.dir, "tls")); err != nil {
			return nil, err
		}
	}
	if o.mode == ModeAgents {
		if s.sleepPath, err = exec.LookPath("sleep"); err != nil {
			return nil, fmt.Errorf("engine processes: %w", err)
		}
	}
	if err := s.startRouters(ctx); err != nil {
		return nil, err
	}
	// Ports are picked free and bound by the child a moment later; under parallel tests another
	// process may take one in between. That is retried with fresh ports, nothing else is.
	for attempt := 1; ; attempt++ {
		err := s.startSupervisor(ctx)
		if err == nil {
			break
		}
		if attempt == 3 || !bindConflict(s.logPath("supervisor")) {
			return nil, err
		}
		s.o.progress("supervisor: a port was taken meanwhile; retrying with fresh ports")
	}
	if o.mode == ModeAgents && o.agentPairs < o.pairs {
		if err := s.startLoad(); err != nil {
			return nil, err
		}
	}
	if o.mode == ModeAgents {
		var machines []string
		for i := range o.agentPairs {
			p := pairAt(i)
			machines = append(machines, p.main, p.backup)
		}
		if o.pool {
			machines = append(machines, poolMachines()...)
		}
		for _, m := range machines {
			if err := s.startEngine(m); err != nil {
				return nil, err
			}
			if err := s.startAgent(m); err != nil {
				return nil, err
			}
		}
	}
	wait := 15*time.Second + time.Duration(o.pairs)*20*time.Millisecond
	wctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	if err := s.waitSteady(wctx, -1); err != nil {
		return nil, fmt.Errorf("pairs not armed on their mains within %s: %w%s", wait, err, s.hint())
	}
	if o.pool {
		if err := s.waitPoolSteady(wctx); err != nil {
			return nil, fmt.Errorf("pool not armed on its mains within %s: %w%s", wait, err, s.hint())
		}
	}
	return s, nil
}

// hint says where to look when the setup does not come up.
func (s *Studio) hint() string {
	msg := fmt.Sprintf(" (supervisor log %s)", filepath.Join(s.o.dir, "logs", "supervisor.log"))
	if s.o.mode == ModeAgents {
		msg += "; agents report to the supervisor's gateway (standby/agents): is it wired in this build?"
	}
	return msg
}

func (s *Studio) logPath(name string) string { return filepath.Join(s.o.dir, "logs", name+".log") }

// startRouters starts one simulated Videohub process per router, routes every pair's output to
// its main input and connects an Observer to each.
func (s *Studio) startRouters(ctx context.Context) error {
	n := routerCount(s.o.pairs)
	for r := range n {
		in, out := routerSize(r, s.o.pairs)
		c, addr, err := s.startSim(ctx, fmt.Sprintf("hub%d", r), in, out)
		if err != nil {
			return err
		}
		s.sims, s.simAddrs = append(s.sims, c), append(s.simAddrs, addr)
	}
	for i := range s.o.pairs {
		p := pairAt(i)
		if err := s.sims[p.router].send(fmt.Sprintf("route %d %d", p.out+1, p.mainIn+1)); err != nil {
			return err
		}
	}
	for r, addr := range s.simAddrs {
		ob, err := Observe(ctx, addr)
		if err != nil {
			return err
		}
		s.observers = append(s.observers, ob)
		_ = r
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for i := range s.o.pairs {
		p := pairAt(i)
		if _, err := s.observers[p.router].WaitRoute(wctx, p.out, p.mainIn); err != nil {
			return fmt.Errorf("initial routing of %s: %w", p.name, err)
		}
	}
	s.o.progress("%d simulated Videohub(s) up, every output on its main", n)
	if s.o.pool {
		return s.startPoolRouter(ctx)
	}
	return nil
}

// startSim starts one simulated Videohub process and returns it with its address.
func (s *Studio) startSim(ctx context.Context, name string, in, out int) (*child, string, error) {
	addrCh := make(chan string, 1)
	onLine := func(line string) {
		if !strings.Contains(line, "videohub simulator listening") {
			return
		}
		var m struct {
			Addr string `json:"addr"`
		}
		if json.Unmarshal([]byte(line), &m) == nil && m.Addr != "" {
			select {
			case addrCh <- m.Addr:
			default:
			}
		}
	}
	c, err := s.procs.start(childSpec{name: name, path: s.o.bin,
		args: []string{"sim", "videohub", "--listen", "127.0.0.1:0", "--inputs", strconv.Itoa(in), "--outputs", strconv.Itoa(out),
			"--name", "bench " + name, "--control", "--log-level", "info"},
		logPath: s.logPath(name), stdin: true, onLine: onLine})
	if err != nil {
		return nil, "", err
	}
	select {
	case addr := <-addrCh:
		return c, addr, nil
	case <-c.done:
		return nil, "", fmt.Errorf("videohub simulator exited: %v (log %s)", c.err, s.logPath(c.name))
	case <-time.After(10 * time.Second):
		return nil, "", fmt.Errorf("videohub simulator did not start in 10 s (log %s)", s.logPath(c.name))
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
}

// startPoolRouter starts the pool's own simulated Videohub (inputs for every pool machine, an
// output per main), routes each main's output to its input and connects the pool's Observer.
func (s *Studio) startPoolRouter(ctx context.Context) error {
	c, addr, err := s.startSim(ctx, poolRouterName, poolMains+poolBackups, poolMains)
	if err != nil {
		return err
	}
	s.poolSim, s.poolAddr = c, addr
	for k := range poolMains {
		if err := c.send(fmt.Sprintf("route %d %d", k+1, k+1)); err != nil {
			return err
		}
	}
	if s.poolObserver, err = Observe(ctx, addr); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	for k := range poolMains {
		if _, err := s.poolObserver.WaitRoute(wctx, k, k); err != nil {
			return fmt.Errorf("initial routing of %s: %w", poolMain(k), err)
		}
	}
	s.o.progress("pool router %s up (%d inputs, %d outputs), every output on its main", poolRouterName, poolMains+poolBackups, poolMains)
	return nil
}

// startSupervisor writes the config and starts the supervisor process.
func (s *Studio) startSupervisor(ctx context.Context) error {
	var err error
	if s.httpAddr, err = freePort(); err != nil {
		return err
	}
	sc := supConfig{
		pairs:            s.o.pairs,
		simulated:        func(int) bool { return s.o.mode == ModeSimulated },
		routers:          s.simAddrs,
		http:             s.httpAddr,
		stateDir:         filepath.Join(s.o.dir, "state"),
		heartbeatTimeout: s.o.heartbeatTimeout,
		agentToken:       s.agentTok,
		operatorToken:    s.opTok,
		failbackAfter:    s.o.failbackAfter,
		pingInterval:     s.o.pingInterval,
		poolRouter:       s.poolAddr,
		poolSimulated:    s.o.mode == ModeSimulated,
	}
	if s.o.takeover {
		if err := s.startSecondary(ctx, sc); err != nil {
			return err
		}
	}
	cfg := supervisorTOML(sc) + s.o.actions
	tbl, err := s.tls.table(identity.RoleSupervisor, "bench-supervisor")
	if err != nil {
		return err
	}
	cfg += tbl
	path := filepath.Join(s.o.dir, "supervisor.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	if s.o.takeover {
		cfg = supervisorTOML(s.pairConfig(sc, "bench", s.addrA, s.addrB, conf.RedundancyPrimary)) + tbl
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return err
		}
	}
	spec := childSpec{name: "supervisor", path: s.o.bin, logPath: s.logPath("supervisor"), onLine: s.supLog.line}
	// Simulated machines (ModeSimulated) are fed in-process by `standby bench supervisor` (which adds
	// the control pipe); `standby run` would start an agent process for each.
	if s.o.mode == ModeSimulated {
		s.ctl = newCtlPipe()
		spec.args = []string{"bench", "supervisor", "--config", path, "--log-level", "info"}
		spec.stdin, spec.onOut = true, s.ctl.line
	} else {
		spec.args = []string{"run", "--config", path, "--log-level", "info"}
	}
	s.supCmd = "standby " + strings.Join(spec.args[:2], " ")
	if s.o.pin {
		spec = pinned(spec, "0")
	}
	if s.sup, err = s.procs.start(spec); err != nil {
		return err
	}
	if s.ctl != nil {
		s.ctl.c = s.sup
	}
	s.supSpec = spec
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	sup := s.sup // s.sup is replaced when the takeover scenario restarts the primary
	go func() {  // a supervisor that dies ends the wait at once
		select {
		case <-sup.done:
			cancel()
		case <-wctx.Done():
		}
	}()
	err = s.supLog.wait(wctx, func(l *supLog) bool { return l.remote != "" })
	if s.sup.exited() {
		return fmt.Errorf("supervisor exited: %v (log %s)", s.sup.err, s.logPath("supervisor"))
	}
	if err != nil {
		return fmt.Errorf("supervisor did not start: %w (log %s)", err, s.logPath("supervisor"))
	}
	s.api = controlAPIAvailable(ctx, s.httpAddr, s.opTok)
	pool := ""
	if s.o.pool {
		pool = fmt.Sprintf(" and pool %s (%d mains, %d backups)", poolName, poolMains, poolBackups)
	}
	s.o.progress("supervisor up (pid %d, remote %s, %d pairs%s, machines: %s)", s.sup.pid(), s.supLog.remote, s.o.pairs, pool, s.machineKinds())
	return nil
}

// machineKinds says how machines are driven, for people.
func (s *Studio) machineKinds() string {
	if s.o.mode == ModeSimulated {
		return "supervisor-simulated (in-process, no agents)"
	}
	return describeMode(s.o.mode, s.o.pairs, s.o.agentPairs)
}

// startLoad starts one `standby bench agents` process reporting for the machines of every pair
// without agent processes.
func (s *Studio) startLoad() error {
	var machines []string
	for i := s.o.agentPairs; i < s.o.pairs; i++ {
		p := pairAt(i)
		machines = append(machines, p.main, p.backup)
	}
	n := max(s.o.loads, 1)
	for k := range n {
		// One host carrying many agents batches their reports (each tenth of an interval's in one message).
		lc := LoadConfig{Supervisor: s.supLog.remote, Token: s.agentTok, Machines: machines[k*len(machines)/n : (k+1)*len(machines)/n],
			Interval: s.o.heartbeatInterval, Batch: maxLoadBatch}
		if s.tls != nil {
			// One certificate for the many agents of one host: every pair machine.
			f, err := s.tls.files(identity.RoleAgent, "pair*")
			if err != nil {
				return err
			}
			lc.CA, lc.Cert, lc.Key = f.CA, f.Cert, f.Key
		}
		b, err := json.Marshal(lc)
		if err != nil {
			return err
		}
		name, path := "load-agents", filepath.Join(s.o.dir, "load.json")
		if k > 0 {
			name, path = fmt.Sprintf("load-agents-%d", k), filepath.Join(s.o.dir, fmt.Sprintf("load%d.json", k))
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
		spec := childSpec{name: name, path: s.o.bin, args: []string{"bench", "agents", "--config", path}, logPath: s.logPath(name)}
		if s.o.pin {
			spec = pinned(spec, "1")
		}
		c, err := s.procs.start(spec)
		if err != nil {
			return err
		}
		if k == 0 {
			s.load = c
		}
		s.loads, s.loadCfgs = append(s.loads, c), append(s.loadCfgs, path)
	}
	return nil
}

// startEngine starts machine m's watched engine process (sleep) and writes its pidfile.
func (s *Studio) startEngine(m string) error {
	c, err := s.procs.start(childSpec{name: m + "-engine", path: s.sleepPath, args: []string{"3600"}})
	if err != nil {
		return err
	}
	pf := filepath.Join(s.o.dir, "engines", m+".pid")
	tmp := pf + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.Itoa(c.pid())+"\n"), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp, pf); err != nil {
		return err
	}
	s.mu.Lock()
	old := s.engines[m]
	s.engines[m] = c
	s.mu.Unlock()
	if old != nil {
		s.procs.remove(old)
	}
	return nil
}

// startAgent starts machine m's agent process.
func (s *Studio) startAgent(m string) error {
	listen, err := freePort()
	if err != nil {
		return err
	}
	sups := []string{s.supLog.remote}
	if s.sup2 != nil {
		sups = append(sups, s.supLog2.remote)
	}
	cfg := agentTOML(agentConfig{machine: m, supervisors: sups, listen: listen, token: s.agentTok,
		interval: s.o.heartbeatInterval, pidfile: filepath.Join(s.o.dir, "engines", m+".pid")})
	tbl, err := s.tls.table(identity.RoleAgent, m)
	if err != nil {
		return err
	}
	cfg += tbl
	path := filepath.Join(s.o.dir, "agents", m+".toml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return err
	}
	onLine := func(line string) {
		if !strings.Contains(line, `"service down"`) {
			return
		}
		var l struct {
			Time string `json:"time"`
		}
		if json.Unmarshal([]byte(line), &l) != nil {
			return
		}
		if at, err := time.Parse(time.RFC3339Nano, l.Time); err == nil {
			s.mu.Lock()
			s.agentSaw[m] = at
			s.mu.Unlock()
		}
	}
	c, err := s.procs.start(childSpec{name: m + "-agent", path: s.o.bin, args: []string{"agent", "--config", path, "--log-level", "info"},
		logPath: s.logPath(m + "-agent"), onLine: onLine})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.agents[m], s.agentAddrs[m] = c, listen
	s.mu.Unlock()
	return nil
}

// waitSteady waits until pair i (every pair when i < 0) is on its main, armed, with both
// machines healthy, and its output shows the main input.
func (s *Studio) waitSteady(ctx context.Context, i int) error {
	idx := []int{i}
	if i < 0 {
		idx = make([]int, s.o.pairs)
		for k := range idx {
			idx[k] = k
		}
	}
	for _, k := range idx {
		p := pairAt(k)
		err := s.supLog.wait(ctx, func(l *supLog) bool {
			return l.pairs[p.name] == "on-main" && l.healthy(p.main) && l.healthy(p.backup)
		})
		if err != nil {
			s.supLog.mu.Lock()
			st, mm, mb := s.supLog.pairs[p.name], s.supLog.machines[p.main], s.supLog.machines[p.backup]
			s.supLog.mu.Unlock()
			return fmt.Errorf("%s is %q, main %+v, backup %+v: %w", p.name, st, mm, mb, err)
		}
		if _, err := s.observers[p.router].WaitRoute(ctx, p.out, p.mainIn); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	return nil
}

// waitPoolSteady waits until every main of the pool is on air on its own output, armed, and
// every pool machine is healthy.
func (s *Studio) waitPoolSteady(ctx context.Context) error {
	machines := poolMachines()
	err := s.supLog.wait(ctx, func(l *supLog) bool {
		for k := range poolMains {
			if !l.slotOnMain(poolMain(k)) {
				return false
			}
		}
		for _, m := range machines {
			if !l.healthy(m) {
				return false
			}
		}
		return true
	})
	if err != nil {
		s.supLog.mu.Lock()
		var b strings.Builder
		for k := range poolMains {
			fmt.Fprintf(&b, " %s %+v;", poolMain(k), s.supLog.slots[poolMain(k)])
		}
		for _, m := range machines {
			if !s.supLog.healthy(m) {
				fmt.Fprintf(&b, " %s not healthy %+v;", m, s.supLog.machines[m])
			}
		}
		s.supLog.mu.Unlock()
		return fmt.Errorf("pool %s:%s %w", poolName, b.String(), err)
	}
	for k := range poolMains {
		if _, err := s.poolObserver.WaitRoute(ctx, k, k); err != nil {
			return fmt.Errorf("%s: %w", poolMain(k), err)
		}
	}
	return nil
}

// --- injections: each returns the moment it acted ---

// crash kills (SIGKILL) the engine of machine m, or in ModeSimulated sets its engine down.
func (s *Studio) crash(ctx context.Context, m string) (time.Time, error) {
	if s.o.mode == ModeSimulated {
		return s.ctl.do(ctx, "service "+m+" engine down")
	}
	s.mu.Lock()
	e := s.engines[m]
	s.mu.Unlock()
	if e == nil {
		return time.Time{}, fmt.Errorf("%s has no engine process", m)
	}
	t0 := time.Now()
	return t0, e.signal(syscall.SIGKILL)
}

// uncrash restarts machine m's engine.
func (s *Studio) uncrash(ctx context.Context, m string) error {
	if s.o.mode == ModeSimulated {
		_, err := s.ctl.do(ctx, "service "+m+" engine up")
		return err
	}
	return s.startEngine(m)
}

// hang stops (SIGSTOP) machine m's agent, or in ModeSimulated silences its heartbeats.
func (s *Studio) hang(ctx context.Context, m string) (time.Time, error) {
	if s.o.mode == ModeSimulated {
		return s.ctl.do(ctx, "silent "+m+" on")
	}
	s.mu.Lock()
	a := s.agents[m]
	s.mu.Unlock()
	if a == nil {
		return time.Time{}, fmt.Errorf("%s has no agent process", m)
	}
	t0 := time.Now()
	return t0, a.signal(syscall.SIGSTOP)
}

func (s *Studio) unhang(ctx context.Context, m string) error {
	if s.o.mode == ModeSimulated {
		_, err := s.ctl.do(ctx, "silent "+m+" off")
		return err
	}
	s.mu.Lock()
	a := s.agents[m]
	s.mu.Unlock()
	return a.signal(syscall.SIGCONT)
}

// setHealth sets machine m's health value: through its agent's SimSet (ModeAgents) or the
// supervisor's simulated machine.
func (s *Studio) setHealth(ctx context.Context, m string, v float64) (time.Time, error) {
	if s.o.mode == ModeSimulated {
		return s.ctl.do(ctx, fmt.Sprintf("health %s %s %g", m, healthName, v))
	}
	n, err := s.benchNode()
	if err != nil {
		return time.Time{}, err
	}
	s.mu.Lock()
	addr := s.agentAddrs[m]
	s.mu.Unlock()
	msg := &pb.SimSet{Token: s.agentTok, Health: []*pb.SimSet_Health{{Name: healthName, Value: v}}}
	t0 := time.Now()
	res, err := n.System.Root.RequestFuture(actor.NewPID(addr, pb.AgentActorID), msg, 5*time.Second).Result()
	if err != nil {
		return t0, fmt.Errorf("sim set on agent %s: %w", m, err)
	}
	if r, ok := res.(*pb.SimSetReply); !ok || !r.Accepted {
		return t0, fmt.Errorf("sim set on agent %s refused: %v", m, res)
	}
	return t0, nil
}

// benchNode is the bench's own remote endpoint (one per process), started on first use.
func (s *Studio) benchNode() (*node.Node, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.node != nil {
		return s.node, nil
	}
	// A supervisor's certificate: agents answer SimSet only to supervisors.
	creds, err := s.tls.creds(identity.RoleSupervisor, "bench-driver")
	if err != nil {
		return nil, err
	}
	n, err := node.Start(node.Options{Listen: "127.0.0.1:0", Logger: s.o.log, TLS: creds})
	if err != nil {
		return nil, err
	}
	s.node = n
	return n, nil
}

// operatorSwitch switches pair p to side ("main" or "backup") as an operator would.
func (s *Studio) operatorSwitch(ctx context.Context, p pairInfo, side string) (time.Time, error) {
	if s.api != nil && s.ctl != nil {
		return s.ctl.do(ctx, "switch "+p.name+" "+side)
	}
	return httpSwitch(ctx, s.httpAddr, s.opTok, p.name, side)
}

// routerBlackhole makes router r go silent (on) or come back (off).
func (s *Studio) routerBlackhole(r int, on bool) (time.Time, error) {
	cmd := "blackhole off"
	if on {
		cmd = "blackhole on"
	}
	t0 := time.Now()
	return t0, s.sims[r].send(cmd)
}

// routerState is the supervisor's view of router r ("connected", "unavailable", ...).
func (s *Studio) waitRouter(ctx context.Context, r int, cond func(state string) bool) error {
	name := fmt.Sprintf("hub%d", r)
	return s.supLog.wait(ctx, func(l *supLog) bool { return cond(l.routers[name]) })
}

// demoBeat is the heartbeat interval of the supervisor's simulated machines (its demo driver).
const demoBeat = 50 * time.Millisecond

// beat is the heartbeat interval of pair0's machines.
func (s *Studio) beat() time.Duration {
	if s.o.mode == ModeSimulated || s.o.agentPairs == 0 {
		return demoBeat
	}
	return s.o.heartbeatInterval
}

// supervisorPID is the supervisor process id.
func (s *Studio) supervisorPID() int { return s.sup.pid() }

// agentSawAt is when machine m's agent last logged a service down (zero if never).
func (s *Studio) agentSawAt(m string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.agentSaw[m]
}

// warm opens the connections a scenario's injections use, so no run pays for connecting: the
// bench's remote connection to each main's agent (critical), the HTTP connection to the control
// API (manual).
func (s *Studio) warm(ctx context.Context, sc string, pairs int) error {
	switch {
	case sc == Critical:
		for i := range pairs {
			if _, err := s.setHealth(ctx, pairAt(i).main, healthNormal); err != nil {
				return err
			}
		}
	case sc == Manual && s.api == nil:
		return controlAPIAvailable(ctx, s.httpAddr, s.opTok)
	}
	return nil
}

// Close kills every process of the setup and closes the observers.
func (s *Studio) Close() {
	s.mu.Lock()
	n := s.node
	s.node = nil
	s.mu.Unlock()
	if n != nil {
		n.Stop() // first: its peers are about to go
	}
	for _, ob := range s.observers {
		ob.Close()
	}
	if s.poolObserver != nil {
		s.poolObserver.Close()
	}
	s.procs.close(2 * time.Second)
}

// errSkip marks a scenario that cannot run in this build; the report says why.
var errSkip = errors.New("skipped")

// bindConflict reports whether the supervisor's log says it could not bind a port in use.
func bindConflict(logPath string) bool {
	b, err := os.ReadFile(logPath)
	return err == nil && strings.Contains(string(b), "address already in use")
}

// Supervisor pair of the takeover scenario: the primary at addrA, the secondary at addrB.
const (
	takeoverOffset = 500 * time.Millisecond
	takeoverSync   = 25 * time.Millisecond
)

// pairConfig is sc for one supervisor of the takeover scenario's pair.
func (s *Studio) pairConfig(sc supConfig, name, listen, peer, mode string) supConfig {
	sc.name, sc.listen = name, listen
	sc.redundancy = fmt.Sprintf("\n[redundancy]\nmode = %q\npeer = %q\nfailover_offset = %q\nsync_interval = %q\n",
		mode, peer, takeoverOffset.String(), takeoverSync.String())
	return sc
}

// startSecondary starts the takeover scenario's secondary supervisor (and picks both
// supervisors' addresses): a copy of the primary's studio with its own ports and state_dir.
func (s *Studio) startSecondary(ctx context.Context, sc supConfig) error {
	var err error
	if s.addrA, err = freePort(); err != nil {
		return err
	}
	if s.addrB, err = freePort(); err != nil {
		return err
	}
	if sc.http, err = freePort(); err != nil {
		return err
	}
	sc.stateDir = filepath.Join(s.o.dir, "state-secondary")
	cfg := supervisorTOML(s.pairConfig(sc, "bench-secondary", s.addrB, s.addrA, conf.RedundancySecondaryFailover))
	tbl, err := s.tls.table(identity.RoleSupervisor, "bench-secondary")
	if err != nil {
		return err
	}
	path := filepath.Join(s.o.dir, "secondary.toml")
	if err := os.WriteFile(path, []byte(cfg+tbl), 0o600); err != nil {
		return err
	}
	s.supLog2 = newSupLog()
	spec := childSpec{name: "secondary", path: s.o.bin, args: []string{"run", "--config", path, "--log-level", "info"},
		logPath: s.logPath("secondary"), onLine: s.supLog2.line}
	if s.sup2, err = s.procs.start(spec); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.supLog2.wait(wctx, func(l *supLog) bool { return l.remote != "" }); err != nil {
		return fmt.Errorf("secondary supervisor did not start: %w (log %s)", err, s.logPath("secondary"))
	}
	return nil
}

// restartPrimary starts the primary supervisor again after a takeover run and waits until it
// has taken control back (automatic failback of the supervisor).
func (s *Studio) restartPrimary(ctx context.Context) error {
	s.procs.remove(s.sup)
	s.supLog.resetRole()
	var err error
	if s.sup, err = s.procs.start(s.supSpec); err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := s.supLog.wait(wctx, func(l *supLog) bool { return l.active }); err != nil {
		return fmt.Errorf("the restarted primary did not take control back: %w (log %s)", err, s.logPath("supervisor"))
	}
	return nil
}

// pinned runs spec on the CPUs of list only (util-linux taskset, which execs it: same pid).
func pinned(spec childSpec, list string) childSpec {
	spec.args = append([]string{"-c", list, spec.path}, spec.args...)
	spec.path = "taskset"
	return spec
}
