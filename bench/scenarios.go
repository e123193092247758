package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"time"
)

// sample is one measured run.
type sample struct {
	pair    string
	latency time.Duration
	t0      time.Time // injection
	seen    time.Time // the observer read the change
	marks   pairMarks // the supervisor's log times of the steps, for the breakdown
}

// runScenario runs sc runs times on the first eligible pairs of st, cycling through them, and
// returns the latencies. A run that fails ends the scenario with its error; samples taken before
// it are kept.
func runScenario(ctx context.Context, st *Studio, sc string, runs, pairs int) ([]sample, error) {
	out := make([]sample, 0, runs)
	if err := st.warm(ctx, sc, pairs); err != nil {
		return out, fmt.Errorf("%s: warming up: %w", sc, err)
	}
	for r := range runs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		p := pairAt(r % pairs)
		smp, err := runOnce(ctx, st, sc, p)
		if err != nil {
			return out, fmt.Errorf("%s run %d on %s: %w", sc, r+1, p.name, err)
		}
		out = append(out, smp)
	}
	return out, nil
}

// runPoolScenario runs the pool scenario runs times, cycling through the pool's mains.
func runPoolScenario(ctx context.Context, st *Studio, runs int) ([]sample, error) {
	out := make([]sample, 0, runs)
	if !st.o.pool || st.poolObserver == nil {
		return out, fmt.Errorf("%s: the setup has no pool", Pool)
	}
	for r := range runs {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		k := r % poolMains
		smp, err := runPoolOnce(ctx, st, k)
		if err != nil {
			return out, fmt.Errorf("%s run %d on %s: %w", Pool, r+1, poolMain(k), err)
		}
		out = append(out, smp)
	}
	return out, nil
}

