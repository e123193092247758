package agentgw

import (
	"bytes"
	"log/slog"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/machine"
	"standby/protocol/pb"
)

func report(machineName, token string, seq uint64) *pb.AgentReport {
	return &pb.AgentReport{
		Machine: machineName, Token: token, Session: 42, Seq: seq, Change: seq%2 == 0,
		AgentAddress: "10.0.0.9:7401",
		Services: []*pb.AgentReport_Service{
			{Name: "engine", Up: true},
			{Name: "videoio", Up: false, Reason: "connection refused"},
		},
		Health: []*pb.AgentReport_Health{{Name: "gpu_temp", Value: 71, Ok: true}, {Name: "cpu_temp", Reason: "no sensor"}},
	}
}

func TestGate(t *testing.T) {
	g := newGate("s3cret", []string{"render-1", "render-2"})
	if r := g.check(report("render-1", "s3cret", 1)); r != "" {
		t.Fatalf("good report refused: %s", r)
	}
	long := strings.Repeat("x", pb.MaxReasonLen+1)
	for name, c := range map[string]struct {
		mutate func(*pb.AgentReport)
		want   string
	}{
		"wrong token":           {func(r *pb.AgentReport) { r.Token = "guess" }, reasonWrongToken},
		"empty token":           {func(r *pb.AgentReport) { r.Token = "" }, reasonWrongToken},
		"token prefix":          {func(r *pb.AgentReport) { r.Token = "s3cre" }, reasonWrongToken},
		"unknown machine":       {func(r *pb.AgentReport) { r.Machine = "render-9" }, `machine "render-9" is not a [[machine]]`},
		"unknown and bad token": {func(r *pb.AgentReport) { r.Machine, r.Token = "render-9", "x" }, reasonWrongToken},
		"no machine":            {func(r *pb.AgentReport) { r.Machine = "" }, "no machine name"},
		"long machine":          {func(r *pb.AgentReport) { r.Machine = strings.Repeat("m", 65) }, "machine name longer"},
		"session 0":             {func(r *pb.AgentReport) { r.Session = 0 }, "session 0"},
		"many services": {func(r *pb.AgentReport) {
			for range pb.MaxServices {
				r.Services = append(r.Services, &pb.AgentReport_Service{Name: "s"})
			}
		}, "report too large"},
		"many health": {func(r *pb.AgentReport) {
			for range pb.MaxHealth {
				r.Health = append(r.Health, &pb.AgentReport_Health{Name: "h"})
			}
		}, "report too large"},
		"nil service":        {func(r *pb.AgentReport) { r.Services[0] = nil }, "service 0 has no name"},
		"unnamed service":    {func(r *pb.AgentReport) { r.Services[1].Name = "" }, "service 1 has no name"},
		"long reason":        {func(r *pb.AgentReport) { r.Services[1].Reason = long }, "reason longer"},
		"nil health":         {func(r *pb.AgentReport) { r.Health[1] = nil }, "health value 1 has no name"},
		"NaN":                {func(r *pb.AgentReport) { r.Health[0].Value = math.NaN() }, "not a finite number"},
		"Inf":                {func(r *pb.AgentReport) { r.Health[0].Value = math.Inf(-1) }, "not a finite number"},
		"long token":         {func(r *pb.AgentReport) { r.Token = strings.Repeat("t", 2000) }, "token longer"},
		"long health reason": {func(r *pb.AgentReport) { r.Health[1].Reason = long }, "reason longer"},
	} {
		r := report("render-1", "s3cret", 1)
		c.mutate(r)
		if got := g.check(r); !strings.Contains(got, c.want) {
			t.Errorf("%s: check = %q, want it to contain %q", name, got, c.want)
		}
	}
	if got := newGate("", []string{"render-1"}).check(report("render-1", "", 1)); got != reasonNoToken {
		t.Errorf("no configured token: %q", got)
	}
	g.setMachines([]string{"render-3"})
	if got := g.check(report("render-1", "s3cret", 1)); got == "" {
		t.Error("machine removed by setMachines still accepted")
	}
}

