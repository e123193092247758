package machine

import (
	"errors"
	"strings"
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
	// A new session (agent restarted) starts its own sequence, once the old one stays quiet.
	r := report(1, []Service{{Name: "engine", Up: true}})
	r.Session = 8
	tr.Observe(t0.Add(100*time.Millisecond), r)
	if !tr.Tick(t0.Add(250*time.Millisecond), time.Time{}) || tr.Condition().Failure != failover.TriggerNone {
		t.Fatalf("a restarted agent's first report was ignored: %+v", tr.Condition())
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

// agent is one agent process reporting render-1; sessions and addresses as the gateway sees them.
type agent struct {
	session uint64
	from    string
	seq     uint64
}

var (
	upEngine   = []Service{{Name: "engine", Up: true}}
	downEngine = []Service{{Name: "engine", Up: false, Reason: "exited"}}
)

// scene drives one tracker through a script: agents report at given milliseconds after t0,
// the actor's wake-ups are Ticks.
type scene struct {
	t  *testing.T
	tr *Tracker
}

func newScene(t *testing.T) *scene { return &scene{t: t, tr: NewTracker(settings())} }

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func (s *scene) report(ms int, a *agent, services []Service) {
	a.seq++
	s.tr.Observe(at(ms), Report{Machine: "render-1", Session: a.session, Seq: a.seq, From: a.from, Services: services})
}

// beat has a report every 20 ms from..to (inclusive).
func (s *scene) beat(from, to int, a *agent, services []Service) {
	for ms := from; ms <= to; ms += 20 {
		s.report(ms, a, services)
	}
}

func (s *scene) tick(ms int) { s.tr.Tick(at(ms), time.Time{}) }

func (s *scene) wantFailure(what string, want failover.Trigger) {
	s.t.Helper()
	if c := s.tr.Condition(); c.Failure != want {
		s.t.Fatalf("%s: condition %+v, want failure %q", what, c, want)
	}
}

// wantAlarms checks the alarm changes since the last call, as "raised", "cleared", "acked".
func (s *scene) wantAlarms(what string, want ...string) []failover.Alarm {
	s.t.Helper()
	got, _ := s.tr.TakeChanges()
	var names []string
	for _, a := range got {
		switch {
		case !a.Active:
			names = append(names, "cleared")
		case a.Acked:
			names = append(names, "acked")
		default:
			names = append(names, "raised")
		}
		if a.Kind != AlarmDuplicateAgent {
			s.t.Fatalf("%s: alarm kind %q", what, a.Kind)
		}
	}
	if strings.Join(names, ",") != strings.Join(want, ",") {
		s.t.Fatalf("%s: alarm changes %v, want %v", what, names, want)
	}
	return got
}

func (s *scene) shown() []failover.Alarm { return s.tr.Snapshot().Alarms }

func TestAgentRestartAfterSilenceAdoptedAtOnce(t *testing.T) {
	s := newScene(t)
	old, restarted := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 18, from: "127.0.0.1:40003"}
	s.beat(0, 40, old, upEngine)
	s.tick(290) // the old agent crashed at 40 ms
	s.wantFailure("old agent silent", failover.TriggerNetwork)
	s.report(300, restarted, downEngine)
	s.wantFailure("restarted agent's first report", failover.TriggerEngine)
	s.wantAlarms("a restart")
}

func TestAgentFastRestartAdoptedAfterWindow(t *testing.T) {
	s := newScene(t)
	old, restarted := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 18, from: "127.0.0.1:40001"}
	s.beat(0, 40, old, upEngine)
	s.report(50, restarted, downEngine) // back before its predecessor's silence was noticed
	s.wantFailure("quarantined newcomer", failover.TriggerNone)
	// The old one beat every 20 ms: after 40 ms of its silence the newcomer is its restart.
	if due := s.tr.Due(time.Time{}); !due.Equal(at(80)) {
		t.Fatalf("due %v after t0, want the quarantine's end at 80ms", due.Sub(t0))
	}
	s.tick(79)
	s.wantFailure("1 ms before the window ends", failover.TriggerNone)
	s.tick(80)
	s.wantFailure("window over", failover.TriggerEngine)
	s.report(90, restarted, upEngine)
	s.wantFailure("adopted session's next report", failover.TriggerNone)
	s.wantAlarms("a fast restart")
	if due := s.tr.Due(time.Time{}); !due.Equal(at(90 + 250)) {
		t.Fatalf("due %v after t0, want the adopted session's silence deadline", due.Sub(t0))
	}
}