// runPoolOnce performs one pool run: waits for a steady pool, kills main k's engine, measures
// until the pool's observer sees output k on a backup's input, restarts the engine and waits for
// the failback.
func runPoolOnce(ctx context.Context, st *Studio, k int) (sample, error) {
	sctx, cancel := context.WithTimeout(ctx, steadyWait)
	err := st.waitPoolSteady(sctx)
	cancel()
	if err != nil {
		return sample{}, fmt.Errorf("not steady before the run: %w", err)
	}
	m := poolMain(k)
	t0, err := st.crash(ctx, m)
	if err != nil {
		return sample{}, err
	}
	octx, cancel := context.WithTimeout(ctx, observeWait)
	seen, in, err := st.poolObserver.WaitRouteTo(octx, k, isPoolBackupInput, "a backup's input")
	cancel()
	if err != nil {
		return sample{}, fmt.Errorf("no failover seen by the observer: %w", err)
	}
	if seen.Before(t0) {
		return sample{}, fmt.Errorf("output %d moved to input %d %s before the injection", k+1, in+1, t0.Sub(seen))
	}
	smp := sample{pair: m, latency: seen.Sub(t0), t0: t0, seen: seen}
	mctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_ = st.supLog.wait(mctx, func(l *supLog) bool { pm := l.marks[poolName]; return pm != nil && !pm.confirmed.Before(t0) })
	cancel()
	smp.marks = st.supLog.marksOf(poolName)
	if at := st.agentSawAt(m); !at.Before(t0) {
		smp.marks.agentSaw = at
	}
	if err := st.uncrash(ctx, m); err != nil {
		return sample{}, fmt.Errorf("restoring after the run: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, steadyWait)
	defer cancel()
	if err := st.waitPoolSteady(wctx); err != nil {
		return sample{}, fmt.Errorf("no failback after the run: %w", err)
	}
	return smp, nil
}

// Time bounds of one run's steps.
const (
	steadyWait  = 10 * time.Second // pair back on its main, armed, machines healthy
	observeWait = 5 * time.Second  // beyond the scenario's own delay
)

// runOnce performs one run: waits for a steady pair, injects, measures until the observer sees
// the pair's output on its backup input, and puts everything back.
// runTakeoverOnce kills the primary supervisor, then at once the main's engine, and measures
// until the independent observer sees the backup on air (the secondary took over and switched);
// then restarts the primary (it takes control back) and the engine (failback), and waits for
// the pair to be steady on its main again.
func runTakeoverOnce(ctx context.Context, st *Studio, p pairInfo) (sample, error) {
	sctx, cancel := context.WithTimeout(ctx, steadyWait)
	err := st.waitSteady(sctx, p.index)
	if err == nil {
		err = st.supLog.wait(sctx, func(l *supLog) bool { return l.active })
	}
	cancel()
	if err != nil {
		return sample{}, fmt.Errorf("not steady before the run: %w", err)
	}
	t0 := time.Now()
	if err := st.sup.signal(syscall.SIGKILL); err != nil {
		return sample{}, err
	}
	if _, err := st.crash(ctx, p.main); err != nil {
		return sample{}, err
	}
	octx, cancel := context.WithTimeout(ctx, observeWait+takeoverOffset)
	seen, err := st.observers[p.router].WaitRoute(octx, p.out, p.backupIn)
	cancel()
	if err != nil {
		return sample{}, fmt.Errorf("no switch seen by the observer after the takeover: %w", err)
	}
	smp := sample{pair: p.name, latency: seen.Sub(t0), t0: t0, seen: seen}
	if err := st.restartPrimary(ctx); err != nil {
		return smp, err
	}
	if err := st.uncrash(ctx, p.main); err != nil {
		return smp, err
	}
	return smp, nil
}

func runOnce(ctx context.Context, st *Studio, sc string, p pairInfo) (sample, error) {
	sctx, cancel := context.WithTimeout(ctx, steadyWait)
	err := st.waitSteady(sctx, p.index)
	cancel()
	if err != nil {
		return sample{}, fmt.Errorf("not steady before the run: %w", err)
	}
	ob := st.observers[p.router]
	var t0 time.Time
	limit := observeWait
	switch sc {
	case Crash:
		t0, err = st.crash(ctx, p.main)
	case Hang:
		limit += st.o.heartbeatTimeout
		// A random phase against the heartbeats, so runs sample every position of the
		// injection between two beats (right after a beat is the worst case).
		if err = sleepCtx(ctx, randDur(st.beat())); err != nil {
			return sample{}, err
		}
		t0, err = st.hang(ctx, p.main)
	case Critical:
		t0, err = st.setHealth(ctx, p.main, healthCritical)
	case Manual:
		t0, err = st.operatorSwitch(ctx, p, "backup")
	case RouterLoss:
		limit += 2 * time.Second // the pair's retry after a failed switch
		t0, err = st.routerLoss(ctx, p)
	default:
		return sample{}, fmt.Errorf("unknown scenario %q", sc)
	}
	if err != nil {
		return sample{}, err
	}
	octx, cancel := context.WithTimeout(ctx, limit)
	seen, err := ob.WaitRoute(octx, p.out, p.backupIn)
	cancel()
	if err != nil {
		return sample{}, fmt.Errorf("no failover seen by the observer: %w", err)
	}
	if seen.Before(t0) {
		return sample{}, fmt.Errorf("output %d moved to the backup %s before the injection", p.out+1, t0.Sub(seen))
	}
	smp := sample{pair: p.name, latency: seen.Sub(t0), t0: t0, seen: seen}
	// The router actor logs the confirmation as it reads the same push as the observer: give its
	// log line a moment to arrive before reading the marks.
	mctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	_ = st.supLog.wait(mctx, func(l *supLog) bool { pm := l.marks[p.name]; return pm != nil && !pm.confirmed.Before(t0) })
	cancel()
	smp.marks = st.supLog.marksOf(p.name)
	if sc == Crash {
		if at := st.agentSawAt(p.main); !at.Before(t0) {
			smp.marks.agentSaw = at
		}
	}
	if err := restore(ctx, st, sc, p); err != nil {
		return sample{}, fmt.Errorf("restoring after the run: %w", err)
	}
	return smp, nil
}

// routerLoss blackholes the pair's router until the supervisor has declared it lost, fails the
// pair's main meanwhile (its switch cannot be made), then brings the router back. It returns the
// moment the router came back.
func (s *Studio) routerLoss(ctx context.Context, p pairInfo) (time.Time, error) {
	if _, err := s.routerBlackhole(p.router, true); err != nil {
		return time.Time{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*s.o.pingInterval+5*time.Second)
	defer cancel()
	if err := s.waitRouter(wctx, p.router, func(state string) bool { return state != "connected" }); err != nil {
		return time.Time{}, fmt.Errorf("supervisor never declared the blackholed router lost: %w", err)
	}
	if _, err := s.crash(ctx, p.main); err != nil {
		return time.Time{}, err
	}
	err := s.supLog.wait(wctx, func(l *supLog) bool { return l.machines[p.main].failure != "" })
	if err != nil {
		return time.Time{}, fmt.Errorf("supervisor never saw the main fail: %w", err)
	}
	// The router comes back at a random moment of the pair's retry cycle (a failed switch is
	// retried after 1 s): right after a failed attempt is the worst case.
	if err := sleepCtx(ctx, randDur(pairRetryAfter+100*time.Millisecond)); err != nil {
		return time.Time{}, err
	}
	return s.routerBlackhole(p.router, false)
}

// pairRetryAfter is the pair engine's default delay before retrying a failed automatic switch
// (failover.Config.RetryAfter; not configurable in the config file).
const pairRetryAfter = time.Second

// randDur is a random duration in [0, d).
func randDur(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d)))
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// restore undoes a run's injection and waits for the pair to be back on its main.
func restore(ctx context.Context, st *Studio, sc string, p pairInfo) error {
	var err error
	switch sc {
	case Crash, RouterLoss:
		err = st.uncrash(ctx, p.main)
	case Hang:
		err = st.unhang(ctx, p.main)
	case Critical:
		_, err = st.setHealth(ctx, p.main, healthNormal)
	case Manual:
		wctx, cancel := context.WithTimeout(ctx, steadyWait)
		err = st.supLog.wait(wctx, func(l *supLog) bool { return l.pairs[p.name] == "on-backup" })
		cancel()
		if err == nil {
			_, err = st.operatorSwitch(ctx, p, "main")
		}
	}
	if err != nil {
		return err
	}
	wctx, cancel := context.WithTimeout(ctx, steadyWait)
	defer cancel()
	return st.waitSteady(wctx, p.index)
}
