package machine

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/logx"
)

// Subscriber is a pool actor that uses this machine.
type Subscriber struct {
	PID *actor.PID
}

// Changed tells a pool actor that a machine's condition changed.
type Changed struct {
	Machine   string
	Condition failover.Condition
}

// Reconfigure replaces the settings and subscribers (config reload); observations are kept.
type Reconfigure struct {
	Settings    Settings
	Subscribers []Subscriber
}

// GetSnapshot asks for the machine's Snapshot (answered with a Snapshot).
type GetSnapshot struct{}

// AlarmChanged is published on the actor system's EventStream when a machine's alarm is raised,
// cleared (Active false), acknowledged (Acked) or its message changes.
type AlarmChanged struct {
	Machine string
	Alarm   failover.Alarm
}

// SnapshotEvent is published on the actor system's EventStream with the machine's Snapshot when
// it started, at once when its condition, services, levels or alarms changed (Tracker.Shown),
// and for reports that only moved LastSeen or health values at most once per PublishEvery
// (PublishEveryBehind while the supervisor is behind), so
// control surfaces and metrics keep a copy without asking the actor (LastSeen and the values in
// that copy are at most PublishEvery old while reports come, or, when reports only repeat the
// last one (heartbeats left in the Inbox, taken at least every PublishEvery), PublishEvery plus
// the machine's timeout).
type SnapshotEvent struct {
	Machine  string
	Snapshot Snapshot
}

// PublishEvery is the longest a copy of a reporting machine's LastSeen lags behind; while the
// supervisor is behind (clock.PauseWatch.Behind), PublishEveryBehind.
const (
	PublishEvery       = time.Second
	PublishEveryBehind = 10 * time.Second
)

// Acknowledge acknowledges the machine's alarm of Kind; answered with an *AcknowledgeReply.
type Acknowledge struct {
	Kind failover.AlarmKind
	By   string
}

// AcknowledgeReply answers Acknowledge; Err wraps failover.ErrNoAlarm when there is no such alarm.
type AcknowledgeReply struct{ Err error }

// Options configure a machine actor.
type Options struct {
	Name        string
	Settings    Settings
	Subscribers []Subscriber
	// Pauses tells when the supervisor's own last pause ended; nil means none are noticed.
	Pauses *clock.PauseWatch
	Clock  clock.Clock
	Logger zerolog.Logger
	// Hook, when set, runs first on every message; tests inject panics with it.
	Hook func(msg any)
	// Inbox, when set, is where the gateway leaves plain heartbeats instead of sending them (see
	// Inbox); nil means every report comes as a message.
	Inbox *Inbox
	// Through, when set, is the report path's watermark at now: every report delivered to the
	// supervisor before it has been handled (agentgw.Queue.Through). Silence is judged as of it.
	Through func(now time.Time) time.Time
}

// minRecheck spaces the looks at a deadline deferred behind the report path's watermark.
const minRecheck = 5 * time.Millisecond

// tick is the wake-up at the machine's silence deadline; gen ties it to one incarnation so a
// wake-up armed by a previous one is ignored.
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
	// What the deadline's timer reads (postpone), on its own goroutine: whether only the silence
	// deadline is pending, the timeout, and when the panels' copy was last published.
	quiet   atomic.Bool
	timeout atomic.Int64
	pubNano atomic.Int64

	box  *box
	t    *Tracker
	gen  uint64
	wake *clock.Wake
	log  logx.Tagged
	// What the last SnapshotEvent showed: the tracker's Shown count, and when.
	pubShown uint64
	pubAt    time.Time
}

