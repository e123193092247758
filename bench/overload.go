package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Overload: the supervisor driven at twice the report rate it can serve, with every machine
// healthy, for OverloadFor; then one main's engine is killed. Goal: no false failover, the
// overload alarm raised, the real crash still switched (its latency reported).
const Overload = "overload"

// Defaults of the overload scenario.
const (
	DefaultOverloadPairs = 1000
	DefaultOverloadFor   = 60 * time.Second
	// overloadStep is how long each rate of the ramp that finds the rate served is held.
	overloadStep = 5 * time.Second
	// overloadRamp is the factor between two rates of the ramp.
	overloadRamp = 1.5
	// overloadLoads is how many load processes (connections) drive the supervisor: a studio's
	// reports come from many hosts, not through one connection whose flow control would hold the
	// single sender back instead of queueing at the supervisor.
	overloadLoads = 4
)

// OverloadResult is the overload scenario's outcome.
type OverloadResult struct {
	Pairs    int    `json:"pairs"`
	Machines string `json:"machines"`
	// ServedPerS is the highest report rate of the ramp the supervisor served without an overload
	// episode (or the rate given with --overload-rate, halved); DrivenPerS the rate driven.
	ServedPerS float64 `json:"served_per_s"`
	DrivenPerS float64 `json:"driven_per_s"`
	Ramp       []Step  `json:"ramp,omitempty"`
	Seconds    float64 `json:"seconds"`
	// What happened while only the load ran (the ramp and the overload phase): routing changes
	// the observers saw, machines the supervisor declared failed, its automatic switches.
	IdleFailovers   uint64 `json:"idle_failovers"`
	MachineFailures int    `json:"machine_failures"`
	AutoSwitches    int    `json:"auto_switches"`
	// Episodes counts the overload episodes the supervisor logged; Alarm is its first line's
	// figures, Calm the end of the last one (the rate it served, heartbeats shed).
	Episodes int          `json:"episodes"`
	Alarm    overloadLine `json:"alarm"`
	Calm     overloadLine `json:"calm"`
	// CrashMS is the crash's latency to the observer, with the load still on.
	CrashMS float64 `json:"crash_ms"`
	// LoadLate is how often and how late at most the load process itself sent (starved).
	LoadSendsLate int     `json:"load_sends_late"`
	LoadMaxLateMS float64 `json:"load_max_late_ms"`
	Met           bool    `json:"met"`
	Error         string  `json:"error,omitempty"`
}

// Step is one rate of the ramp and whether the supervisor fell behind at it.
type Step struct {
	PerS       float64 `json:"per_s"`
	ServedPerS float64 `json:"served_per_s"`
	Overloaded bool    `json:"overloaded"`
}

