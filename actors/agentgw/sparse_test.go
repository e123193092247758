package agentgw

import (
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/actors/clock"
	"standby/actors/machine"
	"standby/protocol/pb"
)

// beat is a plain heartbeat asking for sparse replies.
func beat(seq uint64) *pb.AgentReport {
	r := report("render-1", "s3cret", seq)
	r.Change, r.SparseReplies = false, true
	return r
}

// TestGatewaySparseReplies: an agent asking for sparse replies is answered on its first report,
// on a change report, when the active flag or term changed, and once the beacon is due; not for
// unchanged heartbeats in between. Replies reach the sink in order, so the next one received
// names the first report answered after the last.
func TestGatewaySparseReplies(t *testing.T) {
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true, Beacon: time.Second}, false)
	replies := make(chan *pb.AgentReply, 100)
	sink := e.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if r, ok := ctx.Message().(*pb.AgentReply); ok {
			replies <- r
		}
	}))
	send := func(r *pb.AgentReport) { e.sys.Root.RequestWithCustomSender(e.gw, r, sink) }
	next := func(want uint64, why string) {
		t.Helper()
		select {
		case r := <-replies:
			if r.Seq != want {
				t.Fatalf("%s: reply to seq %d, want %d", why, r.Seq, want)
			}
			if sparse := want != 8; sparse != (r.BeaconMs == 1000) {
				t.Fatalf("%s: reply promises a beacon of %d ms", why, r.BeaconMs)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no reply to seq %d", why, want)
		}
	}
	send(beat(1))
	next(1, "first report")
	send(beat(2))
	send(beat(3))
	change := beat(4)
	change.Change = true
	send(change)
	next(4, "heartbeats 2 and 3 unanswered, the change answered")
	send(beat(5))
	e.sys.Root.Send(e.gw, &SetActive{Active: false, Term: 3})
	send(beat(6))
	next(6, "the active flag changed")
	e.clock.Advance(time.Second)
	send(beat(7))
	next(7, "the beacon is due")
	old := report("render-1", "s3cret", 8) // an agent not asking for sparse replies: every report
	old.Change = false
	send(old)
	next(8, "an older agent")
}

// TestGatewayInboxFastPath: with inboxes, a heartbeat repeating the machine's last report goes to
// its inbox, not as a message; new content still goes as a message.
func TestGatewayInboxFastPath(t *testing.T) {
	var boxes machine.Inboxes
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true, Inboxes: &boxes}, true)
	got := func(want uint64) {
		t.Helper()
		select {
		case m := <-e.machines:
			if m.Seq != want {
				t.Fatalf("message with seq %d, want %d", m.Seq, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("report %d not sent as a message", want)
		}
	}
	e.ask(t, beat(1))
	got(1)
	e.ask(t, beat(2))
	r, _, ok := boxes.Get("render-1").Take()
	if !ok || r.Seq != 2 || len(r.Services) != 2 {
		t.Fatalf("inbox holds %+v (%v), want heartbeat 2 with its services", r, ok)
	}
	down := beat(3)
	down.Services[0].Up = false
	e.ask(t, down)
	got(3)
}

// TestGatewayFloodThrottled: an agent flooding change reports gets at most its budget through as
// messages (the clock stands still, so nothing refills it); the rest coalesce into its inbox,
// newest kept, and another machine's report is still handled.
func TestGatewayFloodThrottled(t *testing.T) {
	var boxes machine.Inboxes
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1", "render-2"}, InitiallyActive: true, Inboxes: &boxes}, true)
	const flood = 5000
	for seq := uint64(1); seq <= flood; seq++ {
		r := beat(seq)
		r.Change = true
		e.sys.Root.Send(e.gw, r)
	}
	other := report("render-2", "s3cret", 1)
	if r := e.ask(t, other); !r.Accepted {
		t.Fatalf("render-2 refused during render-1's flood: %v", r)
	}
	e.drain(t) // what the gateway sent has all arrived: the count below is the whole count
	if n := len(e.machines); n > floodBurst {
		t.Fatalf("%d of %d flooded reports sent as messages, want at most %d", n, flood, floodBurst)
	}
	r, _, ok := boxes.Get("render-1").Take()
	if !ok || r.Seq != flood {
		t.Fatalf("inbox holds %+v (%v), want the newest, seq %d", r, ok, flood)
	}
	t.Logf("%d messages, the rest coalesced", len(e.machines))
}

// TestGatewayOverloadExcusesMachines: a probe that waited in the gateway's mailbox longer than
// LagBound excuses the machines (the pause watch resumes now: each gets a fresh heartbeat
// timeout) and logs one line per episode; a probe that waited less than half the bound ends it.
func TestGatewayOverloadExcusesMachines(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	pauses := clock.WatchPauses(clk, time.Hour, time.Hour, nil)
	t.Cleanup(pauses.Stop)
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true,
		LagBound: 100 * time.Millisecond, Probe: time.Hour, Pauses: pauses}, true)
	events := make(chan *Overloaded, 4)
	sub := e.sys.EventStream.Subscribe(func(evt any) {
		if o, ok := evt.(*Overloaded); ok {
			events <- o
		}
	})
	t.Cleanup(func() { e.sys.EventStream.Unsubscribe(sub) })
	sync := func() { e.ask(t, report("render-1", "s3cret", 1)) } // the gateway handled what came before
	e.sys.Root.Send(e.gw, &probe{sent: e.clock.Now().Add(-time.Second)})
	e.sys.Root.Send(e.gw, &probe{sent: e.clock.Now().Add(-2 * time.Second)})
	sync()
	if got := pauses.Resumed(); !got.Equal(clk.Now()) {
		t.Fatalf("pause watch resumed %v, want now (%v): machines not excused", got, clk.Now())
	}
	if n := e.log.lines("supervisor overloaded"); n != 1 {
		t.Fatalf("%d overload lines for one episode, want 1", n)
	}
	// A calm probe right after the burst does not end the episode: reports queued in it may
	// still be unread; one OverloadCalm later does.
	e.sys.Root.Send(e.gw, &probe{sent: e.clock.Now()})
	sync()
	if n := e.log.lines("supervisor no longer overloaded"); n != 0 {
		t.Fatalf("the episode ended at the first calm probe")
	}
	e.clock.Advance(OverloadCalm) // the gateway's clock
	clk.Advance(OverloadCalm)     // the pause watch's, to see the last excuse
	e.sys.Root.Send(e.gw, &probe{sent: e.clock.Now()})
	sync()
	if n := e.log.lines("supervisor no longer overloaded"); n != 1 {
		t.Fatalf("%d end-of-episode lines, want 1", n)
	}
	if got := pauses.Resumed(); !got.Equal(clk.Now()) {
		t.Fatalf("pause watch resumed %v, want now (%v): machines not excused at the episode's end", got, clk.Now())
	}
	for _, want := range []bool{true, false} {
		select {
		case o := <-events:
			if o.Active != want || o.Lag < time.Second {
				t.Fatalf("event %+v, want Active %v with the episode's wait", o, want)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no Overloaded event (Active %v)", want)
		}
	}
}