func (m *machineActor) Receive(ctx actor.Context) {
	o := &m.box.opts
	if o.Hook != nil {
		o.Hook(ctx.Message())
	}
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		m.log = logx.Tagged{Log: o.Logger, Key: "machine", Value: o.Name}
		if m.box.saved != nil {
			m.t = m.box.saved.Clone()
			m.t.Resume(o.Clock.Now())
			m.log.Warn().Msg("machine actor restarted from its last known state")
		} else {
			m.t = NewTracker(o.Settings)
		}
		m.gen = generations.Add(1)
		root, self, t := ctx.ActorSystem().Root, ctx.Self(), &tick{gen: m.gen}
		m.wake = clock.NewPostponingWake(func() { root.Send(self, t) }, m.postpone)
		m.arm(o.Clock.Now())
		m.publish(ctx, o.Clock.Now())
		m.wantBeats(ctx)
		return
	case *actor.Stopping, *actor.Restarting:
		if m.wake != nil {
			m.wake.Stop()
		}
		return
	case *tick:
		if msg.gen != m.gen {
			return
		}
		due := m.wake.Fired()
		now := o.Clock.Now()
		// Silence is judged as of the report path's watermark: a report delivered before it has
		// reached the inbox, taken just below; a backlog ahead of the gateway is no silence.
		judge := now
		if o.Through != nil {
			if wm := o.Through(now); wm.Before(now) {
				judge = wm
			}
		}
		if m.takeBeat(ctx) {
			m.box.saved = m.t.Clone()
		}
		o.Pauses.Late(due, now)     // a wake-up this late: the supervisor is behind, not the machine
		resumed := o.Pauses.Check() // before judging: after a pause it may run ahead of the watch's beat
		changed := m.t.Tick(judge, resumed)
		if next := m.t.Due(resumed); !next.IsZero() && !next.After(now) && judge.Before(now) {
			// Deferred behind the watermark: look again once it should have passed the deadline
			// (it trails by now-judge), not in a loop while the backlog lasts, and within a timeout
			// (a backlog may clear sooner than it built up).
			m.wake.At(now, now.Add(min(max(next.Sub(judge), minRecheck), max(o.Settings.Timeout, minRecheck))))
		} else {
			m.arm(now)
		}
		if changed {
			m.publish(ctx, now) // before the condition event: whoever sees that finds the copy current
		}
		save := m.after(ctx, changed)
		if save && !changed {
			m.publish(ctx, now)
		}
		if !save {
			m.wantBeats(ctx)
			return // nothing worth keeping changed; a restart needs only the last change
		}
	case *Report:
		now := o.Clock.Now()
		if !m.observe(ctx, now, now, msg) {
			m.wantBeats(ctx)
			return // a beat without change: the saved copy stays good (Resume renews its last-seen)
		}
	case *Poke:
		if !m.takeBeat(ctx) {
			m.wantBeats(ctx)
			return
		}
	case *Acknowledge:
		changed, err := m.t.Acknowledge(msg.Kind)
		if err != nil {
			ctx.Respond(&AcknowledgeReply{Err: fmt.Errorf("machine %q: %w", o.Name, err)})
			return
		}
		m.log.Info().Str("alarm", string(msg.Kind)).Str("by", msg.By).Str("condition_follows", m.t.est.describe("established")).
			Msg("machine alarm acknowledged")
		m.wake.Stop() // a held session's deadline may now be the earliest
		m.arm(o.Clock.Now())
		m.after(ctx, changed)
		m.publish(ctx, o.Clock.Now())
		ctx.Respond(&AcknowledgeReply{})
	case *Reconfigure:
		o.Settings, o.Subscribers = msg.Settings, msg.Subscribers
		m.t.Reconfigure(msg.Settings)
		m.wake.Stop() // the timeout may have become shorter
		m.arm(o.Clock.Now())
		m.notify(ctx) // new subscribers need the current condition
		m.publish(ctx, o.Clock.Now())
	case *GetSnapshot:
		if m.takeBeat(ctx) {
			m.box.saved = m.t.Clone()
		}
		ctx.Respond(m.t.Snapshot())
		return
	default:
		return
	}
	m.box.saved = m.t.Clone()
	m.wantBeats(ctx)
}

// observe applies a report delivered at at, handled at now: the condition, alarms and the
// snapshot copy. It returns whether the tracker is worth saving.
func (m *machineActor) observe(ctx actor.Context, now, at time.Time, r *Report) bool {
	changed := m.t.Observe(at, *r)
	m.arm(now)
	every := PublishEvery
	if m.box.opts.Pauses.Behind(now) {
		every = PublishEveryBehind // shed: the panels' refresh is worth least while the supervisor is behind
	}
	published := changed || m.t.Shown() != m.pubShown || now.Sub(m.pubAt) >= every
	if published {
		m.publish(ctx, now) // before the condition event: whoever sees that finds the copy current
	}
	save := m.after(ctx, changed)
	if save && !published {
		m.publish(ctx, now)
	}
	return save
}

