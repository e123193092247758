package machine

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
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
