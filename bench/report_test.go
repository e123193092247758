package bench

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"time"
)

// testReport is a report as Run would make it, without running anything.
func testReport() *Report {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(n int, base, step time.Duration) []sample {
		var s []sample
		for i := range n {
			at := t0.Add(time.Duration(i) * time.Second)
			lat := base + time.Duration(i)*step
			s = append(s, sample{pair: "pair0", latency: lat, t0: at, seen: at.Add(lat), marks: pairMarks{
				failed: at.Add(lat / 4), switching: at.Add(lat / 2), confirmed: at.Add(lat - lat/10)}})
		}
		return s
	}
	hb := 250 * time.Millisecond
	r := &Report{Started: t0, Host: Host{CPUs: 2, CPUModel: "Test CPU", OS: "linux/amd64", GoVersion: "go1.26"},
		Settings: Settings{Pairs: 1, HeartbeatIntervalMS: 50, HeartbeatTimeoutMS: 250, FailbackAfterMS: 100, PingIntervalMS: 1000, Runs: 20},
		Mode:     ModeAgents, Machines: "agent processes", Method: "test <&> method", Anchors: Anchors}
	r.Scenarios = append(r.Scenarios, scenarioResult(Crash, mk(20, time.Millisecond, 100*time.Microsecond), hb))
	r.Scenarios = append(r.Scenarios, scenarioResult(Hang, mk(20, 240*time.Millisecond, time.Millisecond), hb))
	r.Scenarios = append(r.Scenarios, ScenarioResult{Name: Manual, Skipped: "no control API"})
	r.Sweep = []SweepPoint{
		{Pairs: 1, Crash: Stats{Runs: 10, P50: 1, P99: 2}, CPUPercent: 1, RSSMB: 30, PeakRSSMB: 31},
		{Pairs: 100, Crash: Stats{Runs: 10, P50: 1.5, P99: 3}, CPUPercent: 10, RSSMB: 40, PeakRSSMB: 45},
		{Pairs: 1000, Error: "boom"},
	}
	return r
}

func TestScenarioResult(t *testing.T) {
	r := testReport()
	crash, hang := r.Scenarios[0], r.Scenarios[1]
	if crash.Stats.Runs != 20 || crash.Stats.P50 != 1.9 || crash.Stats.P99 != 2.9 {
		t.Errorf("crash stats = %+v", crash.Stats)
	}
	if crash.GoalMet == nil || !*crash.GoalMet {
		t.Errorf("crash goal (5 ms) not met at p99 %v", crash.Stats.P99)
	}
	if hang.GoalMet == nil || !*hang.GoalMet { // p99 259 <= 260
		t.Errorf("hang goal not met at p99 %v", hang.Stats.P99)
	}
	if len(crash.VsAnchors) != 3 {
		t.Fatalf("crash compared with %d anchors, want 3 (bfd, pixauto, keepalived)", len(crash.VsAnchors))
	}
	for _, a := range crash.VsAnchors {
		if a.Key == "pixauto" && (a.Ratio < 344 || a.Ratio > 346) {
			t.Errorf("1 s / 2.9 ms = %v, want about 345", a.Ratio)
		}
	}
	names := map[string]bool{}
	for _, s := range crash.Stages {
		names[s.Name] = true
		if s.Runs != 20 {
			t.Errorf("stage %q has %d runs", s.Name, s.Runs)
		}
	}
	for _, n := range []string{stageDetect, stageDecide, stageRoute, stageObserve} {
		if !names[n] {
			t.Errorf("stage %q missing: %v", n, crash.Stages)
		}
	}
}

func TestLargestCost(t *testing.T) {
	r := testReport()
	note := largestCost(r.Scenarios)
	// Crash samples: detection is a quarter, decision a quarter, route 40%, observe 10%.
	if !strings.Contains(note, "crash path") || !strings.Contains(note, stageRoute) {
		t.Errorf("note = %q", note)
	}
	if largestCost(nil) != "" {
		t.Error("a note without results")
	}
}

func TestStagesWithoutFailureMark(t *testing.T) {
	t0 := time.Now()
	s := sample{t0: t0, seen: t0.Add(10 * time.Millisecond), marks: pairMarks{
		failed: t0.Add(-time.Second), switching: t0.Add(5 * time.Millisecond), confirmed: t0.Add(9 * time.Millisecond)}}
	st := stages([]sample{s})
	if len(st) != 3 || st[0].Name != stageTrigger || st[0].P50 != 5 {
		t.Errorf("stages = %+v, want trigger 5 ms, route, observe", st)
	}
	stale := sample{t0: t0, seen: t0, marks: pairMarks{switching: t0.Add(-time.Second)}}
	if st := stages([]sample{stale}); len(st) != 0 {
		t.Errorf("marks from before the injection used: %+v", st)
	}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"2 CPUs (Test CPU)", "machines: agent processes", "crash", "hang", "1.900", "2.900",
		"p99 <= 5 ms", "yes", "manual skipped: no control API", "keepalived", "345x", "scale sweep", "FAILED: boom",
		stageDetect} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Scenarios) != 3 || back.Scenarios[0].Stats.P99 != 2.9 || len(back.Scenarios[0].SamplesMS) != 20 {
		t.Errorf("round trip lost scenarios: %+v", back.Scenarios)
	}
	if len(back.Anchors) != len(Anchors) || back.Anchors[0].ValueMS != 16.7 {
		t.Errorf("anchors in JSON: %+v", back.Anchors)
	}
	for _, key := range []string{`"p99_ms"`, `"vs_anchors"`, `"supervisor_rss_mb"`, `"goal_met"`} {
		if !bytes.Contains(b.Bytes(), []byte(key)) {
			t.Errorf("JSON lacks %s", key)
		}
	}
}