// takeBeat applies the heartbeat waiting in the inbox, if any, at the time it was delivered. It
// returns whether the tracker is worth saving.
func (m *machineActor) takeBeat(ctx actor.Context) bool {
	if m.box.opts.Inbox == nil {
		return false
	}
	r, at, ok := m.box.opts.Inbox.Take()
	if !ok {
		return false
	}
	return m.observe(ctx, m.box.opts.Clock.Now(), at, &r)
}

// postpone runs on the deadline's timer goroutine: when only the silence deadline is pending
// and the machine has been heard since it was armed (a heartbeat waits in the inbox), the look
// is put off to that heartbeat's own deadline, without waking the actor; but not past the
// panels' copy's refresh. A beating machine so costs a wake-up a PublishEvery, not one a timeout.
func (m *machineActor) postpone(due time.Time) (next, now time.Time) {
	o := &m.box.opts
	now = o.Clock.Now()
	if !m.quiet.Load() || o.Inbox == nil {
		return time.Time{}, now
	}
	every := PublishEvery
	if o.Pauses.Behind(now) {
		every = PublishEveryBehind
	}
	at := o.Inbox.HeardAt()
	if at.IsZero() || now.Sub(time.Unix(0, m.pubNano.Load())) >= every {
		return time.Time{}, now
	}
	return at.Add(time.Duration(m.timeout.Load())), now
}

// wantBeats tells the inbox whether every heartbeat is wanted at once: while the machine is not
// heard yet, silent, or has a second agent session in question, a heartbeat may change its
// condition; otherwise the deadline wake-up takes the newest. A heartbeat left while it was not
// eager is taken now.
func (m *machineActor) wantBeats(ctx actor.Context) {
	m.quiet.Store(m.t.OnlySilencePending())
	m.timeout.Store(int64(m.box.opts.Settings.Timeout))
	if in := m.box.opts.Inbox; in != nil && in.SetEager(m.t.NeedsEveryReport()) {
		ctx.Send(ctx.Self(), &Poke{})
	}
}

// arm makes sure a wake-up comes at the silence deadline. Reports move the deadline later without
// touching the timer: it fires at the old one, finds the machine heard from, and re-arms, so a
// beating machine costs one wake-up per timeout rather than a timer reset per report.
func (m *machineActor) arm(now time.Time) {
	m.wake.At(now, m.t.Due(m.box.opts.Pauses.Resumed()))
}

// after publishes what a handled message changed: the condition when changed, then the alarm
// changes. It returns whether the tracker is worth saving.
func (m *machineActor) after(ctx actor.Context, changed bool) bool {
	if changed {
		m.notify(ctx)
	}
	alarms, save := m.t.TakeChanges()
	for _, a := range alarms {
		m.logAlarm(a)
		ctx.ActorSystem().EventStream.Publish(&AlarmChanged{Machine: m.box.opts.Name, Alarm: a})
	}
	return changed || save
}

// publish hands the current Snapshot to the EventStream (SnapshotEvent).
func (m *machineActor) publish(ctx actor.Context, now time.Time) {
	m.pubShown, m.pubAt = m.t.Shown(), now
	m.pubNano.Store(now.UnixNano())
	ctx.ActorSystem().EventStream.Publish(&SnapshotEvent{Machine: m.box.opts.Name, Snapshot: m.t.Snapshot()})
}

// logAlarm logs each alarm change once; reports in between log nothing.
func (m *machineActor) logAlarm(a failover.Alarm) {
	ev, msg := m.log.Warn(), "machine alarm"
	switch {
	case !a.Active:
		ev, msg = m.log.Info(), "machine alarm cleared"
	case a.Acked:
		return // the Acknowledge handler logged it, with who
	}
	ev.Str("alarm", string(a.Kind)).Str("detail", a.Message).Msg(msg)
}

func (m *machineActor) notify(ctx actor.Context) {
	c := m.t.Condition()
	ev := m.log.Info()
	if c.Failure != failover.TriggerNone {
		ev = m.log.Warn()
	}
	ev.Bool("known", c.Known).Str("failure", string(c.Failure)).Str("level", c.Level.String()).Str("detail", c.Detail).Msg("machine condition")
	for _, s := range m.box.opts.Subscribers {
		ctx.Send(s.PID, &Changed{Machine: m.box.opts.Name, Condition: c})
	}
	// Published after the sends, so whoever sees it knows the pairs' mailboxes already hold it.
	ctx.ActorSystem().EventStream.Publish(&Changed{Machine: m.box.opts.Name, Condition: c})
}