func TestToReport(t *testing.T) {
	m := toReport(report("render-1", "s3cret", 4))
	want := machine.Report{Machine: "render-1", Session: 42, Seq: 4, Change: true,
		Services: []machine.Service{{Name: "engine", Up: true}, {Name: "videoio", Reason: "connection refused"}},
		Health:   []machine.Reading{{Name: "gpu_temp", Value: 71, OK: true}, {Name: "cpu_temp", Reason: "no sensor"}}}
	if m.Machine != want.Machine || m.Session != want.Session || m.Seq != want.Seq || m.Change != want.Change ||
		len(m.Services) != 2 || m.Services[1] != want.Services[1] || m.Services[0] != want.Services[0] ||
		len(m.Health) != 2 || m.Health[0] != want.Health[0] || m.Health[1] != want.Health[1] {
		t.Fatalf("toReport = %+v\nwant %+v", m, want)
	}
}

// syncBuffer is a log sink safe for the actor's goroutine and the test's.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines(substr string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), substr)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type env struct {
	sys       *actor.ActorSystem
	gw        *actor.PID
	forwarded chan *machine.Report
	machines  chan *machine.Report // reports reaching the default destination
	standin   *actor.PID           // render-1's stand-in machine actor
	log       *syncBuffer
	clock     *clock.Fake
}

func start(t *testing.T, o Options, defaultForward bool) *env {
	t.Helper()
	e := &env{forwarded: make(chan *machine.Report, 100), machines: make(chan *machine.Report, 100),
		log: &syncBuffer{}, clock: clock.NewFake(time.Unix(1000, 0))}
	e.sys = actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(e.sys.Shutdown)
	o.Clock = e.clock
	o.Logger = zerolog.New(zerolog.MultiLevelWriter(e.log, zerolog.NewTestWriter(t)))
	if !defaultForward {
		o.Forward = func(_ actor.Context, r *machine.Report) { e.forwarded <- r }
	}
	// Stand-in machine actor where the default Forward delivers.
	standin, err := e.sys.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *machine.Report:
			e.machines <- m
		case drained:
			ctx.Respond(m) // everything sent to it before has reached e.machines
		}
	}), MachinesPrefix+"render-1")
	if err != nil {
		t.Fatal(err)
	}
	e.standin = standin
	gw, err := e.sys.Root.SpawnNamed(Props(o), pb.GatewayActorID)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = gw
	return e
}

// drained asks the stand-in machine actor to answer once it has handled what came before.
type drained struct{}

// drain waits until the stand-in machine actor has passed on every report sent to it so far.
func (e *env) drain(t *testing.T) {
	t.Helper()
	if _, err := e.sys.Root.RequestFuture(e.standin, drained{}, 5*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) ask(t *testing.T, msg any) *pb.AgentReply {
	t.Helper()
	res, err := e.sys.Root.RequestFuture(e.gw, msg, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	return res.(*pb.AgentReply)
}

func TestGatewayAcceptsAndForwards(t *testing.T) {
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true,
		Supervisors: []string{"10.0.0.1:7400", "10.0.0.2:7400"}}, true)
	r := e.ask(t, report("render-1", "s3cret", 7))
	if !r.Accepted || !r.Active || r.Seq != 7 || len(r.Supervisors) != 2 || r.Reason != "" {
		t.Fatalf("reply %v", r)
	}
	select {
	case m := <-e.machines:
		if m.Machine != "render-1" || m.Seq != 7 || m.Session != 42 {
			t.Fatalf("forwarded %+v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("report not forwarded to standby/machines/render-1")
	}
	if n := e.log.lines("agent session started"); n != 1 {
		t.Errorf("%d session lines, want 1", n)
	}
	e.ask(t, report("render-1", "s3cret", 8))
	if n := e.log.lines("agent session started"); n != 1 {
		t.Errorf("%d session lines after a second report of the same session, want 1", n)
	}

	e.sys.Root.Send(e.gw, &SetActive{Active: false})
	if r := e.ask(t, report("render-1", "s3cret", 9)); !r.Accepted || r.Active {
		t.Fatalf("after SetActive(false): %v", r)
	}
	e.sys.Root.Send(e.gw, &SetSupervisors{Addrs: []string{"x:1"}})
	if r := e.ask(t, report("render-1", "s3cret", 10)); len(r.Supervisors) != 1 || r.Supervisors[0] != "x:1" {
		t.Fatalf("after SetSupervisors: %v", r.Supervisors)
	}
}

func TestGatewayActiveFunc(t *testing.T) {
	active := false
	var mu sync.Mutex
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, Active: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return active
	}}, false)
	if r := e.ask(t, report("render-1", "s3cret", 1)); r.Active {
		t.Fatal("active while the func says standby")
	}
	mu.Lock()
	active = true
	mu.Unlock()
	if r := e.ask(t, report("render-1", "s3cret", 2)); !r.Active {
		t.Fatal("standby while the func says active")
	}
}

