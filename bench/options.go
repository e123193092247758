package bench

import (
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/rs/zerolog"
)

// Scenario names.
const (
	Crash      = "crash"       // kill -9 of the main's watched engine process
	Hang       = "hang"        // SIGSTOP of the main's agent
	Critical   = "critical"    // a health value of the main crosses critical
	Manual     = "manual"      // an operator switch through the control surface
	RouterLoss = "router-loss" // router blackholed past the ping timeout, main fails meanwhile, router back
	Pool       = "pool"        // kill -9 of a main's engine in a pool of 8 mains and 2 backups
	// Takeover: kill -9 of the primary supervisor of a pair, then at once of a main's engine; the
	// secondary must take over and switch. Not in the default set (its own setup, ~3 s a run).
	Takeover = "takeover"
)

// Optional scenarios run only when asked for.
var Optional = []string{Takeover, Overload}

// Scenarios are every scenario, in the order they run (pool right after crash, which it is
// compared with).
var Scenarios = []string{Crash, Pool, Hang, Critical, Manual, RouterLoss}

// TLSCostGoal bounds what mutual TLS may add to the crash p99: TLSCostGoalRatio of the plaintext
// p99 or TLSCostGoalMS, whichever is larger.
const (
	TLSCostGoalRatio = 0.10
	TLSCostGoalMS    = 0.2
)

// PoolGoalRatio is the pool scenario's goal: its p99 at most this many times the pair crash p99
// of the same run.
const PoolGoalRatio = 1.5

// Mode says how machines are driven.
type Mode string

// Modes.
const (
	// ModeAuto picks ModeAgents when the standby binary has the agent subcommand, else ModeSimulated.
	ModeAuto Mode = ""
	// ModeAgents runs one `standby agent` process per machine, watching a real engine process.
	ModeAgents Mode = "agents"
	// ModeSimulated uses the supervisor's own simulated machines (simulated = true), fed in-process
	// and driven through the control pipe of `standby bench supervisor`: the supervisor's share of
	// the path without the agent and the remote hop (and the stopgap of builds without agents).
	ModeSimulated Mode = "simulated"
)

// Defaults.
const (
	DefaultRuns              = 20
	DefaultRouterLossRuns    = 5
	DefaultPairs             = 1
	DefaultHeartbeatInterval = 50 * time.Millisecond  // the agent's default heartbeat_interval
	DefaultHeartbeatTimeout  = 250 * time.Millisecond // the supervisor's default heartbeat_timeout
	DefaultSweepHeartbeat    = 20 * time.Millisecond
	DefaultSweepRuns         = 10
	// DefaultFailbackAfter is the pairs' failback_after: the bench measures failovers only and
	// needs the main back on air quickly between runs.
	DefaultFailbackAfter = 100 * time.Millisecond
)

// Options configure Run.
type Options struct {
	// Binary is the standby executable to run children from. Required (cmd/standby passes
	// os.Executable; tests build one).
	Binary string
	// Scenarios to run, from Scenarios. Empty means all; "none" alone runs none (sweep only).
	Scenarios []string
	// Pairs is the number of pairs in the scenario runs; runs cycle through them (through the
	// first MaxAgentPairs with agent processes). Default 1.
	Pairs int
	// HeartbeatInterval is the agents' heartbeat_interval (ModeAgents). Default 50ms.
	HeartbeatInterval time.Duration
	// HeartbeatTimeout is the supervisor's heartbeat_timeout. Default 250ms.
	HeartbeatTimeout time.Duration
	// Runs per scenario. Default 20, and 5 for router-loss (each takes seconds) unless RunsSet.
	Runs int
	// RunsSet makes Runs apply to router-loss too.
	RunsSet bool
	// Sweep lists pair counts for the scale sweep (crash at SweepHeartbeat); empty skips it.
	Sweep []int
	// SweepRuns is the number of crash runs at each sweep size. Default 10.
	SweepRuns int
	// SweepHeartbeat is the heartbeat interval of the sweep. Default 20ms.
	SweepHeartbeat time.Duration
	// OverloadPairs is the overload scenario's setup (pair0's machines agent processes, the rest
	// from the load process at the sweep heartbeat). Default DefaultOverloadPairs.
	OverloadPairs int
	// OverloadRate is the report rate the supervisor serves, driven twice over; zero finds it
	// with a ramp (the rate ×1.5 every 5 s until the supervisor says it is behind).
	OverloadRate float64
	// OverloadFor is how long the overload is held before the crash. Default 60s.
	OverloadFor time.Duration
	// Mode says how machines are driven. Default ModeAuto.
	Mode Mode
	// Plaintext runs the studio's links without TLS (--tls=false). By default they are mutual
	// TLS with the setup's own studio CA, and the crash scenario is run once more on plaintext
	// links to report what TLS costs (Report.TLSCost).
	Plaintext bool
	// NoActionCost skips running the crash scenario once more on a setup with a slow [[action]]
	// (Report.ActionCost), which by default follows the crash scenario.
	NoActionCost bool
	// ProfileDir, when set, receives the supervisor's CPU profile over each sweep point's idle
	// window (sweepN-cpu.pprof) and its heap after the runs (sweepN-heap.pprof), for `go tool
	// pprof`.
	ProfileDir string
	// Dir is the work directory (configs, logs); empty makes a temporary one, removed unless Keep.
	Dir  string
	Keep bool
	// Logger receives the bench's own log; Progress, when set, gets one line per step for people.
	Logger   zerolog.Logger
	Progress io.Writer
}

