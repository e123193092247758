package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// defaultPingInterval is the router ping_interval of every setup: the supervisor's default.
const defaultPingInterval = time.Second

// Run runs the scenarios and the sweep of o and returns the report. A scenario that fails is
// reported with its error (and the setup restarted for the next one); Run fails only when no
// setup can be started at all or ctx ends.
func Run(ctx context.Context, o Options) (*Report, error) {
	if err := o.setDefaults(); err != nil {
		return nil, err
	}
	start := time.Now()
	dir, cleanup, err := workDir(o.Dir, o.Keep)
	if err != nil {
		return nil, err
	}
	failed := true
	defer func() { cleanup(failed) }()
	progress := progressFunc(o)
	rep := &Report{Started: start, Host: hostInfo(), Anchors: Anchors,
		Settings: Settings{Pairs: o.Pairs, HeartbeatIntervalMS: ms(o.HeartbeatInterval), HeartbeatTimeoutMS: ms(o.HeartbeatTimeout),
			FailbackAfterMS: ms(DefaultFailbackAfter), PingIntervalMS: ms(defaultPingInterval), Runs: o.Runs},
		Method: "latency = failure injected -> routing change read by an independent Videohub client connection of the bench (not the supervisor's own report)",
	}
	mode, why := resolveMode(o.Binary, o.Mode)
	if why != "" {
		rep.Notes = append(rep.Notes, why)
	}
	so := studioOptions{bin: o.Binary, mode: mode, pairs: o.Pairs, heartbeatInterval: o.HeartbeatInterval,
		heartbeatTimeout: o.HeartbeatTimeout, failbackAfter: DefaultFailbackAfter, pingInterval: defaultPingInterval,
		log: o.Logger, progress: progress, pool: slices.Contains(o.Scenarios, Pool), tls: !o.Plaintext}
	rep.TLS = so.tls
	if so.pool {
		rep.Settings.PoolMains, rep.Settings.PoolBackups = poolMains, poolBackups
	}
	if mode == ModeAgents {
		so.agentPairs = min(o.Pairs, MaxAgentPairs)
	}
	n := 0
	newStudio := func() (*Studio, error) {
		n++
		so.dir = filepath.Join(dir, fmt.Sprintf("setup%d", n))
		st, err := startStudio(ctx, so)
		if err != nil && o.Mode == ModeAuto && so.mode == ModeAgents && ctx.Err() == nil {
			rep.Notes = append(rep.Notes, fmt.Sprintf("agent processes could not drive the pairs (%v); fell back to the supervisor's simulated machines", err))
			so.mode, so.agentPairs = ModeSimulated, 0
			n++
			so.dir = filepath.Join(dir, fmt.Sprintf("setup%d", n))
			st, err = startStudio(ctx, so)
		}
		return st, err
	}
	var st *Studio
	defer func() {
		if st != nil {
			st.Close()
		}
	}()
	for _, sc := range o.Scenarios {
		if sc == Overload {
			if st != nil {
				st.Close()
				st = nil
			}
			rep.Overload = runOverload(ctx, so, dir, o, progress)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			continue
		}
		if sc == Takeover {
			if st != nil {
				st.Close()
				st = nil
			}
			r := runTakeover(ctx, so, dir, o, progress)
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			rep.Scenarios = append(rep.Scenarios, r)
			continue
		}
		if st == nil {
			if st, err = newStudio(); err != nil {
				return nil, err
			}
		}
		res := ScenarioResult{Name: sc, How: howInjected(sc, st)}
		if sc == Manual && st.ctl == nil && st.api != nil {
			res.Skipped = fmt.Sprintf("needs the control API (POST /api/pairs/{pair}/switch): %v", st.api)
			rep.Scenarios = append(rep.Scenarios, res)
			progress("%s: skipped: %s", sc, res.Skipped)
			continue
		}
		runs := o.runsFor(sc)
		// Runs cycle through the pairs whose machines are agent processes (all pairs in
		// ModeSimulated).
		targets := o.Pairs
		if st.o.mode == ModeAgents {
			targets = st.o.agentPairs
		}
		var samples []sample
		if sc == Pool {
			progress("%s: %d runs on the %d mains of %s (%d backups)", sc, runs, poolMains, poolName, poolBackups)
			samples, err = runPoolScenario(ctx, st, runs)
		} else {
			progress("%s: %d runs on %d pair(s)", sc, runs, targets)
			samples, err = runScenario(ctx, st, sc, runs, targets)
		}
		r := scenarioResult(sc, samples, o.HeartbeatTimeout)
		r.How = res.How
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.Error = err.Error()
			if lines := st.supLog.errorLines(); len(lines) > 0 {
				r.Error += fmt.Sprintf(" (supervisor errors: %s)", strings.Join(lines[max(0, len(lines)-3):], "; "))
			}
			progress("%s: FAILED: %v", sc, err)
			st.Close() // start afresh: the failed run may have left the setup anywhere
			st = nil
		} else {
			progress("%s: p50 %.3f ms, p99 %.3f ms", sc, r.Stats.P50, r.Stats.P99)
		}
		rep.Scenarios = append(rep.Scenarios, r)
	}
	applyPoolGoal(rep)
	if st != nil && so.tls {
		// What TLS costs: the crash scenario on this setup and on a plaintext one, in alternating
		// blocks, so both see the same machine noise.
		for _, r := range rep.Scenarios {
			if r.Name == Crash && r.Error == "" && r.Stats.Runs > 0 {
				rep.TLSCost = tlsCost(ctx, st, so, dir, o, r.Stats.Runs, progress)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
		}
	}
	if st != nil && !o.NoActionCost {
		// A slow action must not slow a failover: the crash scenario with and without one.
		for _, r := range rep.Scenarios {
			if r.Name == Crash && r.Error == "" && r.Stats.Runs > 0 {
				rep.ActionCost = actionCost(ctx, st, so, dir, o, r.Stats.Runs, progress)
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
			}
		}
	}
	if st != nil {
		rep.Mode, rep.Machines = st.o.mode, st.machineKinds()
		st.Close()
		st = nil
	} else {
		rep.Mode, rep.Machines = so.mode, describeMode(so.mode, o.Pairs, so.agentPairs)
	}
	for _, size := range o.Sweep {
		so.mode = rep.Mode
		pt := sweepPoint(ctx, o, so, dir, size, progress)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.Sweep = append(rep.Sweep, pt)
	}
	rep.Notes = append(rep.Notes, modeNotes(rep.Mode, len(o.Sweep) > 0)...)
	if n := largestCost(rep.Scenarios); n != "" {
		rep.Notes = append(rep.Notes, n)
	}
	rep.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
	failed = false
	for _, s := range rep.Scenarios {
		failed = failed || s.Error != ""
	}
	failed = failed || (rep.Overload != nil && !rep.Overload.Met)
	if failed {
		rep.Notes = append(rep.Notes, "logs of the failed setup kept in "+dir)
	}
	return rep, nil
}