func TestWriteSVG(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteSVG(&b); err != nil {
		t.Fatal(err)
	}
	// Well-formed XML, with an svg root and the scenario names as text.
	dec := xml.NewDecoder(&b)
	var texts []string
	root := ""
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("SVG is not well-formed XML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			if root == "" {
				root = x.Name.Local
			}
		case xml.CharData:
			texts = append(texts, string(x))
		}
	}
	all := strings.Join(texts, "|")
	if root != "svg" {
		t.Errorf("root element %q", root)
	}
	for _, want := range []string{"crash", "hang", "keepalived 3.6s", "Scale sweep", "p99"} {
		if !strings.Contains(all, want) {
			t.Errorf("SVG text lacks %q", want)
		}
	}
	// An empty report still draws.
	var e bytes.Buffer
	if err := (&Report{}).WriteSVG(&e); err != nil || !strings.Contains(e.String(), "</svg>") {
		t.Errorf("empty report: %v", err)
	}
}

func TestPoolGoal(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	mk := func(name string, lat ...time.Duration) []sample {
		var s []sample
		for i, l := range lat {
			at := t0.Add(time.Duration(i) * time.Second)
			s = append(s, sample{pair: name, latency: l, t0: at, seen: at.Add(l), marks: pairMarks{
				failed: at.Add(l / 4), switching: at.Add(l / 2), confirmed: at.Add(l - l/10)}})
		}
		return s
	}
	hb := 250 * time.Millisecond
	for _, tc := range []struct {
		pool time.Duration
		met  bool
	}{{2 * time.Millisecond, true}, {3 * time.Millisecond, true}, {3100 * time.Microsecond, false}} {
		r := testReport()
		r.Scenarios = []ScenarioResult{
			scenarioResult(Crash, mk("pair0", time.Millisecond, 2*time.Millisecond), hb),
			scenarioResult(Pool, mk("pool-m0", time.Millisecond, tc.pool), hb),
		}
		if r.Scenarios[1].Goal != nil {
			t.Fatal("pool has a goal before the crash p99 is known")
		}
		applyPoolGoal(r)
		pr, pool := r.PoolVsCrash, r.Scenarios[1]
		if pr == nil || pool.Goal == nil || pool.GoalMet == nil {
			t.Fatalf("no pool ratio: %+v %+v", pr, pool)
		}
		if pr.Met != tc.met || *pool.GoalMet != tc.met || pr.Goal != PoolGoalRatio || pool.Goal.P99MS != 3 {
			t.Errorf("pool p99 %v: ratio %+v, goal %+v met %v", tc.pool, pr, pool.Goal, *pool.GoalMet)
		}
		for _, st := range pool.Stages {
			if strings.Contains(st.Name, "pair") {
				t.Errorf("pool stage named after a pair: %q", st.Name)
			}
		}
		var b bytes.Buffer
		if err := r.WriteTable(&b); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), "pool p99 ÷ crash p99 = ") {
			t.Errorf("table lacks the pool ratio:\n%s", b.String())
		}
	}
	// Without a crash run there is no ratio and no goal.
	r := testReport()
	r.Scenarios = []ScenarioResult{scenarioResult(Pool, mk("pool-m0", time.Millisecond), hb)}
	applyPoolGoal(r)
	if r.PoolVsCrash != nil || r.Scenarios[0].Goal != nil {
		t.Errorf("pool ratio without crash: %+v", r.PoolVsCrash)
	}
}

// TestTLSCost: what TLS may add is 10 % of the plaintext p99 or 0.2 ms, whichever is larger, and
// a plaintext run that failed meets nothing.
func TestTLSCost(t *testing.T) {
	res := func(p99 float64, runs int) ScenarioResult {
		return ScenarioResult{Name: Crash, Stats: Stats{Runs: runs, P99: p99}}
	}
	for _, c := range []struct {
		tls, plain float64
		limit      float64
		met        bool
	}{
		{1.9, 1.75, 0.2, true}, {1.96, 1.75, 0.2, false}, {5.4, 5.0, 0.5, true}, {5.6, 5.0, 0.5, false}, {1.0, 1.5, 0.2, true},
	} {
		got := newTLSCost(res(c.tls, 100), res(c.plain, 100))
		if got.Met != c.met || got.LimitMS < c.limit-1e-9 || got.LimitMS > c.limit+1e-9 {
			t.Errorf("tls %.2f plain %.2f: %+v, want limit %.2f met %v", c.tls, c.plain, got, c.limit, c.met)
		}
	}
	failed := res(0, 0)
	failed.Error = "setup failed"
	if c := newTLSCost(res(1, 100), failed); c.Met || c.Error == "" {
		t.Errorf("failed plaintext run: %+v", c)
	}
}
