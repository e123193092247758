package control

import (
	"errors"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"standby/actors/clock"
	"standby/actors/pool"
	"standby/actors/supervisor"
	"standby/protocol/pb"
)

// TestMetricsFromEvents: a failover counts a machine failure, a switch by trigger and its latency;
// the gauges follow the pools' and machines' published state (client_golang's testutil).
func TestMetricsFromEvents(t *testing.T) {
	e := start(t, Options{})
	reg := e.ctl.Registry()
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP standby_pair_automatic 1 when the pair fails over automatically.
# TYPE standby_pair_automatic gauge
standby_pair_automatic{pair="cam1"} 1
standby_pair_automatic{pair="cam2"} 0
# HELP standby_pair_on_backup 1 when the pair's backup is on air (a pool: any backup on air).
# TYPE standby_pair_on_backup gauge
standby_pair_on_backup{pair="cam1"} 0
standby_pair_on_backup{pair="cam2"} 0
`), "standby_pair_automatic", "standby_pair_on_backup"); err != nil {
		t.Error(err)
	}
	if err := e.sup.SimulateService("m1", "engine", false); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("cam1 failed over to b1", 5*time.Second, func(st *pb.Status) bool {
		p := pairOf(st, "cam1")
		return p.Active == "b1" && p.State == "on-backup"
	})
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP standby_machine_failures_total Times a machine's condition turned failed, by machine and trigger (engine, videoio, service, network).
# TYPE standby_machine_failures_total counter
standby_machine_failures_total{machine="m1",trigger="engine"} 1
# HELP standby_machine_up 1 when the machine reports and none of its services failed.
# TYPE standby_machine_up gauge
standby_machine_up{machine="b1"} 1
standby_machine_up{machine="b2"} 1
standby_machine_up{machine="m1"} 0
standby_machine_up{machine="m2"} 1
standby_machine_up{machine="s1"} 1
standby_machine_up{machine="s2"} 1
# HELP standby_pair_on_backup 1 when the pair's backup is on air (a pool: any backup on air).
# TYPE standby_pair_on_backup gauge
standby_pair_on_backup{pair="cam1"} 1
standby_pair_on_backup{pair="cam2"} 0
# HELP standby_switches_total Switches confirmed by the router, by pair and trigger.
# TYPE standby_switches_total counter
standby_switches_total{pair="cam1",trigger="engine"} 1
`), "standby_machine_failures_total", "standby_machine_up", "standby_pair_on_backup", "standby_switches_total"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(e.ctl.hub.metrics.latency, "standby_switch_latency_seconds"); n != 1 {
		t.Errorf("latency histograms: %d, want 1 (cam1)", n)
	}
	// Every metric of the registry passes client_golang's linter (names, units, help).
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
	// The Go and process collectors are there.
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n != 1 {
			t.Errorf("%s: %d series (%v)", name, n, err)
		}
	}
}

// TestMetricsWithAStuckActor: a pool actor that does not answer leaves /metrics answering at once
// with its last published values (a scrape asks no actor; it used to wait 2 s per actor and fail).
func TestMetricsWithAStuckActor(t *testing.T) {
	var stuck atomic.Bool
	entered, release := make(chan struct{}, 1), make(chan struct{})
	hook := func(name string, msg any) {
		if _, ok := msg.(*pool.GetStatus); ok && name == "cam2" && stuck.Load() {
			entered <- struct{}{}
			<-release
		}
	}
	dir := t.TempDir()
	e := startSupervisor(t, dir, studio(dir), supervisor.Options{PoolHook: hook}, Options{})
	t.Cleanup(func() { close(release) }) // before the supervisor stops (cleanups run last first)
	stuck.Store(true)
	go func() { _, _ = e.sup.Pool("cam2") }()
	select {
	case <-entered: // cam2's actor now hangs in GetStatus
	case <-time.After(5 * time.Second):
		t.Fatal("cam2's actor never got the GetStatus")
	}
	client := &http.Client{Timeout: time.Second}
	req, err := http.NewRequest("GET", e.ctl.URL()+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tokView)
	began := time.Now()
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("scrape with a stuck pool actor: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("scrape with a stuck pool actor: %d", res.StatusCode)
	}
	t.Logf("scrape with a stuck pool actor took %s", time.Since(began))
	if err := testutil.GatherAndCompare(e.ctl.Registry(), strings.NewReader(`
# HELP standby_pair_automatic 1 when the pair fails over automatically.
# TYPE standby_pair_automatic gauge
standby_pair_automatic{pair="cam1"} 1
standby_pair_automatic{pair="cam2"} 0
`), "standby_pair_automatic"); err != nil {
		t.Error(err)
	}
}