// runTakeover measures the takeover scenario on a setup of its own: a pair of supervisors, the
// agents of pair0 reporting to both.
func runTakeover(ctx context.Context, so studioOptions, dir string, o Options, progress func(string, ...any)) ScenarioResult {
	so.takeover, so.pool, so.pairs, so.agentPairs = true, false, 1, min(1, so.agentPairs)
	so.dir = filepath.Join(dir, "takeover")
	res := ScenarioResult{Name: Takeover}
	if so.mode != ModeAgents {
		res.Skipped = "needs agent processes (the secondary must hear the agents)"
		return res
	}
	st, err := startStudio(ctx, so)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer st.Close()
	runs := o.runsFor(Takeover)
	progress("%s: %d runs (failover_offset %s, sync_interval %s)", Takeover, runs, takeoverOffset, takeoverSync)
	var samples []sample
	for r := range runs {
		smp, err := runTakeoverOnce(ctx, st, pairAt(0))
		if err != nil {
			res = scenarioResult(Takeover, samples, o.HeartbeatTimeout)
			res.Error = fmt.Sprintf("run %d: %v", r+1, err)
			return res
		}
		samples = append(samples, smp)
	}
	res = scenarioResult(Takeover, samples, o.HeartbeatTimeout)
	res.How = howInjected(Takeover, st)
	progress("%s: p50 %.3f ms, p99 %.3f ms", Takeover, res.Stats.P50, res.Stats.P99)
	return res
}

// tlsBlock is how many crash runs go to one setup before the other's turn.
const tlsBlock = 10

