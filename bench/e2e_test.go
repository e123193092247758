package bench

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildOut  []byte
)

// standbyBinary builds cmd/standby once per test binary (not under -race: the children are the
// system under test, the harness is what -race checks).
func standbyBinary(t testing.TB) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build the standby binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "standby-bench-bin-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "standby")
		cmd := exec.Command(goTool, "build", "-o", buildBin, "standby/cmd/standby")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build standby: %v\n%s", buildErr, buildOut)
	}
	return buildBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" {
		os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// TestRunEndToEnd runs the real thing, briefly: a supervisor process, a Videohub simulator
// process per router (the pair's and the pool's), agents and engines, three crashes, three pool
// crashes (8 mains, 2 backups) and three manual switches, checked for shape only.
func TestRunEndToEnd(t *testing.T) {
	rep := runEndToEnd(t, Options{Scenarios: []string{Crash, Pool, Manual}, Runs: 3})
	if len(rep.Scenarios) != 3 {
		t.Fatalf("%d scenario results", len(rep.Scenarios))
	}
	for _, s := range rep.Scenarios {
		if s.Error != "" || s.Skipped != "" {
			t.Errorf("%s: error %q skipped %q", s.Name, s.Error, s.Skipped)
			continue
		}
		if s.Stats.Runs != 3 || len(s.SamplesMS) != 3 {
			t.Errorf("%s: %d runs, %d samples", s.Name, s.Stats.Runs, len(s.SamplesMS))
		}
		for _, v := range s.SamplesMS {
			if v <= 0 {
				t.Errorf("%s: non-positive latency %v", s.Name, v)
			}
		}
		if s.Stats.Min > s.Stats.P50 || s.Stats.P50 > s.Stats.P99 || s.Stats.P99 > s.Stats.Max {
			t.Errorf("%s: stats out of order: %+v", s.Name, s.Stats)
		}
		if len(s.Stages) == 0 {
			t.Errorf("%s: no stage breakdown", s.Name)
		}
	}
	if rep.Mode != ModeAgents && rep.Mode != ModeSimulated {
		t.Errorf("mode %q", rep.Mode)
	}
	// The pool is compared with the pair crash of the same run (the ratio itself is not asserted:
	// three runs on a shared machine decide nothing).
	if pool := rep.Scenarios[1]; pool.Name != Pool || pool.Goal == nil || pool.GoalMet == nil || rep.PoolVsCrash == nil ||
		rep.PoolVsCrash.Ratio <= 0 || rep.Settings.PoolMains != poolMains {
		t.Errorf("pool result %+v, ratio %+v, settings %+v", pool, rep.PoolVsCrash, rep.Settings)
	}
	t.Logf("mode %s (%s); crash p50 %.3f ms, pool p50 %.3f ms, manual p50 %.3f ms", rep.Mode, rep.Machines,
		rep.Scenarios[0].Stats.P50, rep.Scenarios[1].Stats.P50, rep.Scenarios[2].Stats.P50)
	// The crash with a slow action ran, and the action did (figures are not asserted here).
	if c := rep.ActionCost; c == nil || c.Error != "" || c.Runs != 3 || c.Requests == 0 {
		t.Errorf("action cost %+v", c)
	}
	var table bytes.Buffer
	if err := rep.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", table.String())
}

// TestSoakShort soaks one pair for a few seconds: the counts are reported (never asserted to
// be zero here: a loaded CI machine is not the bench).
// TestTakeoverScenario runs the takeover scenario briefly (a pair of supervisors, kill -9 of the
// primary and of the main's engine, twice) and checks that each run was measured and that the
// primary took control back between runs (the second run starts steady on it).
func TestTakeoverScenario(t *testing.T) {
	rep := runEndToEnd(t, Options{Scenarios: []string{Takeover}, Runs: 2, RunsSet: true})
	if len(rep.Scenarios) != 1 {
		t.Fatalf("scenarios %+v", rep.Scenarios)
	}
	r := rep.Scenarios[0]
	// The offset counts from the primary's last beat, up to one sync interval before the kill.
	if r.Error != "" || r.Skipped != "" || r.Stats.Runs != 2 || r.Stats.Min < ms(takeoverOffset-takeoverSync) {
		t.Fatalf("takeover: %+v", r)
	}
}