// TestGatewayRefusalsLoggedOncePerMinute sends many refused reports and checks the log holds one line
// per (address, machine, reason) per minute, and never the token.
func TestGatewayRefusalsLoggedOncePerMinute(t *testing.T) {
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}}, false)
	for i := range 20 {
		if r := e.ask(t, report("render-1", "not-the-token", uint64(i+1))); r.Accepted || r.Reason != reasonWrongToken {
			t.Fatalf("wrong token: %v", r)
		}
		if r := e.ask(t, report("render-9", "s3cret", uint64(i+1))); r.Accepted || !strings.Contains(r.Reason, "render-9") {
			t.Fatalf("unknown machine: %v", r)
		}
	}
	if n := e.log.lines("refused agent report"); n != 2 {
		t.Fatalf("%d refusal lines for 40 refused reports in the same minute, want 2:\n%s", n, e.log)
	}
	e.clock.Advance(time.Minute)
	e.ask(t, report("render-1", "not-the-token", 100))
	if n := e.log.lines("refused agent report"); n != 3 {
		t.Fatalf("%d refusal lines a minute later, want 3", n)
	}
	if n := e.log.lines(`"suppressed":19`); n != 1 {
		t.Errorf("the line a minute later does not count the 19 held back:\n%s", e.log)
	}
	if strings.Contains(e.log.String(), "not-the-token") || strings.Contains(e.log.String(), "s3cret") {
		t.Fatal("a token reached the log")
	}
	select {
	case r := <-e.forwarded:
		t.Fatalf("a refused report was forwarded: %+v", r)
	default:
	}

	// Reloading the machine set admits render-9.
	e.sys.Root.Send(e.gw, &SetMachines{Names: []string{"render-1", "render-9"}})
	if r := e.ask(t, report("render-9", "s3cret", 200)); !r.Accepted {
		t.Fatalf("after SetMachines: %v", r)
	}
}

// TestGatewayJunk sends what a confused or hostile peer might: other message types, empty and
// oversized reports, reports without a sender. None may crash the gateway.
func TestGatewayJunk(t *testing.T) {
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}}, false)
	big := report("render-1", "s3cret", 1)
	for range 1000 {
		big.Services = append(big.Services, &pb.AgentReport_Service{Name: strings.Repeat("s", 1000)})
	}
	for _, m := range []any{"hello", 42, &pb.SimSet{}, &pb.AgentReply{}, nil, &pb.AgentReport{}, big,
		&pb.AgentReport{Machine: "render-1", Token: "s3cret", Session: 1, Services: []*pb.AgentReport_Service{nil}}} {
		e.sys.Root.Send(e.gw, m) // no sender: nothing to answer
	}
	if r := e.ask(t, big); r.Accepted || !strings.Contains(r.Reason, "too large") {
		t.Fatalf("oversized report: %v", r)
	}
	if r := e.ask(t, report("render-1", "s3cret", 2)); !r.Accepted {
		t.Fatalf("gateway stopped accepting after junk: %v", r)
	}
}