// tlsCost runs the crash scenario runs times on withTLS (a TLS setup) and on a fresh plaintext
// setup of the same shape, alternating blocks of tlsBlock runs, and compares the two.
func tlsCost(ctx context.Context, withTLS *Studio, so studioOptions, dir string, o Options, runs int, progress func(string, ...any)) *TLSCost {
	so.tls, so.pool = false, false
	so.dir = filepath.Join(dir, "plaintext")
	progress("%s with TLS and on plaintext links, alternating blocks of %d (what TLS costs): %d runs each", Crash, tlsBlock, runs)
	res := func(samples []sample, err error) ScenarioResult {
		r := scenarioResult(Crash, samples, o.HeartbeatTimeout)
		if err != nil {
			r.Error = err.Error()
		}
		return r
	}
	plain, err := startStudio(ctx, so)
	if err != nil {
		return newTLSCost(ScenarioResult{}, res(nil, err))
	}
	defer plain.Close()
	var tlsSamples, plainSamples []sample
	next := 0
	for _, st := range []*Studio{withTLS, plain} {
		if err := st.warm(ctx, Crash, targetPairs(st, o)); err != nil {
			return newTLSCost(ScenarioResult{}, res(nil, err))
		}
	}
	for len(plainSamples) < runs {
		for _, side := range []struct {
			st  *Studio
			out *[]sample
		}{{withTLS, &tlsSamples}, {plain, &plainSamples}} {
			for k := 0; k < tlsBlock && len(*side.out) < runs; k++ {
				if err := ctx.Err(); err != nil {
					return nil
				}
				p := pairAt(next % targetPairs(side.st, o))
				smp, err := runOnce(ctx, side.st, Crash, p)
				if err != nil {
					return newTLSCost(res(tlsSamples, nil), res(plainSamples, err))
				}
				*side.out = append(*side.out, smp)
			}
		}
		next++
	}
	c := newTLSCost(res(tlsSamples, nil), res(plainSamples, nil))
	progress("%s: p99 %.3f ms with TLS, %.3f ms plaintext", Crash, c.TLSP99MS, c.PlaintextP99MS)
	return c
}

// targetPairs are the pairs runs cycle through: those with agent processes, or all.
func targetPairs(st *Studio, o Options) int {
	if st.o.mode == ModeAgents {
		return st.o.agentPairs
	}
	return o.Pairs
}

