package agentgw

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/actors/clock"
	"standby/actors/node"
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
		m := &sheddingMailbox{o: o}
		m.Mailbox = node.GuardedMailboxWith(taken{o.Queue, o.Clock})
		return m
	}
}

type sheddingMailbox struct {
	actor.Mailbox
	o MailboxOptions
}

// PostUserMessage enqueues msg unless it is shed; a batch past the bound keeps its change reports
// only (the batch is the gateway's once decoded: nobody else holds it).
func (m *sheddingMailbox) PostUserMessage(msg any) {
	q, waiting := m.o.Queue, m.o.Queue.waiting.Load()
	switch r := actor.UnwrapEnvelopeMessage(msg).(type) {
	case *pb.AgentReport:
		if waiting >= int64(m.o.Limit) || (waiting >= int64(m.o.Bound) && !r.Change) {
			m.drop(1, r.Change)
			return
		}
	case *pb.AgentReports:
		if waiting >= int64(m.o.Bound) {
			kept := r.Reports[:0]
			changes := 0
			for _, x := range r.Reports {
				if x != nil && x.Change {
					changes++
					if waiting < int64(m.o.Limit) {
						kept = append(kept, x)
					}
				}
			}
			m.o.Pauses.Excuse()
			q.shed.Add(uint64(len(r.Reports) - changes))
			q.changes.Add(uint64(changes - len(kept)))
			r.Reports = kept
			if len(kept) == 0 {
				return
			}
		}
	}
	q.waiting.Add(weight(msg))
	m.Mailbox.PostUserMessage(msg)
}

func (m *sheddingMailbox) drop(n int, change bool) {
	if change {
		m.o.Queue.changes.Add(uint64(n))
		return
	}
	m.o.Pauses.Excuse()
	m.o.Queue.shed.Add(uint64(n))
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

// taken counts what the gateway took from its queue.
type taken struct {
	q   *Queue
	clk clock.Clock
}

func (t taken) MailboxStarted()   {}
func (t taken) MessagePosted(any) {}
func (t taken) MailboxEmpty()     {}
func (t taken) MessageReceived(msg any) {
	if w := weight(msg); w > 0 && t.q.waiting.Add(-w) == 0 {
		t.q.empty.Store(t.clk.Now().UnixNano())
	}
}
