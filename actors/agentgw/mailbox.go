package agentgw

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/actors/clock"
	"standby/protocol/pb"
)

// The gateway's mailbox is bounded in reports (a batch counts its reports), so no load, an agent's
// flood or a supervisor that fell behind, grows the supervisor's memory without limit. Work is
// shed in order of value: past Bound reports waiting, heartbeats are dropped (the next one says
// the same, and the machines are excused: the supervisor is behind, not they) and change reports
// kept; past Limit, everything from agents is dropped, changes too (an agent's next full report
// carries its state again, and a lean heartbeat naming a dropped report gets a full one sent).
// The gateway's own messages (probes, settings, questions) are never dropped.

// Defaults of MailboxOptions: 20 000 reports are some 50 ms of the gateway's work, about the lag
// bound at the default heartbeat timeout; 100 000 decoded reports are some 50 MB.
const (
	DefaultQueueBound = 20_000
	DefaultQueueLimit = 100_000
)

// MailboxOptions configure Mailbox.
type MailboxOptions struct {
	// Bound is how many reports may wait before heartbeats are shed; zero means DefaultQueueBound.
	Bound int
	// Limit is how many reports may wait before change reports are shed too; zero means
	// DefaultQueueLimit.
	Limit int
	// Pauses is excused whenever heartbeats are shed.
	Pauses *clock.PauseWatch
	// Queue receives the mailbox's counts; the gateway reads them (Options.Queue).
	Queue *Queue
	// Clock stamps when the queue was last empty (Queue.Through). Nil means the wall clock.
	Clock clock.Clock
}

// Queue is what the gateway's mailbox counts, read by the gateway for its overload alarm. Safe for
// concurrent use.
type Queue struct {
	waiting atomic.Int64  // reports posted and not yet taken
	shed    atomic.Uint64 // heartbeats dropped past the bound
	changes atomic.Uint64 // change reports dropped past the limit
	empty   atomic.Int64  // when the gateway last took the last report waiting (unix ns)
	handled atomic.Uint64 // reports the gateway handled (accepted or refused)
}

// Handled is how many reports the gateway handled so far: the rate it serves, for /metrics.
func (q *Queue) Handled() uint64 { return q.handled.Load() }

// Through is the watermark of the report path at now: every report delivered to the gateway
// before it has been handled (into its machine's inbox, or sent on to the machine actor). Now
// while nothing waits; else when the queue was last empty. A machine actor judges silence as of
// it, so a backlog in the gateway's queue never reads as machines gone quiet, however long it
// lasts (machine.Options.Through).
func (q *Queue) Through(now time.Time) time.Time {
	if q.waiting.Load() <= 0 {
		return now
	}
	return time.Unix(0, q.empty.Load())
}

// Waiting is how many reports wait for the gateway.
func (q *Queue) Waiting() int64 { return q.waiting.Load() }

// Shed is how many heartbeats and how many change reports were dropped so far.
func (q *Queue) Shed() (heartbeats, changes uint64) { return q.shed.Load(), q.changes.Load() }

// Mailbox returns the gateway's mailbox producer (give it to the spawn that names the gateway).
func Mailbox(o MailboxOptions) actor.MailboxProducer {
	if o.Bound <= 0 {
		o.Bound = DefaultQueueBound
	}
	if o.Limit <= 0 {
		o.Limit = DefaultQueueLimit
	}
	if o.Queue == nil {
		o.Queue = &Queue{}
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	return func() actor.Mailbox {
		o.Queue.empty.Store(o.Clock.Now().UnixNano()) // empty as it starts, before the first report
		return &laneMailbox{o: o}
	}
}

// laneMailbox is the gateway's mailbox: protoactor's mailbox loop with two lanes for user
// messages. Change reports (a crash, a critical value) go in the urgent lane and are taken before
// the heartbeats queued ahead of them (changes first); everything else keeps its order in the
// normal lane, the gateway's own probe with it, so the probe still measures the wait. A flood of
// changes cannot starve the normal lane: after urgentRun urgent messages one normal one is taken.
// What is posted before Start waits for it (protoactor registers a named actor before it starts
// the mailbox: see node.GuardedMailbox).
type laneMailbox struct {
	o          MailboxOptions
	mu         sync.Mutex
	sys        []any
	urgent     []any
	normal     []any
	started    bool
	running    atomic.Bool
	suspended  atomic.Bool
	invoker    actor.MessageInvoker
	dispatcher actor.Dispatcher
}

// urgentRun is how many urgent messages are taken in a row while normal ones wait.
const urgentRun = 8

func (m *laneMailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.invoker, m.dispatcher = invoker, dispatcher
}

func (m *laneMailbox) Start() {
	m.mu.Lock()
	m.started = true
	m.mu.Unlock()
	m.schedule()
}

func (m *laneMailbox) UserMessageCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.urgent) + len(m.normal)
}

func (m *laneMailbox) PostSystemMessage(msg any) {
	m.mu.Lock()
	m.sys = append(m.sys, msg)
	m.mu.Unlock()
	m.schedule()
}