func (o *Options) setDefaults() error {
	if o.Binary == "" {
		return fmt.Errorf("bench: no standby binary")
	}
	switch {
	case len(o.Scenarios) == 0:
		o.Scenarios = Scenarios
	case len(o.Scenarios) == 1 && o.Scenarios[0] == "none":
		o.Scenarios = nil
	}
	for _, s := range o.Scenarios {
		if !slices.Contains(Scenarios, s) && !slices.Contains(Optional, s) {
			return fmt.Errorf("bench: unknown scenario %q (have %v, and %v when asked for)", s, Scenarios, Optional)
		}
	}
	if o.Pairs == 0 {
		o.Pairs = DefaultPairs
	}
	if o.Pairs < 1 || o.Pairs > MaxPairs {
		return fmt.Errorf("bench: --pairs %d out of range 1..%d", o.Pairs, MaxPairs)
	}
	if o.HeartbeatInterval == 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HeartbeatTimeout == 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.HeartbeatInterval < 5*time.Millisecond || o.HeartbeatTimeout <= o.HeartbeatInterval {
		return fmt.Errorf("bench: heartbeat interval %s must be at least 5ms and below the timeout %s", o.HeartbeatInterval, o.HeartbeatTimeout)
	}
	if o.Runs == 0 {
		o.Runs = DefaultRuns
	}
	if o.Runs < 1 || o.Runs > 100_000 {
		return fmt.Errorf("bench: --runs %d out of range 1..100000", o.Runs)
	}
	if o.SweepRuns == 0 {
		o.SweepRuns = DefaultSweepRuns
	}
	if o.SweepHeartbeat == 0 {
		o.SweepHeartbeat = DefaultSweepHeartbeat
	}
	if o.OverloadPairs == 0 {
		o.OverloadPairs = DefaultOverloadPairs
	}
	if o.OverloadPairs < 2 || o.OverloadPairs > MaxPairs {
		return fmt.Errorf("bench: --overload-pairs %d out of range 2..%d", o.OverloadPairs, MaxPairs)
	}
	if o.OverloadFor == 0 {
		o.OverloadFor = DefaultOverloadFor
	}
	if o.OverloadRate < 0 || o.OverloadFor < 0 {
		return fmt.Errorf("bench: --overload-rate and --overload-for may not be negative")
	}
	for _, n := range o.Sweep {
		if n < 1 || n > MaxPairs {
			return fmt.Errorf("bench: --sweep size %d out of range 1..%d", n, MaxPairs)
		}
	}
	if o.ProfileDir != "" {
		if err := os.MkdirAll(o.ProfileDir, 0o755); err != nil {
			return fmt.Errorf("bench: --profile: %w", err)
		}
	}
	switch o.Mode {
	case ModeAuto, ModeAgents, ModeSimulated:
	default:
		return fmt.Errorf("bench: unknown mode %q (agents, simulated)", o.Mode)
	}
	return nil
}

// runsFor is the number of runs of a scenario.
func (o *Options) runsFor(sc string) int {
	if sc == RouterLoss && !o.RunsSet {
		return min(o.Runs, DefaultRouterLossRuns)
	}
	return o.Runs
}

// MaxPairs bounds the pairs of one setup: 20 000 machines, 70 simulated routers.
const MaxPairs = 10000

// MaxAgentPairs bounds the pairs whose machines are agent processes (two agents and two engines
// each); the machines of further pairs are reported by one `standby bench agents` process, and
// scenario runs cycle through the agent pairs only.
const MaxAgentPairs = 32