// runOverload runs the overload scenario on a setup of its own: pair0's machines are agent
// processes watching engines, the rest reported by the load process at a rate the scenario sets.
func runOverload(ctx context.Context, so studioOptions, dir string, o Options, progress func(string, ...any)) *OverloadResult {
	so.pool, so.pairs, so.heartbeatInterval = false, o.OverloadPairs, o.SweepHeartbeat
	so.agentPairs, so.pin, so.loads = min(1, so.agentPairs), true, overloadLoads
	so.dir = filepath.Join(dir, Overload)
	res := &OverloadResult{Pairs: so.pairs, Machines: fmt.Sprintf("agent processes for %d pair(s), %d machines from %d load-agents processes (a connection each, reports batched up to %d a message) on the other core",
		so.agentPairs, 2*(so.pairs-so.agentPairs), so.loads, maxLoadBatch)}
	if so.mode != ModeAgents || so.pairs < 2 {
		res.Error = "needs agent processes and at least 2 pairs (the load process drives the others)"
		return res
	}
	start := time.Now()
	st, err := startStudio(ctx, so)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer st.Close()
	// A busy process shares the supervisor's core: the load processes, on the other core, then
	// send more than it can serve (on a core of its own it serves about what they can send).
	burner, err := st.procs.start(pinned(childSpec{name: "burn", path: so.bin, args: []string{"bench", "burn", "--for", "1h"},
		env: []string{"GOMAXPROCS=1"}, logPath: st.logPath("burn")}, "0"))
	if err != nil {
		res.Error = err.Error()
		return res
	}
	defer burner.kill()
	p := pairAt(0)
	if err := st.waitSteady(ctx, -1); err != nil {
		res.Error = "not steady before the load: " + err.Error()
		return res
	}
	machines := 2 * (so.pairs - so.agentPairs)
	rateOf := func(iv time.Duration) float64 { return float64(machines) / iv.Seconds() }
	setRate := func(perS float64) error {
		iv := time.Duration(float64(machines) / perS * float64(time.Second))
		return st.setLoadInterval(max(iv, time.Millisecond))
	}
	obs0 := st.observedChanges()
	fail0 := st.supLog.failures()
	sw0, _ := st.supLog.automaticSwitches()

	handled := func() (float64, time.Time, error) {
		v, err := metricValue(ctx, st.httpAddr, st.opTok, "standby_agent_reports_handled_total")
		return v, time.Now(), err
	}
	served := o.OverloadRate / 2
	if o.OverloadRate <= 0 {
		// The ramp: the rate offered ×1.5 every step, the rate served read from the supervisor's
		// /metrics, until it falls behind (an overload episode) or serves no more for more
		// offered (its transport holds the senders back).
		for perS := rateOf(so.heartbeatInterval); ; perS *= overloadRamp {
			if perS > rateOf(time.Millisecond) {
				res.Error = fmt.Sprintf("the supervisor kept up with %.0f reports/s, the most the load processes send %d machines", served, machines)
				return res
			}
			if err := setRate(perS); err != nil {
				res.Error = err.Error()
				return res
			}
			before, _, _ := st.supLog.overloaded()
			h0, t0, err := handled()
			if err == nil {
				err = sleepCtx(ctx, overloadStep)
			}
			h1, t1, err2 := handled()
			if err == nil {
				err = err2
			}
			if err != nil {
				res.Error = err.Error()
				return res
			}
			after, _, _ := st.supLog.overloaded()
			got := (h1 - h0) / t1.Sub(t0).Seconds()
			step := Step{PerS: perS, ServedPerS: got, Overloaded: after > before}
			res.Ramp = append(res.Ramp, step)
			progress("%s: ramp: %.0f reports/s offered, %.0f served, behind: %v", Overload, perS, got, step.Overloaded)
			if step.Overloaded || got < served*1.1 {
				served = max(served, got)
				break
			}
			served = got
		}
	}
	res.ServedPerS, res.DrivenPerS = served, 2*served
	progress("%s: served %.0f reports/s; driving %.0f for %s", Overload, served, 2*served, o.OverloadFor)
	if err := setRate(2 * served); err != nil {
		res.Error = err.Error()
		return res
	}
	if err := sleepCtx(ctx, o.OverloadFor); err != nil {
		res.Error = err.Error()
		return res
	}
	res.IdleFailovers = st.observedChanges() - obs0
	res.MachineFailures = st.supLog.failures() - fail0
	sw, _ := st.supLog.automaticSwitches()
	res.AutoSwitches = sw - sw0

	// The real crash, the load still on.
	ob := st.observers[p.router]
	t0, err := st.crash(ctx, p.main)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	octx, cancel := context.WithTimeout(ctx, 30*time.Second)
	seen, err := ob.WaitRoute(octx, p.out, p.backupIn)
	cancel()
	if err != nil {
		res.Error = fmt.Sprintf("the crash of %s was not switched under overload: %v", p.main, err)
	} else {
		res.CrashMS = ms(seen.Sub(t0))
	}
	// Back to the base rate: the episode ends and the supervisor logs what it served.
	_ = setRate(rateOf(so.heartbeatInterval))
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_ = st.supLog.wait(wctx, func(l *supLog) bool { return l.calms >= l.overloads })
	cancel()
	res.Episodes, res.Alarm, res.Calm = st.supLog.overloaded()
	res.LoadSendsLate, res.LoadMaxLateMS = st.loadLateness()
	res.Seconds = time.Since(start).Round(time.Millisecond).Seconds()
	res.Met = res.Error == "" && res.IdleFailovers == 0 && res.AutoSwitches == 0 && res.Episodes > 0
	progress("%s: %d idle failovers, %d machine failures, %d overload episode(s), crash switched in %.3f ms", Overload,
		res.IdleFailovers, res.MachineFailures, res.Episodes, res.CrashMS)
	return res
}

// setLoadInterval makes the load processes report every machine every iv (their config files
// rewritten, then SIGHUP).
func (s *Studio) setLoadInterval(iv time.Duration) error {
	if len(s.loads) == 0 {
		return fmt.Errorf("no load process")
	}
	for k, c := range s.loads {
		path := s.loadCfgs[k]
		lc, err := LoadConfigFile(path)
		if err != nil {
			return err
		}
		lc.Interval = iv
		b, err := json.Marshal(lc)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return err
		}
		if err := c.signal(syscall.SIGHUP); err != nil {
			return err
		}
	}
	return nil
}

// observedChanges is how many routing changes the bench's observers have seen.
func (s *Studio) observedChanges() uint64 {
	var n uint64
	for _, ob := range s.observers {
		c, _ := ob.Changes()
		n += c
	}
	return n
}

// loadLateness reads the load processes' logs for how often and how late at most they sent.
func (s *Studio) loadLateness() (int, float64) {
	n, most := 0, 0.0
	for _, c := range s.loads {
		b, err := os.ReadFile(s.logPath(c.name))
		if err != nil {
			continue
		}
		for _, line := range bytes.Split(b, []byte("\n")) {
			var l struct {
				Message string  `json:"message"`
				LateMS  float64 `json:"late_ms"`
			}
			if json.Unmarshal(line, &l) == nil && l.Message == "load agents sent late (this process was starved)" {
				n++
				most = math.Max(most, l.LateMS)
			}
		}
	}
	return n, most
}