// TestGatewayOverloadFromLateWakeups: late deadline wake-ups (clock.PauseWatch.Late) and shed
// reports are evidence of an overload too, though every probe is on time: the episode is raised
// with its figures (reports waiting, shed, the rate served), told again every OverloadEvery, and
// ends after a heartbeat timeout without evidence.
func TestGatewayOverloadFromLateWakeups(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	pauses := clock.WatchPauses(clk, time.Hour, time.Hour, nil)
	t.Cleanup(pauses.Stop)
	q := &Queue{}
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true,
		LagBound: 100 * time.Millisecond, Probe: time.Hour, Pauses: pauses, Queue: q}, true)
	events := make(chan *Overloaded, 8)
	sub := e.sys.EventStream.Subscribe(func(evt any) {
		if o, ok := evt.(*Overloaded); ok {
			events <- o
		}
	})
	t.Cleanup(func() { e.sys.EventStream.Unsubscribe(sub) })
	next := func(why string) *Overloaded {
		t.Helper()
		select {
		case o := <-events:
			return o
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no Overloaded event", why)
			return nil
		}
	}
	probe := func() {
		e.sys.Root.Send(e.gw, &probe{sent: e.clock.Now()}) // on time
		e.ask(t, report("render-1", "s3cret", 1))          // handled
	}
	probe()
	if n := e.log.lines("supervisor overloaded"); n != 0 {
		t.Fatal("an overload without evidence")
	}
	pauses.Late(clk.Now().Add(-2*time.Hour), clk.Now()) // the watch's threshold is an hour here
	q.waiting.Store(1234)
	probe()
	if o := next("a late wake-up"); !o.Active || o.Update || !o.Late || o.Backlog != 1234 {
		t.Fatalf("episode raised as %+v, want active, late wake-ups, 1234 waiting", o)
	}
	e.clock.Advance(50 * time.Millisecond)
	q.shed.Add(10)
	probe()
	e.clock.Advance(OverloadEvery)
	q.shed.Add(5) // still shedding a second on
	probe()
	if o := next("an update"); !o.Active || !o.Update || o.Shed != 15 || o.Rate <= 0 {
		t.Fatalf("update %+v, want 15 shed and a rate served", o)
	}
	e.clock.Advance(OverloadCalm)
	probe()
	if o := next("the end"); o.Active {
		t.Fatalf("%+v, want the episode's end", o)
	}
	if n := e.log.lines("supervisor overloaded"); n != 1 {
		t.Fatalf("%d overload lines, want 1", n)
	}
}

