package machine

import (
	"testing"
	"time"

	"standby/actors/failover"
)

var t0 = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)

func settings() Settings {
	return Settings{Timeout: 250 * time.Millisecond,
		Thresholds: map[string]failover.Thresholds{"gpu_temp": {Warning: 80, Critical: 90, Hysteresis: 2}}}
}

func report(seq uint64, services []Service, health ...Reading) Report {
	return Report{Machine: "m", Session: 7, Seq: seq, Services: services, Health: health}
}

func TestTrackerServicesToTriggers(t *testing.T) {
	for _, tc := range []struct {
		services []Service
		want     failover.Trigger
		detail   string
	}{
		{[]Service{{Name: "engine", Up: true}, {Name: "videoio", Up: true}}, failover.TriggerNone, ""},
		{[]Service{{Name: "engine", Up: false, Reason: "exited"}}, failover.TriggerEngine, "engine: exited"},
		{[]Service{{Name: "videoio", Up: false, Reason: "refused"}, {Name: "engine", Up: true}}, failover.TriggerVideoIO, "videoio: refused"},
		{[]Service{{Name: "ndi", Up: false, Reason: "x"}, {Name: "videoio", Up: false, Reason: "y"}, {Name: "engine", Up: false, Reason: "z"}}, failover.TriggerEngine, "engine: z"},
		{[]Service{{Name: "ndi", Up: false, Reason: "x"}}, failover.TriggerService, "ndi: x"},
	} {
		tr := NewTracker(settings())
		tr.Observe(t0, report(1, tc.services))
		c := tr.Condition()
		if !c.Known || c.Failure != tc.want || c.Detail != tc.detail {
			t.Errorf("%v: condition %+v, want %s %q", tc.services, c, tc.want, tc.detail)
		}
	}
}

func TestTrackerSilenceIsNetworkFailure(t *testing.T) {
	tr := NewTracker(settings())
	if tr.Tick(t0, time.Time{}) || !tr.Due(time.Time{}).IsZero() || tr.Condition().Known {
		t.Fatal("a machine never heard from is unknown, not failed")
	}
	tr.Observe(t0, report(1, []Service{{Name: "engine", Up: true}}))
	if due := tr.Due(time.Time{}); !due.Equal(t0.Add(250 * time.Millisecond)) {
		t.Fatalf("due at %v, want 250ms after the report", due.Sub(t0))
	}
	for ms := 10; ms < 250; ms += 10 {
		if tr.Tick(t0.Add(time.Duration(ms)*time.Millisecond), time.Time{}) {
			t.Fatalf("failed at %dms, before the timeout", ms)
		}
	}
	if !tr.Tick(t0.Add(250*time.Millisecond), time.Time{}) || tr.Condition().Failure != failover.TriggerNetwork {
		t.Fatalf("silence past the timeout: %+v", tr.Condition())
	}
	if !tr.Due(time.Time{}).IsZero() {
		t.Fatal("a silent machine still has a deadline")
	}
	if !tr.Observe(t0.Add(300*time.Millisecond), report(2, []Service{{Name: "engine", Up: true}})) || tr.Condition().Failure != failover.TriggerNone {
		t.Fatalf("heard again: %+v", tr.Condition())
	}
}

// A supervisor paused (GC, SIGSTOP, VM) must not blame its machines for the paused span.
func TestTrackerSelfStallGivesOneFreshTimeout(t *testing.T) {
	tr := NewTracker(settings())
	tr.Observe(t0, report(1, nil))
	// We were frozen from 10 ms to 2 s: the pause watch says we resumed at 2 s.
	resumed := t0.Add(2 * time.Second)
	if tr.Tick(resumed, resumed) {
		t.Fatal("declared the machine lost after our own stall")
	}
	for ms := 10; ms < 250; ms += 10 {
		if tr.Tick(resumed.Add(time.Duration(ms)*time.Millisecond), resumed) {
			t.Fatalf("lost %dms into the fresh timeout", ms)
		}
	}
	if !tr.Tick(resumed.Add(250*time.Millisecond), resumed) {
		t.Fatal("still silent after the fresh timeout, but not declared lost")
	}
}

func TestTrackerStaleReportsIgnored(t *testing.T) {
	tr := NewTracker(settings())
	tr.Observe(t0, report(5, []Service{{Name: "engine", Up: false, Reason: "exited"}}))
	if tr.Observe(t0, report(4, []Service{{Name: "engine", Up: true}})) || tr.Condition().Failure != failover.TriggerEngine {
		t.Fatal("an older report overrode a newer one")
	}
	// A new session (agent restarted) starts its own sequence.
	r := report(1, []Service{{Name: "engine", Up: true}})
	r.Session = 8
	if !tr.Observe(t0, r) || tr.Condition().Failure != failover.TriggerNone {
		t.Fatal("a restarted agent's first report was ignored")
	}
}

func TestTrackerHealthLevels(t *testing.T) {
	tr := NewTracker(settings())
	steps := []struct {
		v    float64
		ok   bool
		want failover.Level
	}{
		{60, true, failover.Normal}, {85, true, failover.Warning}, {91, true, failover.Critical},
		{89, true, failover.Critical},                              // hysteresis holds it
		{87, true, failover.Warning}, {50, false, failover.Normal}, // unreadable: no evidence
	}
	for i, s := range steps {
		tr.Observe(t0, report(uint64(i+1), nil, Reading{Name: "gpu_temp", Value: s.v, OK: s.ok}, Reading{Name: "fps", Value: 1, OK: true}))
		if got := tr.Condition().Level; got != s.want {
			t.Errorf("step %d (%g): level %s, want %s", i, s.v, got, s.want)
		}
	}
	if c := NewTracker(settings()); c.Observe(t0, report(1, nil, Reading{Name: "gpu_temp", Value: 95, OK: true})) && c.Condition().Detail != "gpu_temp=95" {
		t.Errorf("critical detail %q", c.Condition().Detail)
	}
}

// A tracker restored after a panic gives its machine a fresh timeout instead of counting the
// time since the copy was saved as silence.
func TestTrackerResume(t *testing.T) {
	tr := NewTracker(settings())
	tr.Observe(t0, report(1, nil))
	saved := tr.Clone()
	later := t0.Add(10 * time.Second)
	saved.Resume(later)
	for ms := 10; ms < 250; ms += 10 {
		if saved.Tick(later.Add(time.Duration(ms)*time.Millisecond), time.Time{}) {
			t.Fatalf("restored tracker declared a failure %dms after resuming: %+v", ms, saved.Condition())
		}
	}
	if !saved.Tick(later.Add(250*time.Millisecond), time.Time{}) {
		t.Fatal("silence after the fresh timeout not noticed")
	}
}

// BenchmarkTrackerObserve is the supervisor's work per heartbeat of a typical agent (two
// services, three health values, one with thresholds), 2000 of which arrive every 20 ms at the
// sweep's 1000 pairs.
func BenchmarkTrackerObserve(b *testing.B) {
	tr := NewTracker(settings())
	services := []Service{{Name: "engine", Up: true}, {Name: "videoio", Up: true}}
	b.ReportAllocs()
	for i := range b.N {
		tr.Observe(t0, report(uint64(i+1), services,
			Reading{Name: "gpu_temp", Value: 60 + float64(i%5), OK: true},
			Reading{Name: "cpu_load", Value: 0.4, OK: true},
			Reading{Name: "fps", Value: 59.94, OK: true}))
	}
}