// TestGatewayTwoAgentsOneMachine: two agents reporting render-1 flip its session on every report.
// Both are forwarded, each with its own address in From (the machine actor tells them apart and
// raises duplicate_agent); the session line is logged at most once a minute per agent host.
func TestGatewayTwoAgentsOneMachine(t *testing.T) {
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}}, false)
	for i := range 60 {
		for _, a := range []struct {
			session uint64
			addr    string
		}{{17, "10.0.0.9:40001"}, {99, "10.0.0.9:40002"}} {
			r := report("render-1", "s3cret", uint64(i+1))
			r.Session, r.AgentAddress = a.session, a.addr
			e.sys.Root.Send(e.gw, r) // no sender: From is the address the agent reports
			select {
			case m := <-e.forwarded:
				if m.From != a.addr || m.Session != a.session {
					t.Fatalf("forwarded session %d from %q, want %d from %q", m.Session, m.From, a.session, a.addr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("report not forwarded")
			}
		}
	}
	if n := e.log.lines("agent session started"); n != 1 {
		t.Fatalf("%d session lines for 120 session flips from one host in a minute, want 1:\n%s", n, e.log)
	}
	e.clock.Advance(time.Minute)
	r := report("render-1", "s3cret", 1000)
	r.Session, r.AgentAddress = 17, "10.0.0.9:40001"
	e.sys.Root.Send(e.gw, r)
	<-e.forwarded
	if n := e.log.lines("agent session started"); n != 2 {
		t.Fatalf("%d session lines a minute later, want 2", n)
	}
	if n := e.log.lines(`"suppressed":119`); n != 1 {
		t.Errorf("the line a minute later does not count the 119 held back:\n%s", e.log)
	}
	// Another host is another key.
	r = report("render-1", "s3cret", 1001)
	r.Session, r.AgentAddress = 5, "10.0.0.10:7401"
	e.sys.Root.Send(e.gw, r)
	<-e.forwarded
	if n := e.log.lines("agent session started"); n != 3 {
		t.Fatalf("%d session lines after an agent on another host, want 3", n)
	}
}

// TestGatewayWitness: replies carry this supervisor's name and term; the agents' statements of
// what they hear of the peer are counted from their latest reports, and old ones age out.
func TestGatewayWitness(t *testing.T) {
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1", "render-2", "render-3"}, Name: "studio-b"}, false)
	e.sys.Root.Send(e.gw, &SetActive{Active: false, Term: 4})
	say := func(m string, seq uint64, heard ...*pb.AgentReport_Heard) {
		r := report(m, "s3cret", seq)
		r.Heard = heard
		if rep := e.ask(t, r); !rep.Accepted || rep.Supervisor != "studio-b" || rep.Term != 4 || rep.Active {
			t.Fatalf("reply %v", rep)
		}
	}
	votes := func() *Votes {
		res, err := e.sys.Root.RequestFuture(e.gw, &GetVotes{Peer: "studio-a", Within: time.Second, LostAfter: 300 * time.Millisecond}, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res.(*Votes)
	}
	say("render-1", 1, &pb.AgentReport_Heard{Supervisor: "studio-a", Active: true, Term: 4, SilentMs: 20}, &pb.AgentReport_Heard{Supervisor: "studio-b", Term: 4})
	say("render-2", 1, &pb.AgentReport_Heard{Supervisor: "studio-a", Active: true, Term: 4, SilentMs: 900})
	say("render-3", 1, &pb.AgentReport_Heard{Supervisor: "studio-b", Term: 4})
	if v := votes(); *v != (Votes{Reporting: 3, Hear: 1, HearActive: 1, Fresh: 3}) {
		t.Fatalf("votes %+v", *v)
	}
	e.clock.Advance(2 * time.Second)
	say("render-3", 2, &pb.AgentReport_Heard{Supervisor: "studio-a", SilentMs: 0})
	if v := votes(); *v != (Votes{Reporting: 1, Hear: 1, Fresh: 1}) {
		t.Fatalf("votes after two seconds %+v", *v)
	}
	r := report("render-1", "s3cret", 5)
	for range pb.MaxSupervisors + 1 {
		r.Heard = append(r.Heard, &pb.AgentReport_Heard{Supervisor: "x"})
	}
	if rep := e.ask(t, r); rep.Accepted {
		t.Fatal("a report hearing too many supervisors was accepted")
	}
}