// TestLagWatchExcusesWhileBehind: the probe's timer sends one probe at a time; while that probe
// stays unread for longer than the bound (the gateway is stuck behind a backlog) every beat
// excuses the machines at once, before the backlog clears; once read, the next beat probes again.
func TestLagWatchExcusesWhileBehind(t *testing.T) {
	clk := clock.NewFake(time.Unix(1000, 0))
	pauses := clock.WatchPauses(clk, time.Hour, time.Hour, nil)
	t.Cleanup(pauses.Stop)
	w := &lagWatch{bound: 100 * time.Millisecond, pauses: pauses}
	if !w.tick(clk.Now()) {
		t.Fatal("the first beat sent no probe")
	}
	start := pauses.Resumed()
	clk.Advance(50 * time.Millisecond)
	if w.tick(clk.Now()) || !pauses.Resumed().Equal(start) {
		t.Fatal("within the bound: a second probe, or machines excused")
	}
	clk.Advance(60 * time.Millisecond)
	if w.tick(clk.Now()) {
		t.Fatal("a second probe while the first is unread")
	}
	if !pauses.Resumed().Equal(clk.Now()) {
		t.Fatalf("unread past the bound, machines not excused: resumed %v, now %v", pauses.Resumed(), clk.Now())
	}
	w.read()
	clk.Advance(20 * time.Millisecond)
	if !w.tick(clk.Now()) {
		t.Fatal("no probe after the last one was read")
	}
}

// lean is a lean heartbeat naming the full report sameAs, answered every time (not sparse).
func lean(seq, sameAs uint64) *pb.AgentReport {
	return &pb.AgentReport{Machine: "render-1", Token: "s3cret", Session: 42, Seq: seq, SameAs: sameAs}
}

// TestGatewayLeanBeats: a lean heartbeat naming the machine's last full report is that report
// with its own seq (into the inbox, or forwarded); one naming a report not held (a lean one, one
// lost, another session's) delivers nothing and asks for a full report; a lean one carrying
// content is malformed.
func TestGatewayLeanBeats(t *testing.T) {
	var boxes machine.Inboxes
	e := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true, Inboxes: &boxes}, true)
	box := boxes.Get("render-1")
	full := report("render-1", "s3cret", 1)
	full.Change = false
	if r := e.ask(t, full); !r.Accepted || !r.LeanBeats || r.SendFull {
		t.Fatalf("full report: %v, want accepted, lean beats offered", r)
	}
	if m := <-e.machines; m.Seq != 1 {
		t.Fatalf("message seq %d, want 1", m.Seq)
	}
	for _, seq := range []uint64{2, 3} {
		if r := e.ask(t, lean(seq, 1)); !r.Accepted || r.SendFull {
			t.Fatalf("lean beat %d naming report 1: %v", seq, r)
		}
		m, _, ok := box.Take()
		if !ok || m.Seq != seq || len(m.Services) != 2 || m.Services[1].Reason != "connection refused" || len(m.Health) != 2 {
			t.Fatalf("inbox after lean beat %d holds %+v (%v), want report 1's content with seq %d", seq, m, ok, seq)
		}
	}
	other := lean(5, 1)
	other.Session = 43
	for name, r := range map[string]*pb.AgentReport{"a lean report": lean(4, 2), "a report never received": lean(4, 99), "another session's": other} {
		if rep := e.ask(t, r); !rep.Accepted || !rep.SendFull {
			t.Errorf("lean beat naming %s: %v, want a full report asked for", name, rep)
		}
		if m, _, ok := box.Take(); ok {
			t.Errorf("lean beat naming %s delivered %+v", name, m)
		}
	}
	down := report("render-1", "s3cret", 6)
	down.Change, down.Services[0].Up = false, false
	e.ask(t, down)
	if m := <-e.machines; m.Seq != 6 || m.Services[0].Up {
		t.Fatalf("new content: message %+v, want seq 6 with the engine down", m)
	}
	e.ask(t, lean(7, 6))
	if m, _, ok := box.Take(); !ok || m.Seq != 7 || m.Services[0].Up {
		t.Fatalf("lean beat naming report 6: inbox %+v (%v), want report 6's content (engine down) with seq 7", m, ok)
	}
	bad := lean(8, 6)
	bad.Services = full.Services
	if r := e.ask(t, bad); r.Accepted || !strings.Contains(r.Reason, "lean heartbeat") {
		t.Errorf("lean beat with services: %v, want refused as malformed", r)
	}

	// Without inboxes (tests, the demo driver) a held lean beat is forwarded as a message.
	d := start(t, Options{Token: "s3cret", Machines: []string{"render-1"}, InitiallyActive: true}, false)
	d.ask(t, full)
	<-d.forwarded
	if r := d.ask(t, lean(2, 1)); r.SendFull {
		t.Fatalf("forwarding gateway: lean beat 2 not held: %v", r)
	}
	if m := <-d.forwarded; m.Seq != 2 || len(m.Services) != 2 || m.Change {
		t.Fatalf("forwarded %+v, want report 1's content with seq 2", m)
	}
}
