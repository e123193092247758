package node

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// Dispatcher runs actors' mailboxes on warm goroutines. protoactor's default dispatcher starts a
// goroutine for every activation of a mailbox, and each new goroutine grows its stack again down
// the actor's call chain: runtime.newstack and copystack were 14% of a supervisor's CPU at 2000
// pairs, where every machine actor wakes a few times a second (bench/README.md). An activation
// goes to an idle worker when one waits, else to a new worker (up to a bound), else to a plain new
// goroutine as before: scheduling never waits, and an actor that blocks holds only its own worker.
// Give it to the hot actors: props.Configure(actor.WithDispatcher(node.Dispatcher)).
var Dispatcher actor.Dispatcher = newWarmDispatcher(256, 300)

type warmDispatcher struct {
	work       chan func() // unbuffered: a send succeeds only into an idle worker's hands
	workers    atomic.Int32
	max        int32
	throughput int
}

func newWarmDispatcher(workers, throughput int) *warmDispatcher {
	return &warmDispatcher{work: make(chan func()), max: int32(workers), throughput: throughput}
}

// Schedule implements actor.Dispatcher.
func (d *warmDispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
		return
	default:
	}
	if d.workers.Add(1) <= d.max {
		go d.worker(fn)
		return
	}
	d.workers.Add(-1)
	go fn()
}

// Throughput implements actor.Dispatcher: messages a mailbox handles before it yields.
func (d *warmDispatcher) Throughput() int { return d.throughput }

func (d *warmDispatcher) worker(fn func()) {
	for {
		fn()
		fn = <-d.work
	}
}