// The window is twice the established agent's spacing, at least 20 ms, at most the timeout.
func TestAgentQuarantineWindowBounds(t *testing.T) {
	for _, c := range []struct {
		spacing, want int // ms
	}{{5, 20}, {20, 40}, {100, 200}, {200, 250}} {
		s := newScene(t)
		old, next := &agent{session: 17}, &agent{session: 18}
		s.report(0, old, upEngine)
		s.report(c.spacing, old, upEngine)
		s.report(c.spacing+1, next, upEngine)
		if due := s.tr.Due(time.Time{}); !due.Equal(at(c.spacing + c.want)) {
			t.Errorf("spacing %dms: quarantine ends %v after the last beat, want %dms", c.spacing, due.Sub(at(c.spacing)), c.want)
		}
	}
}

func TestAgentImpostorRaisesDuplicateAgent(t *testing.T) {
	s := newScene(t)
	real, impostor := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 99, from: "127.0.0.1:40002"}
	s.beat(0, 40, real, upEngine)
	s.report(50, impostor, downEngine)
	s.wantAlarms("impostor's first report")
	s.report(60, real, upEngine) // the established one is alive: two agents at once
	got := s.wantAlarms("the established one reports again", "raised")
	want := "two agents report render-1: 127.0.0.1:40001 (session 17, established) and 127.0.0.1:40002 (session 99, held until acknowledged)"
	if got[0].Message != want || !got[0].Since.Equal(at(60)) {
		t.Fatalf("alarm %+v\nwant message %q", got[0], want)
	}
	// They interleave for seconds: the condition follows only the established one.
	for ms := 70; ms < 3000; ms += 20 {
		s.report(ms, impostor, downEngine)
		s.report(ms+5, real, upEngine)
		s.tick(ms + 10)
		s.wantFailure("interleaving", failover.TriggerNone)
	}
	s.wantAlarms("interleaving") // raised once, never per report
	if a := s.shown(); len(a) != 1 || !a[0].Active || a[0].Acked {
		t.Fatalf("snapshot alarms %+v", a)
	}
	s.report(3000, real, downEngine)
	s.wantFailure("the established one's engine fails", failover.TriggerEngine)
}

func TestAgentEstablishedSilentWhileImpostorReports(t *testing.T) {
	s := newScene(t)
	real, impostor := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 99, from: "127.0.0.1:40002"}
	s.beat(0, 40, real, upEngine)
	s.report(50, impostor, upEngine)
	s.report(60, real, upEngine)
	s.wantAlarms("duplicate", "raised")
	// The real agent's network goes; the impostor says all is fine, to no avail.
	for ms := 70; ms < 310; ms += 20 {
		s.report(ms, impostor, upEngine)
		s.tick(ms)
		s.wantFailure("before the timeout", failover.TriggerNone)
	}
	s.tick(310)
	s.wantFailure("the established one silent for the timeout", failover.TriggerNetwork)
	s.report(330, impostor, upEngine)
	s.wantFailure("the held one reports", failover.TriggerNetwork)
	s.wantAlarms("silence")
	// A restart of either agent takes the held place, never the established one.
	third := &agent{session: 100, from: "127.0.0.1:40004"}
	s.report(340, third, upEngine)
	s.wantFailure("a third session while the duplicate is held", failover.TriggerNetwork)
	got := s.wantAlarms("third session", "raised")
	if !strings.Contains(got[0].Message, "127.0.0.1:40004 (session 100, held until acknowledged)") {
		t.Fatalf("alarm message not updated: %q", got[0].Message)
	}
}

