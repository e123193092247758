package machine

import (
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
)

// TestInboxCoalesces: only the newest heartbeat waits; a Poke is asked for only while the actor is
// eager and none is on its way; turning eager with a heartbeat waiting says so.
func TestInboxCoalesces(t *testing.T) {
	b := NewInbox()
	if !b.Put(&Report{Seq: 1}, 1, t0, false) {
		t.Fatal("an eager inbox asked for no poke")
	}
	if b.Put(&Report{Seq: 2}, 2, t0.Add(time.Millisecond), false) {
		t.Fatal("a second poke while one is on its way")
	}
	r, at, ok := b.Take()
	if !ok || r.Seq != 2 || !at.Equal(t0.Add(time.Millisecond)) {
		t.Fatalf("took %+v at %v (%v), want seq 2, the newest", r, at, ok)
	}
	if _, _, ok := b.Take(); ok {
		t.Fatal("the slot was not emptied")
	}
	b.SetEager(false)
	if b.Put(&Report{Seq: 3}, 3, t0, false) {
		t.Fatal("a poke asked for while not eager")
	}
	if !b.Put(&Report{Seq: 4}, 4, t0, true) {
		t.Fatal("an urgent report asked for no poke")
	}
	b.Take()
	b.Put(&Report{Seq: 5}, 5, t0, false)
	if !b.SetEager(true) {
		t.Fatal("turning eager did not tell of the waiting heartbeat")
	}
	if puts, merged := b.Counts(); puts != 5 || merged != 2 {
		t.Fatalf("counts %d puts %d merged, want 5 and 2", puts, merged)
	}
}

// TestTrackerLastSeenNeverBackwards: a heartbeat stamped before an already applied report (a newer
// seq handled later) does not move the machine's last-seen back.
func TestTrackerLastSeenNeverBackwards(t *testing.T) {
	tr := NewTracker(Settings{Timeout: time.Second})
	tr.Observe(t0.Add(500*time.Millisecond), Report{Machine: "m", Session: 1, Seq: 1, Services: upEngine})
	tr.Observe(t0, Report{Machine: "m", Session: 1, Seq: 2, Services: upEngine})
	if got := tr.Snapshot().LastSeen; !got.Equal(t0.Add(500 * time.Millisecond)) {
		t.Fatalf("last seen %v, want the later %v", got, t0.Add(500*time.Millisecond))
	}
}

// TestActorTakesInboxBeats: heartbeats left in the inbox keep a machine alive without a message
// each: the actor takes the newest when asked (here by GetSnapshot, as at its deadline).
func TestActorTakesInboxBeats(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	t.Cleanup(sys.Shutdown)
	clk := clock.NewFake(t0)
	in := NewInbox()
	pid, err := sys.Root.SpawnNamed(Props(Options{Name: "m", Settings: Settings{Timeout: time.Hour}, Clock: clk,
		Logger: zerolog.New(zerolog.NewTestWriter(t)), Inbox: in}), "m")
	if err != nil {
		t.Fatal(err)
	}
	snapshot := func() Snapshot {
		t.Helper()
		res, err := sys.Root.RequestFuture(pid, &GetSnapshot{}, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res.(Snapshot)
	}
	sys.Root.Send(pid, &Report{Machine: "m", Session: 1, Seq: 1, Services: upEngine})
	if s := snapshot(); !s.Condition.Known || s.Reports != 1 {
		t.Fatalf("after the first report: %+v", s)
	}
	for seq := uint64(2); seq <= 5; seq++ {
		clk.Advance(time.Minute)
		if in.Put(&Report{Machine: "m", Session: 1, Seq: seq, Services: upEngine}, seq, clk.Now(), false) {
			t.Fatalf("heartbeat %d asked for a poke from a machine heard and healthy", seq)
		}
	}
	s := snapshot()
	if !s.LastSeen.Equal(clk.Now()) || s.Reports != 2 {
		t.Fatalf("snapshot %+v: want last seen %v from the newest heartbeat, 2 reports applied", s, clk.Now())
	}
}
