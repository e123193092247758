package machine

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// TestActorDuplicateAgentAlarm: interleaved reports of two agents raise one duplicate_agent alarm
// on the EventStream and one warning line; Acknowledge answers, or names the missing alarm.
func TestActorDuplicateAgentAlarm(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	alarms := make(chan *AlarmChanged, 16)
	sub := sys.EventStream.Subscribe(func(e any) {
		if a, ok := e.(*AlarmChanged); ok {
			alarms <- a
		}
	})
	t.Cleanup(func() { sys.EventStream.Unsubscribe(sub) })
	clk := clock.NewFake(t0)
	logs := &lockedBuffer{}
	pid, err := sys.Root.SpawnNamed(Props(Options{Name: "render-1", Settings: Settings{Timeout: time.Hour}, Clock: clk,
		Logger: zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t)))}), "render-1")
	if err != nil {
		t.Fatal(err)
	}
	send := func(session, seq uint64, from string) {
		sys.Root.Send(pid, &Report{Machine: "render-1", Session: session, Seq: seq, From: from, Services: upEngine})
	}
	ack := func(kind failover.AlarmKind) error {
		t.Helper()
		res, err := sys.Root.RequestFuture(pid, &Acknowledge{Kind: kind, By: "alice"}, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res.(*AcknowledgeReply).Err
	}
	if err := ack(AlarmDuplicateAgent); !errors.Is(err, failover.ErrNoAlarm) || !strings.Contains(err.Error(), `machine "render-1"`) {
		t.Fatalf("acknowledge without an alarm: %v", err)
	}
	send(17, 1, "127.0.0.1:40001")
	clk.Advance(20 * time.Millisecond)
	send(17, 2, "127.0.0.1:40001")
	for i := uint64(1); i <= 50; i++ {
		send(99, i, "127.0.0.1:40002")
		send(17, i+2, "127.0.0.1:40001")
	}
	wait := func(what string) *AlarmChanged {
		t.Helper()
		select {
		case a := <-alarms:
			return a
		case <-time.After(10 * time.Second):
			t.Fatalf("no AlarmChanged: %s", what)
			return nil
		}
	}
	if a := wait("two agents"); a.Machine != "render-1" || a.Alarm.Kind != AlarmDuplicateAgent || !a.Alarm.Active ||
		!strings.Contains(a.Alarm.Message, "127.0.0.1:40002 (session 99, held until acknowledged)") {
		t.Fatalf("raised %+v", a)
	}
	if err := ack(AlarmDuplicateAgent); err != nil {
		t.Fatal(err)
	}
	if a := wait("acknowledged"); !a.Alarm.Acked || !a.Alarm.Active {
		t.Fatalf("acknowledged %+v", a)
	}
	select {
	case a := <-alarms:
		t.Fatalf("more alarm changes than raised and acknowledged: %+v", a)
	default:
	}
	if n := logs.count(`"message":"machine alarm"`); n != 1 {
		t.Fatalf("%d alarm lines for 100 interleaved reports, want 1", n)
	}
	res, err := sys.Root.RequestFuture(pid, &GetSnapshot{}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if sn := res.(Snapshot); len(sn.Alarms) != 1 || !sn.Alarms[0].Acked {
		t.Fatalf("snapshot alarms %+v", sn.Alarms)
	}
}

// TestActorJudgesSilenceAsOfWatermark: while the report path's watermark lags (reports delivered
// to the supervisor wait in its queue), a machine whose deadline passed is not declared silent,
// and its actor looks again spaced by the lag, not in a loop; once the path caught up, and no
// report came, it is.
func TestActorJudgesSilenceAsOfWatermark(t *testing.T) {
	sys, changes := conditions(t)
	var lag, looks atomic.Int64 // how far the watermark trails now; how often the actor asked
	through := func(now time.Time) time.Time {
		looks.Add(1)
		return now.Add(-time.Duration(lag.Load()))
	}
	const timeout = 50 * time.Millisecond
	pid, err := sys.Root.SpawnNamed(Props(Options{Name: "render-1", Settings: Settings{Timeout: timeout}, Clock: clock.Real{},
		Logger: zerolog.New(zerolog.NewTestWriter(t)), Through: through}), "render-1")
	if err != nil {
		t.Fatal(err)
	}
	next := func(within time.Duration) (failover.Condition, bool) {
		select {
		case c := <-changes:
			return c, true
		case <-time.After(within):
			return failover.Condition{}, false
		}
	}
	lag.Store(int64(time.Hour)) // the path is an hour behind from here on
	sys.Root.Send(pid, &Report{Machine: "render-1", Session: 1, Seq: 1, Services: upEngine})
	if c, ok := next(5 * time.Second); !ok || !c.Known || c.Failure != failover.TriggerNone {
		t.Fatalf("first report: %+v (%v), want known and healthy", c, ok)
	}
	if c, ok := next(6 * timeout); ok {
		t.Fatalf("declared %+v while the report path was behind", c)
	}
	if got := looks.Load(); got > 10 {
		t.Fatalf("%d looks at the deadline in %v, want them spaced (by the lag, at most a timeout)", got, 6*timeout)
	}
	lag.Store(0) // caught up: the next look, within a timeout, judges
	if c, ok := next(5 * time.Second); !ok || c.Failure != failover.TriggerNetwork {
		t.Fatalf("after the path caught up: %+v (%v), want silent (network)", c, ok)
	}
}

// TestActorSparedWhileHeard: a machine beating into its inbox wakes its actor about once a
// PublishEvery (the deadline's timer postpones itself to the newest beat's deadline), not once a
// timeout; when the beats stop it is declared silent at its deadline all the same.
func TestActorSparedWhileHeard(t *testing.T) {
	sys, changes := conditions(t)
	var ticks atomic.Int64
	inbox := NewInbox()
	const timeout = 200 * time.Millisecond // long enough that a loaded test machine never makes the beats look silent
	pid, err := sys.Root.SpawnNamed(Props(Options{Name: "render-1", Settings: Settings{Timeout: timeout}, Clock: clock.Real{},
		Logger: zerolog.New(zerolog.NewTestWriter(t)), Inbox: inbox, Hook: func(msg any) {
			if _, ok := msg.(*tick); ok {
				ticks.Add(1)
			}
		}}), "render-1")
	if err != nil {
		t.Fatal(err)
	}
	first := &Report{Machine: "render-1", Session: 1, Seq: 1, Services: upEngine}
	sys.Root.Send(pid, first)
	if c := <-changes; !c.Known || c.Failure != failover.TriggerNone {
		t.Fatalf("first report: %+v", c)
	}
	start := time.Now()
	seq := uint64(1)
	for time.Since(start) < 2*time.Second { // beating every 5 ms, as a heartbeat would
		seq++
		if inbox.Put(first, seq, time.Now(), false) {
			sys.Root.Send(pid, &Poke{})
		}
		select {
		case c := <-changes:
			t.Fatalf("condition %+v while beating", c)
		case <-time.After(5 * time.Millisecond):
		}
	}
	// Without postponing: one wake-up a timeout, some 10; with: about one a PublishEvery, 2 or 3.
	if n := ticks.Load(); n > 5 {
		t.Fatalf("%d wake-ups in 2 s of beats with a %v timeout, want about one a %v", n, timeout, PublishEvery)
	}
	stopped := time.Now()
	select {
	case c := <-changes:
		if c.Failure != failover.TriggerNetwork {
			t.Fatalf("after the beats stopped: %+v, want silent", c)
		}
		t.Logf("silent %v after the last beat (timeout %v), %d wake-ups while beating", time.Since(stopped), timeout, ticks.Load())
	case <-time.After(5 * time.Second):
		t.Fatal("not declared silent after the beats stopped")
	}
}

// conditions starts an actor system and follows the conditions its machine actors publish.
func conditions(t *testing.T) (*actor.ActorSystem, chan failover.Condition) {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
		return slog.New(slog.DiscardHandler)
	}))
	t.Cleanup(sys.Shutdown)
	changes := make(chan failover.Condition, 16)
	sub := sys.EventStream.Subscribe(func(e any) {
		if c, ok := e.(*Changed); ok {
			changes <- c.Condition
		}
	})
	t.Cleanup(func() { sys.EventStream.Unsubscribe(sub) })
	return sys, changes
}