func TestSoakShort(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end soak of standby processes: skipped under -short")
	}
	bin := standbyBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Soak(ctx, SoakOptions{Binary: bin, Duration: 2 * time.Second, Pairs: 1, Variants: []Variant{VariantPlain, VariantJitter},
		MaxJitter: 20 * time.Millisecond, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 2 {
		t.Fatalf("%d variants", len(rep.Results))
	}
	for _, v := range rep.Results {
		if v.Error != "" {
			t.Errorf("%s: %s", v.Variant, v.Error)
		}
		if v.Skipped == "" && (v.Seconds < 2 || v.Pairs != 1) {
			t.Errorf("%s: ran %v s with %d pairs", v.Variant, v.Seconds, v.Pairs)
		}
	}
	if j := rep.Results[1]; j.Skipped == "" && j.Freezes == 0 {
		t.Error("jitter variant froze no agent")
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	t.Logf("\n%s", b.String())
}

// BenchmarkCrashFailover measures kill -9 of a watched engine to the routing change seen by the
// independent observer, with a real supervisor, agents and simulator as child processes.
//
//	go test ./bench -run x -bench CrashFailover -benchtime 50x
func BenchmarkCrashFailover(b *testing.B) {
	bin := standbyBinary(b)
	ctx := context.Background()
	mode, _ := resolveMode(bin, ModeAuto)
	so := studioOptions{bin: bin, dir: b.TempDir(), mode: mode, pairs: 1, heartbeatInterval: DefaultHeartbeatInterval,
		heartbeatTimeout: DefaultHeartbeatTimeout, failbackAfter: DefaultFailbackAfter, pingInterval: defaultPingInterval, log: zerolog.Nop()}
	if mode == ModeAgents {
		so.agentPairs = 1
	}
	st, err := startStudio(ctx, so)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for range b.N {
		smp, err := runOnce(ctx, st, Crash, pairAt(0))
		if err != nil {
			b.Fatal(err)
		}
		lat = append(lat, smp.latency)
	}
	b.StopTimer()
	s := Summarize(lat)
	b.ReportMetric(s.P50*1000, "p50-µs")
	b.ReportMetric(s.P99*1000, "p99-µs")
	b.ReportMetric(0, "ns/op") // the loop time is the restore, not the failover
}

// TestOverloadScenarioRuns runs the overload scenario's harness briefly at a rate given (no ramp):
// the supervisor and the load processes pinned to their cores, a busy process beside the
// supervisor, the load held, then the crash. Whether this small load overloads the supervisor
// is the bench's to say; here no false failover may happen and the crash must be switched.
func TestOverloadScenarioRuns(t *testing.T) {
	rep := runEndToEnd(t, Options{Scenarios: []string{Overload}, OverloadPairs: 20, OverloadRate: 4000,
		OverloadFor: 2 * time.Second})
	o := rep.Overload
	if o == nil {
		t.Fatal("no overload result")
	}
	if o.Error != "" || o.IdleFailovers != 0 || o.AutoSwitches != 0 || o.CrashMS <= 0 || o.DrivenPerS != 4000 {
		t.Fatalf("overload scenario: %+v", o)
	}
}

// runEndToEnd runs the bench with o on real standby processes (skipped under -short) and fails
// the test when it cannot run; the report is the caller's to check.
func runEndToEnd(t *testing.T, o Options) *Report {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end run of standby processes: skipped under -short")
	}
	o.Binary, o.Logger = standbyBinary(t), zerolog.Nop()
	var progress bytes.Buffer
	o.Progress = &progress
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rep, err := Run(ctx, o)
	if err != nil {
		t.Fatalf("Run: %v\n%s", err, progress.String())
	}
	t.Logf("progress:\n%s", progress.String())
	return rep
}