func TestAgentAcknowledgeAdoptsNewcomer(t *testing.T) {
	s := newScene(t)
	old, fresh := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 99, from: "127.0.0.1:40002"}
	s.beat(0, 40, old, downEngine)
	s.report(50, fresh, upEngine)
	s.report(60, old, downEngine)
	s.wantAlarms("duplicate", "raised")
	s.wantFailure("following the established one", failover.TriggerEngine)
	s.report(70, fresh, upEngine)

	// The operator vouches for the newcomer.
	if changed, err := s.tr.Acknowledge(AlarmDuplicateAgent); err != nil || !changed {
		t.Fatalf("acknowledge: changed %v, err %v", changed, err)
	}
	s.wantFailure("acknowledged: following the newcomer", failover.TriggerNone)
	got := s.wantAlarms("acknowledge", "acked")
	if want := "two agents report render-1: 127.0.0.1:40002 (session 99, followed since acknowledged) and 127.0.0.1:40001 (session 17, held)"; got[0].Message != want {
		t.Fatalf("message %q\nwant %q", got[0].Message, want)
	}
	if changed, err := s.tr.Acknowledge(AlarmDuplicateAgent); err != nil || changed {
		t.Fatalf("second acknowledge: changed %v, err %v (must not swap back)", changed, err)
	}
	// Both keep reporting: the alarm stays, acknowledged; the former one no longer counts.
	for ms := 80; ms < 400; ms += 20 {
		s.report(ms, old, downEngine)
		s.report(ms+5, fresh, upEngine)
		s.tick(ms + 10)
	}
	s.wantFailure("former one held", failover.TriggerNone)
	if a := s.shown(); len(a) != 1 || !a[0].Active || !a[0].Acked {
		t.Fatalf("while both report: alarms %+v", a)
	}
	s.wantAlarms("both report")
	// The former one stops: after the timeout the alarm clears and, acknowledged, goes.
	s.beat(400, 700, fresh, upEngine)
	s.tick(380 + 250 - 1)
	s.wantAlarms("held one silent 1 ms short of the timeout")
	s.tick(380 + 250)
	s.wantAlarms("held one silent for the timeout", "cleared")
	if a := s.shown(); len(a) != 0 {
		t.Fatalf("a cleared, acknowledged alarm still shown: %+v", a)
	}
	s.report(720, old, downEngine) // heard again: quarantined, then a duplicate again
	s.report(740, fresh, upEngine)
	s.wantAlarms("the former one back", "raised")
	s.wantFailure("the former one back", failover.TriggerNone)
}

func TestAgentDuplicateClearsUntilAcknowledged(t *testing.T) {
	s := newScene(t)
	real, impostor := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 99, from: "127.0.0.1:40002"}
	s.beat(0, 40, real, upEngine)
	s.report(50, impostor, downEngine)
	s.report(60, real, upEngine)
	s.wantAlarms("duplicate", "raised")
	s.beat(80, 600, real, upEngine)
	if due := s.tr.Due(time.Time{}); !due.Equal(at(300)) {
		t.Fatalf("due %v after t0, want the held session's timeout at 300ms", due.Sub(t0))
	}
	s.tick(300)
	s.wantAlarms("impostor silent", "cleared")
	if a := s.shown(); len(a) != 1 || a[0].Active || a[0].Acked {
		t.Fatalf("cleared alarm must stay shown until acknowledged: %+v", a)
	}
	if _, err := s.tr.Acknowledge(AlarmDuplicateAgent); err != nil {
		t.Fatal(err)
	}
	s.wantAlarms("acknowledged after clearing", "cleared")
	if a := s.shown(); len(a) != 0 {
		t.Fatalf("acknowledged cleared alarm still shown: %+v", a)
	}
	if _, err := s.tr.Acknowledge(AlarmDuplicateAgent); !errors.Is(err, failover.ErrNoAlarm) {
		t.Fatalf("acknowledging a gone alarm: %v", err)
	}
	if _, err := s.tr.Acknowledge("flap_guard"); !errors.Is(err, failover.ErrNoAlarm) {
		t.Fatalf("acknowledging another kind: %v", err)
	}
	s.wantFailure("through it all", failover.TriggerNone)
}

