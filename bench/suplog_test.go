package bench

import (
	"context"
	"testing"
	"time"
)

func TestSupLog(t *testing.T) {
	l := newSupLog()
	lines := []string{
		`not json at all`,
		`{"level":"info","supervisor":"bench","remote":"127.0.0.1:4000","time":"2026-01-02T03:04:05.000001Z","message":"standby running"}`,
		`{"level":"info","machine":"pair0-main","known":true,"failure":"","level":"normal","detail":"","time":"2026-01-02T03:04:05.1Z","message":"machine condition"}`,
		`{"level":"info","machine":"pair0-backup","known":true,"failure":"","level":"normal","detail":"","time":"2026-01-02T03:04:05.1Z","message":"machine condition"}`,
		`{"level":"info","pair":"pair0","from":"unarmed","to":"on-main","trigger":"","detail":"main seen healthy: armed","time":"2026-01-02T03:04:05.2Z","message":"pair transition"}`,
		`{"level":"info","router":"hub0","state":"connected","detail":"x","time":"2026-01-02T03:04:05.2Z","message":"router state"}`,
	}
	for _, s := range lines {
		l.line(s)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := l.wait(ctx, func(l *supLog) bool {
		return l.remote == "127.0.0.1:4000" && l.pairs["pair0"] == "on-main" && l.healthy("pair0-main") && l.routers["hub0"] == "connected"
	}); err != nil {
		t.Fatalf("state not read: remote %q pairs %v machines %v routers %v", l.remote, l.pairs, l.machines, l.routers)
	}
	// A failover: main fails, pair switches, router confirms.
	for _, s := range []string{
		`{"level":"warn","machine":"pair0-main","known":true,"failure":"engine","level":"normal","detail":"engine: pid 1 exited","time":"2026-01-02T03:04:06.001Z","message":"machine condition"}`,
		`{"level":"warn","pair":"pair0","from":"on-main","to":"switching-to-backup","trigger":"engine","detail":"down","time":"2026-01-02T03:04:06.002Z","message":"pair transition"}`,
		`{"level":"info","router":"hub0","pool":"pair0","epoch":1,"confirmed":true,"switch_ms":0.2,"time":"2026-01-02T03:04:06.0025Z","message":"router switch"}`,
		`{"level":"error","pair":"pair0","alarm":"switch_failed","time":"2026-01-02T03:04:07Z","message":"switch failed"}`,
	} {
		l.line(s)
	}
	if l.healthy("pair0-main") {
		t.Error("failed main still healthy")
	}
	m := l.marksOf("pair0")
	if m.switching.Sub(m.failed) != time.Millisecond || m.confirmed.Sub(m.switching) != 500*time.Microsecond {
		t.Errorf("marks = %+v", m)
	}
	if n, sw := l.automaticSwitches(); n != 1 || sw[0].Trigger != "engine" {
		t.Errorf("automatic switches = %d %+v", n, sw)
	}
	if l.failures() != 1 {
		t.Errorf("failures = %d", l.failures())
	}
	if e := l.errorLines(); len(e) != 1 || e[0] != "switch failed" {
		t.Errorf("error lines = %q", e)
	}
	// Operator switches are not automatic; a critical health level is not healthy.
	l.line(`{"level":"warn","pair":"pair0","from":"on-main","to":"switching-to-backup","trigger":"operator","time":"2026-01-02T03:04:08Z","message":"pair transition"}`)
	l.line(`{"level":"info","machine":"pair0-backup","known":true,"failure":"","level":"critical","time":"2026-01-02T03:04:08Z","message":"machine condition"}`)
	if n, _ := l.automaticSwitches(); n != 1 {
		t.Errorf("operator switch counted as automatic")
	}
	if l.healthy("pair0-backup") {
		t.Error("critical machine counted healthy")
	}
}

// TestSupLogOverload: the supervisor's overload lines are counted, the first one's figures and
// the last end's kept.
func TestSupLogOverload(t *testing.T) {
	l := newSupLog()
	for _, s := range []string{
		`{"level":"warn","component":"agents","waited_ms":176.191,"bound_ms":125.000,"backlog":4808,"late_wakeups":true,"cpu_saturated":false,"shed":3,"time":"2026-12-07T17:58:22.754639773Z","message":"supervisor overloaded: reports wait in its queue; machines get a fresh heartbeat timeout instead of being declared silent"}`,
		`{"level":"info","component":"agents","max_waited_ms":215.450,"served_per_s":190726.946,"shed":7,"shed_changes":0,"time":"2026-12-07T17:58:30Z","message":"supervisor no longer overloaded"}`,
		`{"level":"warn","component":"agents","waited_ms":1,"backlog":1,"time":"2026-12-07T17:59:00Z","message":"supervisor overloaded: reports wait in its queue; machines get a fresh heartbeat timeout instead of being declared silent"}`,
	} {
		l.line(s)
	}
	n, first, calm := l.overloaded()
	if n != 2 || first.WaitedMS != 176.191 || first.Backlog != 4808 || !first.Late || first.Shed != 3 ||
		first.At.Format(time.RFC3339Nano) != "2026-12-07T17:58:22.754639773Z" {
		t.Fatalf("%d episodes, first %+v", n, first)
	}
	if calm.ServedPerS != 190726.946 || calm.MaxWaitedMS != 215.45 || calm.Shed != 7 || l.calms != 1 {
		t.Fatalf("calm %+v (%d)", calm, l.calms)
	}
}
