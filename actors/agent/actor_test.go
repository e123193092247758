package agent

import (
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/conf"
	"standby/protocol/pb"
)

// fakeGateway stands in for a supervisor's gateway in the same actor system: it records reports and
// answers them as the active supervisor.
func fakeGateway(t *testing.T, sys *actor.ActorSystem) chan *pb.AgentReport {
	t.Helper()
	ch := make(chan *pb.AgentReport, 1024)
	_, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if r, ok := ctx.Message().(*pb.AgentReport); ok {
			ch <- r
			ctx.Respond(&pb.AgentReply{Accepted: true, Active: true, Seq: r.Seq})
		}
	}), pb.GatewayActorID)
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// startAgentActor spawns an agent actor for cfg whose only supervisor is the local fake gateway.
func startAgentActor(t *testing.T, cfg string, c clock.Clock) (*actor.ActorSystem, *actor.PID, chan *pb.AgentReport) {
	t.Helper()
	return startAgentActorWith(t, cfg, c, fakeGateway)
}

// startAgentActorWith is startAgentActor with the gateway gateway spawns.
func startAgentActorWith(t *testing.T, cfg string, c clock.Clock, gateway func(*testing.T, *actor.ActorSystem) chan *pb.AgentReport) (*actor.ActorSystem, *actor.PID, chan *pb.AgentReport) {
	t.Helper()
	a, err := conf.ParseAgent([]byte(cfg))
	if err != nil {
		t.Fatal(err)
	}
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	reports := gateway(t, sys)
	ag := newAgentActor(a, "test-agent:1", c, zerolog.New(zerolog.NewTestWriter(t)))
	ag.fol = newFollower([]string{sys.Address()}, missLimit)
	ag.gws = []*actor.PID{actor.NewPID(sys.Address(), pb.GatewayActorID)}
	pid, err := sys.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return ag }), pb.AgentActorID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait() })
	return sys, pid, reports
}

// nextReport waits for the next report that satisfies ok.
func nextReport(t *testing.T, ch chan *pb.AgentReport, ok func(*pb.AgentReport) bool) *pb.AgentReport {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-ch:
			if ok(r) {
				return r
			}
		case <-deadline:
			t.Fatal("no matching report within 10s")
		}
	}
}

func isChange(r *pb.AgentReport) bool { return r.Change }
func isBeat(r *pb.AgentReport) bool   { return !r.Change }

const actorCfg = `
name = "render-1"
supervisors = ["127.0.0.1:7400"]
token = "tok"
heartbeat_interval = "10ms"
[[service]]
name = "engine"
kind = "sim"
[[service]]
name = "videoio"
kind = "tcp"
target = "127.0.0.1:5000"
[[health]]
name = "gpu_temp"
sim = 60.0
[[health]]
name = "fps"
command = ["engine-fps"]
`

func TestAgentReportsChangesAtOnce(t *testing.T) {
	fc := clock.NewFake(time.Unix(1000, 0))
	sys, pid, reports := startAgentActor(t, actorCfg, fc)

	// videoio has not been checked: the agent holds its reports (the fake clock never reaches the
	// gate's deadline), so a restart cannot report a healthy service down.
	sys.Root.Send(pid, &beat{})
	sys.Root.Send(pid, &serviceEvent{i: 1, up: true, at: fc.Now()})
	first := nextReport(t, reports, func(*pb.AgentReport) bool { return true })
	if !first.Change || first.Seq != 1 || first.Machine != "render-1" || first.Token != "tok" ||
		first.Session == 0 || first.AgentAddress != "test-agent:1" {
		t.Fatalf("first report %v", first)
	}
	if s := first.Services; len(s) != 2 || !s[0].Up || !s[1].Up {
		t.Fatalf("first report services %v", s)
	}
	if h := first.Health; len(h) != 2 || !h[0].Ok || h[0].Value != 60 || h[1].Ok || h[1].Reason != reasonNoReading {
		t.Fatalf("first report health %v", h)
	}

	nextReport(t, reports, isBeat)

	fc.Advance(time.Second)
	sys.Root.Send(pid, &serviceEvent{i: 1, up: false, reason: "connection refused", at: fc.Now()})
	down := nextReport(t, reports, isChange)
	if v := down.Services[1]; v.Up || v.Reason != "connection refused" || v.SinceUnixNano != fc.Now().UnixNano() {
		t.Fatalf("videoio in change report: %v", v)
	}
	if down.Seq <= first.Seq || down.Session != first.Session {
		t.Fatalf("seq %d session %d after seq %d session %d", down.Seq, down.Session, first.Seq, first.Session)
	}

	// A health value turning readable is reported at once; a value change alone is not.
	sys.Root.Send(pid, &healthEvent{i: 1, value: 50, ok: true})
	if r := nextReport(t, reports, isChange); !r.Health[1].Ok || r.Health[1].Value != 50 {
		t.Fatalf("fps in change report: %v", r.Health[1])
	}
	sys.Root.Send(pid, &healthEvent{i: 1, value: 49, ok: true})
	if r := nextReport(t, reports, func(r *pb.AgentReport) bool { return r.Health[1].Value == 49 }); r.Change {
		t.Fatal("a plain value change was sent as a change report")
	}
}