// A tracker saved and restored (actor restart after a panic) keeps the duplicate, and gives
// the held session a fresh timeout too.
func TestAgentDuplicateSurvivesCloneAndResume(t *testing.T) {
	s := newScene(t)
	real, impostor := &agent{session: 17, from: "127.0.0.1:40001"}, &agent{session: 99, from: "127.0.0.1:40002"}
	s.beat(0, 40, real, upEngine)
	s.report(50, impostor, downEngine)
	s.report(60, real, upEngine)
	s.wantAlarms("duplicate", "raised")
	saved := s.tr.Clone()
	s.report(70, impostor, downEngine) // the original moves on; the copy must not
	restored := &scene{t: t, tr: saved}
	restored.wantAlarms("restored copy") // changes already handed out are not handed out again
	saved.Resume(at(5000))
	if due := saved.Due(time.Time{}); !due.Equal(at(5250)) {
		t.Fatalf("restored: due %v after resuming, want a fresh timeout", due.Sub(at(5000)))
	}
	restored.report(5010, impostor, downEngine)
	restored.wantFailure("restored, impostor reports", failover.TriggerNone)
	if a := restored.shown(); len(a) != 1 || !a[0].Active {
		t.Fatalf("restored alarms %+v", a)
	}
	if changed, err := saved.Acknowledge(AlarmDuplicateAgent); err != nil || !changed {
		t.Fatalf("restored acknowledge: %v %v", changed, err)
	}
	restored.wantFailure("restored, acknowledged", failover.TriggerEngine)
}

// TestTrackerShown: Shown changes with what a Snapshot shows at once (services, values appearing
// or unreadable, levels), not on a beat that repeats the last report nor on a value that only
// moved; Reports counts the reports applied.
func TestTrackerShown(t *testing.T) {
	up := []Service{{Name: "engine", Up: true}}
	tr := NewTracker(settings())
	tr.Observe(t0, report(1, up, Reading{Name: "gpu_temp", Value: 60, OK: true}))
	s1 := tr.Shown()
	tr.Observe(t0.Add(10*time.Millisecond), report(2, up, Reading{Name: "gpu_temp", Value: 60, OK: true}))
	if tr.Shown() != s1 {
		t.Errorf("a repeated report changed Shown: %d → %d", s1, tr.Shown())
	}
	tr.Observe(t0.Add(20*time.Millisecond), report(3, up, Reading{Name: "gpu_temp", Value: 61, OK: true}))
	if tr.Shown() != s1 {
		t.Error("a value that only moved changed Shown")
	}
	tr.Observe(t0.Add(25*time.Millisecond), report(4, up, Reading{Name: "gpu_temp", Value: 85, OK: true}))
	s2 := tr.Shown()
	if s2 == s1 {
		t.Error("a value turning warning left Shown alike")
	}
	tr.Observe(t0.Add(30*time.Millisecond), report(5, []Service{{Name: "engine", Up: false, Reason: "exited"}},
		Reading{Name: "gpu_temp", Value: 85, OK: true}))
	if tr.Shown() == s2 {
		t.Error("a service going down left Shown alike")
	}
	tr.Observe(t0.Add(40*time.Millisecond), report(2, up)) // stale: not applied
	if sn := tr.Snapshot(); sn.Reports != 5 {
		t.Errorf("reports %d, want 5", sn.Reports)
	}
}