// sweepPoint measures one sweep size: crash runs on pair0 (agent processes when available) with
// every other pair's machines simulated, and the supervisor's CPU and memory.
func sweepPoint(ctx context.Context, o Options, so studioOptions, dir string, size int, progress func(string, ...any)) SweepPoint {
	so.pairs, so.heartbeatInterval = size, o.SweepHeartbeat
	so.agentPairs, so.pool = 0, false
	if so.mode == ModeAgents {
		so.agentPairs = 1
	}
	so.dir = filepath.Join(dir, fmt.Sprintf("sweep%d", size))
	pt := SweepPoint{Pairs: size, Machines: describeMode(so.mode, size, so.agentPairs)}
	progress("sweep %d pairs: starting", size)
	st, err := startStudio(ctx, so)
	if err != nil {
		pt.Error = err.Error()
		return pt
	}
	defer st.Close()
	machines := 2 * size
	if so.mode == ModeSimulated {
		pt.ReportsPerSecond = float64(machines) / demoBeat.Seconds()
	} else {
		pt.ReportsPerSecond = float64(machines) / so.heartbeatInterval.Seconds()
	}
	// An idle window first: what the supervisor costs while nothing fails, and whether it keeps
	// up (machines declared failed, routing changes) when nothing fails. It starts once the
	// start-up is past (every pair armed, its first state document saved): the steady state.
	const window, settle = 3 * time.Second, 2 * time.Second
	if err := st.waitSteady(ctx, -1); err != nil {
		pt.Error = "not steady before the idle window: " + err.Error()
		return pt
	}
	select {
	case <-time.After(settle):
	case <-ctx.Done():
		return pt
	}
	var obs0 uint64
	for _, ob := range st.observers {
		n, _ := ob.Changes()
		obs0 += n
	}
	fail0 := st.supLog.failures()
	h0, herr := sampleHost()
	var l0 procSample
	lerr := errors.New("no load process")
	if st.load != nil {
		l0, lerr = sampleProc(st.load.pid())
	}
	var profiled chan error
	if o.ProfileDir != "" {
		profiled = make(chan error, 1)
		file := filepath.Join(o.ProfileDir, fmt.Sprintf("sweep%d-cpu.pprof", size))
		go func() {
			profiled <- fetchProfile(ctx, st.httpAddr, st.opTok, fmt.Sprintf("profile?seconds=%d", int(window/time.Second)), file)
		}()
	}
	a, err := sampleProc(st.supervisorPID())
	if err == nil {
		select {
		case <-time.After(window):
		case <-ctx.Done():
			return pt
		}
		var b procSample
		if b, err = sampleProc(st.supervisorPID()); err == nil {
			pt.CPUPercent = cpuPercent(a, b)
		}
	}
	if h1, err := sampleHost(); err == nil && herr == nil {
		pt.HostBusyPercent = hostBusy(h0, h1)
	}
	if lerr == nil {
		if l1, err := sampleProc(st.load.pid()); err == nil {
			pt.LoadCPUPercent = cpuPercent(l0, l1)
		}
	}
	for _, ob := range st.observers {
		n, _ := ob.Changes()
		pt.IdleFailovers += n
	}
	pt.IdleFailovers -= obs0
	pt.IdleMachineFailures = st.supLog.failures() - fail0
	samples, rerr := runScenario(ctx, st, Crash, o.SweepRuns, 1)
	lat := make([]time.Duration, len(samples))
	for i, s := range samples {
		lat[i] = s.latency
	}
	pt.Crash = Summarize(lat)
	pt.Stages = stages(samples)
	if p, err := sampleProc(st.supervisorPID()); err == nil {
		pt.RSSMB, pt.PeakRSSMB = float64(p.rss)/(1<<20), float64(p.peakRSS)/(1<<20)
	}
	if profiled != nil {
		err := <-profiled
		if err == nil {
			err = fetchProfile(ctx, st.httpAddr, st.opTok, "heap", filepath.Join(o.ProfileDir, fmt.Sprintf("sweep%d-heap.pprof", size)))
		}
		if err != nil {
			progress("sweep %d pairs: %v", size, err)
		}
	}
	if rerr != nil {
		pt.Error = rerr.Error()
	}
	progress("sweep %d pairs: crash p99 %.3f ms, supervisor CPU %.1f%%, RSS %.1f MB", size, pt.Crash.P99, pt.CPUPercent, pt.RSSMB)
	return pt
}

// resolveMode picks how machines are driven and says why when it is not the real thing.
func resolveMode(bin string, m Mode) (Mode, string) {
	if m != ModeAuto {
		return m, ""
	}
	if hasSubcommand(bin, "agent") {
		return ModeAgents, ""
	}
	return ModeSimulated, "this standby binary has no 'agent' subcommand: machines are the supervisor's simulated ones"
}

// hasSubcommand reports whether `bin help` lists cmd.
func hasSubcommand(bin, cmd string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, "help").CombinedOutput()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == cmd {
			return true
		}
	}
	return false
}

// describeMode says how the machines of a setup are driven, for people.
func describeMode(m Mode, pairs, agentPairs int) string {
	if m == ModeSimulated {
		return "supervisor-simulated (in-process, no agents)"
	}
	if agentPairs >= pairs {
		return "agent processes"
	}
	return fmt.Sprintf("agent processes for %d pair(s), %d machines from one load-agents process (one Remote, their reports batched up to %d a message)", agentPairs, 2*(pairs-agentPairs), maxLoadBatch)
}

