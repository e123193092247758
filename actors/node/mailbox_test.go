package node

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

type ping struct{}

// TestGuardedMailboxSpawnRace sends to an actor's name while it is being spawned, as a router does
// to a pair spawned in the same instant. Every incarnation must see Started first, handle what was
// sent, and answer afterwards; with protoactor's plain mailbox the sender panics on a nil
// dispatcher now and then and the actor is left deaf for good.
func TestGuardedMailboxSpawnRace(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	defer sys.Shutdown()
	for i := range 300 {
		name := fmt.Sprintf("victim-%d", i)
		var startedFirst, sawStarted atomic.Bool
		var pings atomic.Int32
		props := actor.PropsFromFunc(func(ctx actor.Context) {
			switch ctx.Message().(type) {
			case *actor.Started:
				sawStarted.Store(true)
				if pings.Load() == 0 {
					startedFirst.Store(true)
				}
			case *ping:
				if !sawStarted.Load() {
					t.Errorf("%s: a message before Started", name)
				}
				pings.Add(1)
				if ctx.Sender() != nil {
					ctx.Respond(&ping{})
				}
			}
		}, actor.WithMailbox(GuardedMailbox))
		pid := actor.NewPID(sys.Address(), name)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		var sent atomic.Int32
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				sys.Root.Send(pid, &ping{})
				sent.Add(1)
			}
		}()
		if _, err := sys.Root.SpawnNamed(props, name); err != nil {
			t.Fatal(err)
		}
		close(stop)
		wg.Wait()
		if _, err := sys.Root.RequestFuture(pid, &ping{}, 5*time.Second).Result(); err != nil {
			t.Fatalf("%s does not answer after being sent to while spawning: %v", name, err)
		}
		if !startedFirst.Load() {
			t.Fatalf("%s: Started was not its first message", name)
		}
	}
}
