package machine

import (
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
)

// Subscriber is a pair actor that uses this machine on Side.
type Subscriber struct {
	PID  *actor.PID
	Side failover.Side
}

// Changed tells a pair actor that a machine's condition changed.
type Changed struct {
	Machine   string
	Side      failover.Side
	Condition failover.Condition
}

// Reconfigure replaces the settings and subscribers (config reload); observations are kept.
type Reconfigure struct {
	Settings    Settings
	Subscribers []Subscriber
}

// GetSnapshot asks for the machine's Snapshot (answered with a Snapshot).
type GetSnapshot struct{}

// Options configure a machine actor.
type Options struct {
	Name        string
	Settings    Settings
	Subscribers []Subscriber
	Tick        time.Duration
	Clock       clock.Clock
	Logger      zerolog.Logger
	// Hook, when set, runs first on every message; tests inject panics with it.
	Hook func(msg any)
}

// tick drives silence detection; gen ties it to one incarnation's scheduler so ticks from a
// cancelled scheduler are ignored.
type tick struct{ gen uint64 }

var generations atomic.Uint64

// box outlives actor incarnations so a restarted actor resumes from the last condition change
// that was completely handled, not from scratch. It is saved on changes only: cloning on every
// beat and tick was a measurable share of the supervisor's CPU (bench/README.md).
type box struct {
	opts  Options
	saved *Tracker
}

// Props returns the props of a machine actor. A panic restarts it from its last known state.
func Props(o Options) *actor.Props {
	b := &box{opts: o}
	return actor.PropsFromProducer(func() actor.Actor { return &machineActor{box: b} })
}

type machineActor struct {
	box    *box
	t      *Tracker
	gen    uint64
	cancel func()
	log    zerolog.Logger
}

func (m *machineActor) Receive(ctx actor.Context) {
	o := &m.box.opts
	if o.Hook != nil {
		o.Hook(ctx.Message())
	}
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.log = o.Logger.With().Str("machine", o.Name).Logger()
		if m.box.saved != nil {
			m.t = m.box.saved.Clone()
			m.t.Resume(o.Clock.Now())
			m.log.Warn().Msg("machine actor restarted from its last known state")
		} else {
			m.t = NewTracker(o.Settings)
		}
		m.gen = generations.Add(1)
		root, self, t := ctx.ActorSystem().Root, ctx.Self(), &tick{gen: m.gen}
		m.cancel = clock.Repeat(o.Tick, o.Tick, func() { root.Send(self, t) })
		return
	case *actor.Stopping, *actor.Restarting:
		if m.cancel != nil {
			m.cancel()
			m.cancel = nil
		}
		return
	case *tick:
		if msg.gen != m.gen {
			return
		}
		if !m.t.Tick(o.Clock.Now()) {
			return // nothing worth keeping changed; a restart needs only the last change
		}
		m.notify(ctx)
	case *Report:
		if !m.t.Observe(o.Clock.Now(), *msg) {
			return // a beat without change: the saved copy stays good (Resume renews its last-seen)
		}
		m.notify(ctx)
	case *Reconfigure:
		o.Settings, o.Subscribers = msg.Settings, msg.Subscribers
		m.t.Reconfigure(msg.Settings)
		m.notify(ctx) // new subscribers need the current condition
	case *GetSnapshot:
		ctx.Respond(m.t.Snapshot())
		return
	default:
		return
	}
	m.box.saved = m.t.Clone()
}

func (m *machineActor) notify(ctx actor.Context) {
	c := m.t.Condition()
	ev := m.log.Info()
	if c.Failure != failover.TriggerNone {
		ev = m.log.Warn()
	}
	ev.Bool("known", c.Known).Str("failure", string(c.Failure)).Str("level", c.Level.String()).Str("detail", c.Detail).Msg("machine condition")
	for _, s := range m.box.opts.Subscribers {
		ctx.Send(s.PID, &Changed{Machine: m.box.opts.Name, Side: s.Side, Condition: c})
	}
	// Published after the sends, so whoever sees it knows the pairs' mailboxes already hold it.
	ctx.ActorSystem().EventStream.Publish(&Changed{Machine: m.box.opts.Name, Condition: c})
}
