package agentgw

import (
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/actors/clock"
	"standby/protocol/pb"
)

// TestMailboxSheds: with the gateway stuck, what waits is bounded: past the bound heartbeats are
// dropped (counted, the machines excused) and change reports kept, a batch keeps its changes
// only, past the limit changes are dropped too, and the gateway's own messages always get
// through. Change reports are taken before the heartbeats queued ahead of them; the rest keep
// their order. What the actor takes leaves the count.
func TestMailboxSheds(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(sys.Shutdown)
	clk := clock.NewFake(time.Unix(1000, 0))
	pauses := clock.WatchPauses(clk, time.Hour, time.Hour, nil)
	t.Cleanup(pauses.Stop)
	q := &Queue{}
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	got := make(chan any, 100)
	props := actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *pb.AgentReport, *pb.AgentReports, *SetActive:
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			got <- m
		case *GetAgent: // taken after everything before it, each counted out as it was taken
			ctx.Respond(&Agent{})
		}
	}, actor.WithMailbox(Mailbox(MailboxOptions{Bound: 3, Limit: 5, Pauses: pauses, Queue: q, Clock: clk})))
	pid := sys.Root.Spawn(props)
	started := clk.Now()
	if got := q.Through(clk.Now()); !got.Equal(started) {
		t.Fatalf("watermark of an empty queue %v, want now", got)
	}
	hb := func(seq uint64) *pb.AgentReport { return &pb.AgentReport{Machine: "m", Seq: seq} }
	ch := func(seq uint64) *pb.AgentReport { return &pb.AgentReport{Machine: "m", Seq: seq, Change: true} }
	// The first is taken at once and blocks the actor (counted until handled); two more wait:
	// the bound of three.
	sys.Root.Send(pid, hb(1))
	<-entered
	for seq := uint64(2); seq <= 3; seq++ {
		sys.Root.Send(pid, hb(seq))
	}
	clk.Advance(time.Second)
	sys.Root.Send(pid, hb(4)) // shed
	if w, s := q.Waiting(), q.shed.Load(); w != 3 || s != 1 || !pauses.Resumed().Equal(clk.Now()) {
		t.Fatalf("after the bound: %d waiting, %d shed, resumed %v; want 3, 1, excused now", w, s, pauses.Resumed())
	}
	sys.Root.Send(pid, ch(5))                                                      // kept: a change
	sys.Root.Send(pid, &pb.AgentReports{Reports: []*pb.AgentReport{hb(6), ch(7)}}) // keeps 7 only: then 5 waiting, the limit
	sys.Root.Send(pid, ch(8))                                                      // past the limit: shed
	sys.Root.Send(pid, &SetActive{Active: true})                                   // the gateway's own: kept
	if w := q.Waiting(); w != 5 {
		t.Fatalf("%d waiting, want 5", w)
	}
	if hbs, chs := q.Shed(); hbs != 2 || chs != 1 {
		t.Fatalf("shed %d heartbeats and %d changes, want 2 and 1", hbs, chs)
	}
	if got := q.Through(clk.Now()); !got.Equal(started) {
		t.Fatalf("watermark while reports wait: %v, want when the queue was last empty (%v)", got, started)
	}
	clk.Advance(time.Second)
	close(release)
	var seqs []uint64
	for len(seqs) < 6 {
		select {
		case m := <-got:
			switch m := m.(type) {
			case *pb.AgentReport:
				seqs = append(seqs, m.Seq)
			case *pb.AgentReports:
				if len(m.Reports) != 1 || m.Reports[0].Seq != 7 {
					t.Fatalf("batch delivered with %v, want report 7 only", m.Reports)
				}
				seqs = append(seqs, 7)
			case *SetActive:
				seqs = append(seqs, 0)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("delivered %v, want 1 5 7 2 3 and the setting", seqs)
		}
	}
	want := []uint64{1, 5, 7, 2, 3, 0} // 1 was under way; the changes 5 and 7 go ahead of 2 and 3
	for i := range want {
		if seqs[i] != want[i] {
			t.Fatalf("delivered %v, want %v", seqs, want)
		}
	}
	if _, err := sys.Root.RequestFuture(pid, &GetAgent{}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	if w, through := q.Waiting(), q.Through(clk.Now()); w != 0 || !through.Equal(clk.Now()) {
		t.Fatalf("after all were taken: %d counted as waiting, watermark %v (want now, %v)", w, through, clk.Now())
	}
}

// TestMailboxChangesDoNotStarveHeartbeats: a flood of change reports goes ahead of heartbeats,
// but after every urgentRun of them one heartbeat is taken.
func TestMailboxChangesDoNotStarveHeartbeats(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(sys.Shutdown)
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	got := make(chan *pb.AgentReport, 100)
	pid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		if r, ok := ctx.Message().(*pb.AgentReport); ok {
			select {
			case entered <- struct{}{}:
			default:
			}
			<-release
			got <- r
		}
	}, actor.WithMailbox(Mailbox(MailboxOptions{}))))
	sys.Root.Send(pid, &pb.AgentReport{Machine: "first"})
	<-entered
	sys.Root.Send(pid, &pb.AgentReport{Machine: "beat"})
	sys.Root.Send(pid, &pb.AgentReport{Machine: "beat"})
	for range 2*urgentRun + 2 {
		sys.Root.Send(pid, &pb.AgentReport{Machine: "change", Change: true})
	}
	close(release)
	var order []string
	for len(order) < 2*urgentRun+5 {
		select {
		case r := <-got:
			order = append(order, r.Machine)
		case <-time.After(10 * time.Second):
			t.Fatalf("took %v", order)
		}
	}
	for i, want := range map[int]string{0: "first", 1: "change", urgentRun: "change", urgentRun + 1: "beat", 2*urgentRun + 2: "beat", 2*urgentRun + 3: "change"} {
		if order[i] != want {
			t.Fatalf("message %d was a %s, want a %s: %v", i, order[i], want, order)
		}
	}
}