func TestAgentGateOpensAtDeadline(t *testing.T) {
	fc := clock.NewFake(time.Unix(1000, 0))
	sys, pid, reports := startAgentActor(t, actorCfg, fc)
	fc.Advance(conf.DefaultCheckTimeout + 100*time.Millisecond)
	sys.Root.Send(pid, &beat{})
	r := nextReport(t, reports, func(*pb.AgentReport) bool { return true })
	if v := r.Services[1]; v.Up || v.Reason != reasonNotChecked {
		t.Fatalf("unchecked service after the gate deadline: %v", v)
	}
}

func TestAgentSimSet(t *testing.T) {
	fc := clock.NewFake(time.Unix(1000, 0))
	sys, pid, reports := startAgentActor(t, actorCfg, fc)
	sys.Root.Send(pid, &serviceEvent{i: 1, up: true, at: fc.Now()})
	nextReport(t, reports, isChange)

	simSet := func(m *pb.SimSet) *pb.SimSetReply {
		t.Helper()
		res, err := sys.Root.RequestFuture(pid, m, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res.(*pb.SimSetReply)
	}
	for _, bad := range []*pb.SimSet{
		{Token: "wrong", Services: []*pb.SimSet_Service{{Name: "engine"}}},
		{Token: "tok", Services: []*pb.SimSet_Service{{Name: "videoio"}}},                // not a sim service
		{Token: "tok", Services: []*pb.SimSet_Service{{Name: "engine"}, {Name: "nope"}}}, // all or nothing
		{Token: "tok", Health: []*pb.SimSet_Health{{Name: "fps", Value: 1}}},             // not a sim value
		{Token: "tok", Health: []*pb.SimSet_Health{{Name: "gpu_temp", Value: nan()}}},    // not finite
	} {
		if r := simSet(bad); r.Accepted || r.Reason == "" {
			t.Errorf("%v: reply %v, want refused with a reason", bad, r)
		}
	}

	if r := simSet(&pb.SimSet{Token: "tok", Services: []*pb.SimSet_Service{{Name: "engine", Up: false}},
		Health: []*pb.SimSet_Health{{Name: "gpu_temp", Value: 95}}}); !r.Accepted {
		t.Fatalf("sim set refused: %v", r)
	}
	r := nextReport(t, reports, isChange)
	if e := r.Services[0]; e.Up || e.Reason != reasonSimDown {
		t.Errorf("engine after sim set: %v", e)
	}
	if g := r.Health[0]; !g.Ok || g.Value != 95 {
		t.Errorf("gpu_temp after sim set: %v", g)
	}
	if !r.Services[1].Up {
		t.Error("a refused sim set changed videoio")
	}

	if r := simSet(&pb.SimSet{Token: "tok", Health: []*pb.SimSet_Health{{Name: "gpu_temp", Fail: true, Reason: "sensor lost"}}}); !r.Accepted {
		t.Fatalf("sim set refused: %v", r)
	}
	if g := nextReport(t, reports, isChange).Health[0]; g.Ok || g.Reason != "sensor lost" {
		t.Errorf("gpu_temp after sim fail: %v", g)
	}
}

func nan() float64 {
	zero := 0.0
	return zero / zero
}

// TestForgedReplyCannotRedirect: a reply naming other supervisors (what a forged AgentReply did
// to hijack an agent) adds nothing to where the agent reports; only the supervisors of its own
// config are ever reported to.
func TestForgedReplyCannotRedirect(t *testing.T) {
	a, err := conf.ParseAgent([]byte("name = \"render-1\"\nsupervisors = [\"10.0.0.1:7400\"]\ntoken = \"t\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	ag := newAgentActor(a, "10.0.0.9:7401", clock.Real{}, zerolog.New(zerolog.NewTestWriter(t)))
	ag.sent.put(5, 0)
	ag.handleReply(&pb.AgentReply{Accepted: true, Active: true, Seq: 5, Supervisors: []string{"10.6.6.6:7400", "10.0.0.1:7400"}})
	ag.handleReply(&pb.AgentReply{Accepted: true, Active: true, Seq: 77, Supervisors: []string{"10.6.6.7:7400"}})
	if len(ag.fol.addrs) != 1 || len(ag.gws) != 1 || ag.gws[0].Address != "10.0.0.1:7400" {
		t.Fatalf("reports go to %v (gateways %v), want only the configured 10.0.0.1:7400", ag.fol.addrs, ag.gws)
	}
	if got := ag.fol.following(); got != "10.0.0.1:7400" {
		t.Fatalf("following %q", got)
	}
}

// TestAgentLeanBeats: once the supervisor says it takes lean heartbeats, a heartbeat with nothing
// changed since the last full report to it names that report and carries no content; a changed
// value (a plain value change too) goes in full, and so does the report after the supervisor
// asks for one.
func TestAgentLeanBeats(t *testing.T) {
	var askFull atomic.Bool
	fc := clock.NewFake(time.Unix(1000, 0))
	sys, pid, reports := startAgentActorWith(t, actorCfg, fc, func(t *testing.T, sys *actor.ActorSystem) chan *pb.AgentReport {
		reports := make(chan *pb.AgentReport, 1024)
		if _, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
			if r, ok := ctx.Message().(*pb.AgentReport); ok {
				reports <- r
				full := r.SameAs != 0 && askFull.CompareAndSwap(true, false)
				ctx.Respond(&pb.AgentReply{Accepted: true, Active: true, Seq: r.Seq, LeanBeats: true, SendFull: full})
			}
		}), pb.GatewayActorID); err != nil {
			t.Fatal(err)
		}
		return reports
	})

	sys.Root.Send(pid, &serviceEvent{i: 1, up: true, at: fc.Now()})
	first := nextReport(t, reports, func(*pb.AgentReport) bool { return true })
	if first.SameAs != 0 || len(first.Services) != 2 {
		t.Fatalf("first report %v, want it in full", first)
	}
	isLean := func(r *pb.AgentReport) bool { return r.SameAs != 0 }
	l := nextReport(t, reports, isLean)
	if l.SameAs != first.Seq || len(l.Services) != 0 || len(l.Health) != 0 || l.AgentAddress != "" || l.Token != "tok" ||
		l.Session != first.Session || l.Machine != "render-1" {
		t.Fatalf("lean heartbeat %v, want one naming report %d with no content", l, first.Seq)
	}
	sys.Root.Send(pid, &healthEvent{i: 0, value: 61, ok: true})
	v := nextReport(t, reports, func(r *pb.AgentReport) bool { return r.SameAs == 0 })
	if v.Change || v.Health[0].Value != 61 {
		t.Fatalf("after a value change: %v, want a full heartbeat with gpu_temp 61", v)
	}
	if l := nextReport(t, reports, isLean); l.SameAs < v.Seq {
		t.Fatalf("lean heartbeat names report %d, before the full one %d", l.SameAs, v.Seq)
	}
	askFull.Store(true)
	nextReport(t, reports, func(r *pb.AgentReport) bool { return r.SameAs != 0 && !askFull.Load() })
	if r := nextReport(t, reports, func(*pb.AgentReport) bool { return true }); r.SameAs != 0 {
		// The reply asking for it may cross one more lean beat; the one after must be full.
		if r := nextReport(t, reports, func(*pb.AgentReport) bool { return true }); r.SameAs != 0 {
			t.Fatalf("after the supervisor asked for a full report: %v", r)
		}
	}
}
