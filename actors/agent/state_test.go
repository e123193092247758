package agent

import (
	"strings"
	"testing"
	"time"

	"standby/protocol/pb"
)

func TestTableServiceChanges(t *testing.T) {
	t0 := time.Unix(100, 0)
	tb := &table{services: []serviceState{{name: "engine"}, {name: "videoio"}}}
	if tb.servicesKnown() {
		t.Fatal("known before any observation")
	}
	r := tb.report()
	if r.Services[0].Up || r.Services[0].Reason != reasonNotChecked || r.Services[0].SinceUnixNano != 0 {
		t.Fatalf("unknown service reported as %v", r.Services[0])
	}
	steps := []struct {
		i       int
		up      bool
		reason  string
		at      time.Duration
		changed bool
		content bool // what a report carries changed (table.ver)
	}{
		{0, true, "", 0, true, true},                      // first observation
		{1, false, "refused", 0, true, true},              // first observation, down
		{0, true, "", time.Second, false, false},          // no change
		{1, false, "timed out", time.Second, false, true}, // new reason, same state
		{1, false, "timed out", time.Second, false, false},
		{0, false, "pid 4 exited", 2 * time.Second, true, true},
		{1, true, "ignored when up", 3 * time.Second, true, true},
	}
	for n, s := range steps {
		ver := tb.ver
		if got := tb.setService(s.i, s.up, s.reason, t0.Add(s.at)); got != s.changed {
			t.Fatalf("step %d: changed %v, want %v", n, got, s.changed)
		}
		if (tb.ver != ver) != s.content {
			t.Fatalf("step %d: ver %d after %d, want a new one: %v", n, tb.ver, ver, s.content)
		}
	}
	r = tb.report()
	e, v := r.Services[0], r.Services[1]
	if e.Up || e.Reason != "pid 4 exited" || e.SinceUnixNano != t0.Add(2*time.Second).UnixNano() {
		t.Errorf("engine %v", e)
	}
	if !v.Up || v.Reason != "" || v.SinceUnixNano != t0.Add(3*time.Second).UnixNano() {
		t.Errorf("videoio %v", v)
	}
	if !tb.servicesKnown() {
		t.Error("not known after observations")
	}
}

func TestTableHealthChanges(t *testing.T) {
	tb := &table{health: []healthState{{name: "gpu_temp"}}}
	if r := tb.report(); r.Health[0].Ok || r.Health[0].Reason != reasonNoReading {
		t.Fatalf("unread value reported as %v", r.Health[0])
	}
	for n, s := range []struct {
		value            float64
		ok               bool
		changed, content bool
	}{
		{60, true, true, true},   // first reading
		{61, true, false, true},  // value change only: rides on the beat, never a lean one
		{61, true, false, false}, // the same reading
		{70, false, true, true},  // unreadable
		{0, false, false, false}, // still unreadable
		{65, true, true, true},   // readable again
	} {
		ver := tb.ver
		if got := tb.setHealth(0, s.value, s.ok, "sensor lost"); got != s.changed {
			t.Fatalf("step %d: changed %v, want %v", n, got, s.changed)
		}
		if (tb.ver != ver) != s.content {
			t.Fatalf("step %d: ver %d after %d, want a new one: %v", n, tb.ver, ver, s.content)
		}
	}
	if r := tb.report(); !r.Health[0].Ok || r.Health[0].Value != 65 || r.Health[0].Reason != "" {
		t.Fatalf("reported %v", r.Health[0])
	}
	tb.setHealth(0, 99, false, "sensor lost")
	if r := tb.report(); r.Health[0].Ok || r.Health[0].Value != 0 || r.Health[0].Reason != "sensor lost" {
		t.Fatalf("unreadable reported as %v", r.Health[0])
	}
}

func TestTruncate(t *testing.T) {
	tb := &table{services: []serviceState{{name: "s"}}}
	tb.setService(0, false, strings.Repeat("é", pb.MaxReasonLen), time.Now())
	got := tb.services[0].reason
	if len(got) > pb.MaxReasonLen || !strings.HasPrefix(strings.Repeat("é", pb.MaxReasonLen), got) {
		t.Fatalf("reason truncated to %d bytes %q", len(got), got[len(got)-4:])
	}
	if truncate("abc", 5) != "abc" || truncate("abcdef", 3) != "abc" || truncate("aé", 2) != "a" {
		t.Fatal("truncate")
	}
}