// PostUserMessage enqueues msg unless it is shed; a batch past the bound keeps its change reports
// only, and the change reports of a batch go ahead of heartbeats as a batch of their own (the
// batch is the gateway's once decoded: nobody else holds it).
func (m *laneMailbox) PostUserMessage(msg any) {
	waiting := m.o.Queue.waiting.Load()
	urgent := false
	switch r := actor.UnwrapEnvelopeMessage(msg).(type) {
	case *pb.AgentReport:
		if waiting >= int64(m.o.Limit) || (waiting >= int64(m.o.Bound) && !r.Change) {
			m.drop(1, r.Change)
			return
		}
		urgent = r.Change
	case *pb.AgentReports:
		var changes []*pb.AgentReport
		kept := r.Reports[:0]
		for _, x := range r.Reports {
			switch {
			case x != nil && x.Change && waiting < int64(m.o.Limit):
				changes = append(changes, x)
			case x != nil && x.Change:
				m.drop(1, true)
			case waiting < int64(m.o.Bound):
				kept = append(kept, x)
			default:
				m.drop(1, false)
			}
		}
		r.Reports = kept
		if len(changes) > 0 {
			// The same sender and header: each report is answered as if it came alone.
			var ahead any = &pb.AgentReports{Reports: changes}
			if env, ok := msg.(*actor.MessageEnvelope); ok {
				e := *env
				e.Message = ahead
				ahead = &e
			}
			m.post(ahead, true)
		}
		if len(kept) == 0 {
			return
		}
	}
	m.post(msg, urgent)
}

func (m *laneMailbox) post(msg any, urgent bool) {
	m.o.Queue.waiting.Add(weight(msg))
	m.mu.Lock()
	if urgent {
		m.urgent = append(m.urgent, msg)
	} else {
		m.normal = append(m.normal, msg)
	}
	m.mu.Unlock()
	m.schedule()
}

func (m *laneMailbox) drop(n int, change bool) {
	if change {
		m.o.Queue.changes.Add(uint64(n))
		return
	}
	m.o.Pauses.Excuse()
	m.o.Queue.shed.Add(uint64(n))
}

func (m *laneMailbox) schedule() {
	m.mu.Lock()
	started := m.started
	m.mu.Unlock()
	if started && m.running.CompareAndSwap(false, true) {
		m.dispatcher.Schedule(m.process)
	}
}

// process runs the actor on its messages until none is left, as protoactor's mailbox does:
// system messages first, then user messages unless suspended; it yields after the dispatcher's
// throughput.
func (m *laneMailbox) process() {
	for {
		m.run()
		m.running.Store(false)
		// A message posted after run found none, before running was cleared, has no one to run it.
		m.mu.Lock()
		more := len(m.sys) > 0 || (!m.suspended.Load() && len(m.urgent)+len(m.normal) > 0)
		m.mu.Unlock()
		if !more || !m.running.CompareAndSwap(false, true) {
			return
		}
	}
}

func (m *laneMailbox) run() {
	var msg any
	defer func() {
		if r := recover(); r != nil {
			m.invoker.EscalateFailure(r, msg)
		}
	}()
	throughput, streak := m.dispatcher.Throughput(), 0
	for i := 0; ; i++ {
		if i > throughput {
			i = 0
			runtime.Gosched()
		}
		m.mu.Lock()
		if len(m.sys) > 0 {
			msg = m.sys[0]
			m.sys[0] = nil
			m.sys = m.sys[1:]
			m.mu.Unlock()
			switch msg.(type) {
			case *actor.SuspendMailbox:
				m.suspended.Store(true)
			case *actor.ResumeMailbox:
				m.suspended.Store(false)
			default:
				m.invoker.InvokeSystemMessage(msg)
			}
			continue
		}
		if m.suspended.Load() {
			m.mu.Unlock()
			return
		}
		switch {
		case len(m.urgent) > 0 && (streak < urgentRun || len(m.normal) == 0):
			msg = m.urgent[0]
			m.urgent[0] = nil
			m.urgent = m.urgent[1:]
			streak++
		case len(m.normal) > 0:
			msg = m.normal[0]
			m.normal[0] = nil
			m.normal = m.normal[1:]
			streak = 0
		default:
			m.mu.Unlock()
			return
		}
		m.mu.Unlock()
		m.invoker.InvokeUserMessage(msg)
		m.taken(msg)
	}
}

// taken counts what the gateway took from its queue.
func (m *laneMailbox) taken(msg any) {
	if w := weight(msg); w > 0 && m.o.Queue.waiting.Add(-w) == 0 {
		m.o.Queue.empty.Store(m.o.Clock.Now().UnixNano())
	}
}

// weight is how many reports msg counts for in the queue.
func weight(msg any) int64 {
	switch r := actor.UnwrapEnvelopeMessage(msg).(type) {
	case *pb.AgentReport:
		return 1
	case *pb.AgentReports:
		return int64(min(len(r.Reports), MaxBatch))
	}
	return 0
}