// howInjected says, for the report, how a scenario's failure is injected in this setup.
func howInjected(sc string, st *Studio) string {
	sim := st.o.mode == ModeSimulated
	switch sc {
	case Crash:
		if sim {
			return "simulated: the main's simulated engine service set down through the supervisor's control pipe (no agent, no process)"
		}
		return "kill -9 of the main's engine process (sleep), watched by its agent (kind = \"process\", pidfile)"
	case Hang:
		if sim {
			return "simulated: the main's simulated heartbeats stopped through the control pipe, at a random phase of its 50 ms beat (heartbeat_timeout decides)"
		}
		return "SIGSTOP of the main's agent process at a random phase of its beat (heartbeat_timeout decides)"
	case Critical:
		if sim {
			return fmt.Sprintf("simulated: the main's simulated %s set to %g (critical 90) through the control pipe", healthName, healthCritical)
		}
		return fmt.Sprintf("SimSet %s = %g (critical 90) to the main's agent over protoactor remote", healthName, healthCritical)
	case Manual:
		if st.api != nil {
			return "operator switch through the control pipe of `standby bench supervisor` (Supervisor.Command), not the control API"
		}
		return "POST /api/pairs/{pair}/switch {\"to\":\"backup\"} with an operator's bearer token (level 2), on a warm HTTP connection"
	case Pool:
		what := "kill -9 of the main's engine process (sleep), watched by its agent, as crash"
		if sim {
			what = "simulated: the main's simulated engine service set down through the control pipe, as crash"
		}
		return fmt.Sprintf("%s, in pool %s (%d mains, %d backups, automatic) on its own router %s; runs cycle through the mains; measured until the observer on %s sees the main's output on a backup's input",
			what, poolName, poolMains, poolBackups, poolRouterName, poolRouterName)
	case Takeover:
		return fmt.Sprintf("kill -9 of the primary supervisor of a pair (failover_offset %s, sync_interval %s, agents reporting to both), then at once of the main's engine; measured from the first kill until the observer sees the backup on air (the secondary took over and switched); the primary is restarted and takes control back between runs",
			takeoverOffset, takeoverSync)
	case RouterLoss:
		return "router blackholed until the supervisor declares it lost (2 ping intervals), main's engine failed meanwhile, router back at a random moment of the pair's 1 s retry cycle; measured from the router's return"
	}
	return ""
}

// modeNotes are the limitations of a mode, for the closing notes.
func modeNotes(m Mode, sweep bool) []string {
	var n []string
	if m == ModeSimulated {
		n = append(n, "machines are the supervisor's simulated ones (simulated = true, fed in-process by the demo driver at its fixed 50 ms beat), "+
			"so the agent's detection and the agent→supervisor remote hop are not in these figures and --heartbeat-interval does not apply "+
			"(--machines agents, the default when the binary has `standby agent`, measures the whole path)")
	}
	if sweep && m == ModeAgents {
		n = append(n, "sweep: pair0's machines are agent processes watching engine processes (the crashed pair); every other machine is reported "+
			"by one `standby bench agents` process hosting that many agents over one protoactor Remote, at the sweep heartbeat, "+
			"into the supervisor's gateway as real agents would (an agent process per machine would need 2000 processes at 1000 pairs)")
	}
	if sweep && m == ModeSimulated {
		n = append(n, "sweep (--machines simulated): every machine is the supervisor's simulated one, fed in-process by its demo driver at its fixed 50 ms beat, "+
			"so the sweep heartbeat does not apply and the load generation runs inside the supervisor process")
	}
	return n
}

// workDir returns the work directory and a cleanup that removes it unless keep (or failed).
func workDir(dir string, keep bool) (string, func(failed bool), error) {
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", nil, err
		}
		return dir, func(bool) {}, nil
	}
	d, err := os.MkdirTemp("", "standby-bench-")
	if err != nil {
		return "", nil, err
	}
	return d, func(failed bool) {
		if !keep && !failed {
			_ = os.RemoveAll(d)
		}
	}, nil
}

func progressFunc(o Options) func(string, ...any) {
	return func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		o.Logger.Info().Msg(msg)
		if o.Progress != nil {
			fmt.Fprintf(o.Progress, "%s %s\n", time.Now().Format("15:04:05.000"), msg)
		}
	}
}

// largestCost names the largest step of the crash path (or of the first scenario with a
// breakdown), by median.
func largestCost(results []ScenarioResult) string {
	pick := -1
	for i, r := range results {
		if len(r.Stages) == 0 {
			continue
		}
		if pick < 0 || r.Name == Crash {
			pick = i
		}
	}
	if pick < 0 {
		return ""
	}
	r := results[pick]
	leaf := func(name string) bool {
		if name != stageDetect {
			return true
		}
		for _, st := range r.Stages { // the detection is split when the agent logged its part
			if st.Name == stageAgent {
				return false
			}
		}
		return true
	}
	var best StageStats
	for _, st := range r.Stages {
		if leaf(st.Name) && st.P50 > best.P50 {
			best = st
		}
	}
	if best.Name == "" {
		return ""
	}
	return fmt.Sprintf("largest remaining cost in the %s path: %q, p50 %.3f ms of the %.3f ms p50 total (p99 %.3f ms)",
		r.Name, strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(best.Name), "of which:")), best.P50, r.Stats.P50, best.P99)
}