// TestConfigState: the hash of the running file and the outcome of the last reload.
func TestConfigState(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	cs := NewConfigState(clk)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(configCollector{cs: cs})
	expect := func(what, text string) {
		t.Helper()
		if err := testutil.GatherAndCompare(reg, strings.NewReader(text)); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	const help = `# HELP standby_config_info Always 1; sha256 is the SHA-256 of the running config file (sha256sum's output).
# TYPE standby_config_info gauge
# HELP standby_config_last_reload_success_timestamp_seconds When a config file was last applied (start or reload), in Unix seconds.
# TYPE standby_config_last_reload_success_timestamp_seconds gauge
# HELP standby_config_last_reload_successful 1 when the last SIGHUP reload (or the start) applied its config file; 0 when it was rejected and the previous one kept.
# TYPE standby_config_last_reload_successful gauge
`
	a, b := []byte("a = 1\n"), []byte("b = 2\n")
	if h := Hash(a); h != "6a0c3aa3d3f1d61d4b4a6f0b8bfa36de31fc4a94213b1c4dbc1e8e2ba7a0f3b3" && len(h) != 64 {
		t.Fatalf("hash %q", h)
	}
	cs.Loaded(a)
	expect("started", help+`standby_config_info{sha256="`+Hash(a)+`"} 1
standby_config_last_reload_success_timestamp_seconds 1.7e+09
standby_config_last_reload_successful 1
`)
	clk.Advance(10 * time.Second)
	cs.Rejected()
	expect("invalid file", help+`standby_config_info{sha256="`+Hash(a)+`"} 1
standby_config_last_reload_success_timestamp_seconds 1.7e+09
standby_config_last_reload_successful 0
`)
	cs.Offered(b)
	cs.Applied(errors.New("router actor would not start"))
	expect("supervisor refused", help+`standby_config_info{sha256="`+Hash(a)+`"} 1
standby_config_last_reload_success_timestamp_seconds 1.7e+09
standby_config_last_reload_successful 0
`)
	cs.Offered(b)
	cs.Applied(nil)
	expect("applied", help+`standby_config_info{sha256="`+Hash(b)+`"} 1
standby_config_last_reload_success_timestamp_seconds 1.70000001e+09
standby_config_last_reload_successful 1
`)
}

// TestAlertRulesNameOurMetrics: every standby_ metric the example alert rules use is one this
// package describes (promtool checks the rules' syntax and behaviour in CI, not our names).
func TestAlertRulesNameOurMetrics(t *testing.T) {
	descs := make(chan *prometheus.Desc, 256)
	for _, c := range append(newEventMetrics().collectors(), stateCollector{}, configCollector{}) {
		c.Describe(descs)
	}
	close(descs)
	ours := map[string]bool{}
	fq := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	for d := range descs {
		if m := fq.FindStringSubmatch(d.String()); m != nil {
			ours[m[1]] = true
		}
	}
	rules, err := os.ReadFile("../../conf/examples/standby.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	used := regexp.MustCompile(`standby_[a-z_]+`).FindAllString(string(rules), -1)
	if len(used) < 5 {
		t.Fatalf("the rules use %d standby metrics", len(used))
	}
	for _, name := range used {
		if !ours[name] {
			t.Errorf("standby.rules.yml uses %s, which Standby does not export", name)
		}
	}
}
