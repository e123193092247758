package node

import (
	"sync"
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// GuardedMailbox is protoactor's unbounded mailbox made safe to post to while its actor is being
// spawned. protoactor registers a named actor's PID before it hands the mailbox its dispatcher, so
// a message sent to that name in between (a router telling a pair it is connected while the pair
// is being spawned) panics in the sender on the nil dispatcher and leaves the mailbox marked
// running with nothing running it: the actor never handles another message. Here, what is posted
// before the spawner starts the mailbox is held and handed over at Start, system messages (Started
// among them) first. Use it for every actor others address by name:
// props.Configure(actor.WithMailbox(node.GuardedMailbox)).
func GuardedMailbox() actor.Mailbox { return &guardedMailbox{inner: actor.Unbounded()()} }

type guardedMailbox struct {
	inner     actor.Mailbox
	started   atomic.Bool
	mu        sync.Mutex
	sys, user []any // held until Start
}

func (m *guardedMailbox) PostUserMessage(msg any) {
	if !m.started.Load() && m.hold(&m.user, msg) {
		return
	}
	m.inner.PostUserMessage(msg)
}

func (m *guardedMailbox) PostSystemMessage(msg any) {
	if !m.started.Load() && m.hold(&m.sys, msg) {
		return
	}
	m.inner.PostSystemMessage(msg)
}

// hold queues msg unless Start has run meanwhile.
func (m *guardedMailbox) hold(q *[]any, msg any) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.started.Load() {
		return false
	}
	*q = append(*q, msg)
	return true
}

func (m *guardedMailbox) RegisterHandlers(invoker actor.MessageInvoker, dispatcher actor.Dispatcher) {
	m.inner.RegisterHandlers(invoker, dispatcher)
}

func (m *guardedMailbox) Start() {
	m.mu.Lock()
	for _, msg := range m.sys {
		m.inner.PostSystemMessage(msg)
	}
	for _, msg := range m.user {
		m.inner.PostUserMessage(msg)
	}
	m.sys, m.user = nil, nil
	m.started.Store(true)
	m.mu.Unlock()
	m.inner.Start()
}

func (m *guardedMailbox) UserMessageCount() int {
	m.mu.Lock()
	held := len(m.user)
	m.mu.Unlock()
	return held + m.inner.UserMessageCount()
}
