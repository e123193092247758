package machine

import (
	"sync"
	"time"
)

// Inbox is a machine's heartbeat slot, shared by the gateway (the only writer) and the machine
// actor: a plain heartbeat that repeats what the machine last said is put here instead of being
// sent as a message. Only the newest one matters, so a newer one replaces an older one still
// waiting (coalescing under load), and the actor takes it when it wakes anyway (at its silence
// deadline, or for any other message). A heartbeat costs the supervisor no actor message then,
// and a change, sent as a message, never waits behind heartbeats.
//
// The actor asks for a Poke on every heartbeat while it needs each one at once (Eager: silent,
// not heard yet, or a second agent session in question). Safe for concurrent use.
type Inbox struct {
	mu     sync.Mutex
	r      *Report   // shared with the gateway: never changed once put
	seq    uint64    // the heartbeat's own seq (r's content, a newer seq: no copy of r per beat)
	at     time.Time // when the transport delivered r, on the supervisor's clock
	poked  bool      // a Poke is on its way and has not been taken yet
	eager  bool
	puts   uint64
	merged uint64 // heartbeats replaced by a newer one before the actor took them
}

// Poke tells the machine actor its Inbox holds a heartbeat to take now.
type Poke struct{}

// NewInbox returns an empty inbox, eager until the actor says otherwise (a machine not heard yet
// wants its first report at once).
func NewInbox() *Inbox { return &Inbox{eager: true} }

// Put leaves r with seq (which Take puts in place of r.Seq), delivered at at, for the actor; r
// is not changed afterwards by either side. It reports whether the caller must send a Poke: the
// actor is eager, or r is urgent (a change the gateway throttled), and no Poke is on its way
// already.
func (b *Inbox) Put(r *Report, seq uint64, at time.Time, urgent bool) (poke bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r != nil {
		b.merged++
	}
	b.r, b.seq, b.at = r, seq, at
	b.puts++
	if (b.eager || urgent) && !b.poked {
		b.poked = true
		return true
	}
	return false
}

// HeardAt is when the waiting heartbeat was delivered (zero when none waits): the machine was
// heard then, whatever the actor has taken so far.
func (b *Inbox) HeardAt() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r == nil {
		return time.Time{}
	}
	return b.at
}

// Take returns the waiting heartbeat, if any, and empties the slot.
func (b *Inbox) Take() (Report, time.Time, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.r == nil {
		b.poked = false
		return Report{}, time.Time{}, false
	}
	r, at := *b.r, b.at
	r.Seq = b.seq
	b.r, b.poked = nil, false
	return r, at, true
}

// SetEager says whether the actor wants a Poke for every heartbeat. It reports whether a heartbeat
// is already waiting that the caller should take now (one put while the actor was not eager).
func (b *Inbox) SetEager(eager bool) (waiting bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.eager = eager
	return eager && b.r != nil && !b.poked
}

// Counts returns how many heartbeats were put and how many of them were replaced unread.
func (b *Inbox) Counts() (puts, merged uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.puts, b.merged
}

// Inboxes hands out one Inbox per machine name, shared by the supervisor's gateway and machine
// actors. Safe for concurrent use.
type Inboxes struct{ m sync.Map }

// Get returns name's inbox, made on first use.
func (s *Inboxes) Get(name string) *Inbox {
	if b, ok := s.m.Load(name); ok {
		return b.(*Inbox)
	}
	b, _ := s.m.LoadOrStore(name, NewInbox())
	return b.(*Inbox)
}
