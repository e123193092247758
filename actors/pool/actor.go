// Package pool is the actor shell around one pool's failover engine (a [[pair]] is a pool of one
// main and one backup): it feeds the engine machine conditions, router results and what the
// router shows, operator commands, and a wake-up at the engine's next deadline, and carries out
// its actions (route requests to the router actor, one log line per transition, alarm events).
// It reads the router's routing, labels and locks as the router actor publishes them and turns
// them into what the engine understands; the router actor knows nothing of pools.
package pool

import (
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/logx"
	"standby/actors/machine"
	"standby/actors/router"
	"standby/conf"
	vh "standby/protocol/videohub"
)

// Options configure a pool actor.
type Options struct {
	Name string
	// Pair is true for a [[pair]] entry: logs say "pair transition" with a "pair" field.
	Pair   bool
	Engine failover.Config
	Router *actor.PID
	// LockOutputs holds Videohub locks on the pool's outputs; ForceUnlock may break other
	// clients' locks to take them.
	LockOutputs, ForceUnlock bool
	Clock                    clock.Clock
	Logger                   zerolog.Logger
	// Standby and Term are the supervisor's role when the pool is spawned (the zero value: active,
	// no pair of supervisors); later changes come as *SetRole.
	Standby bool
	Term    uint64
	// Hook, when set, runs first on every message; tests inject panics with it.
	Hook func(msg any)
}

// SetRole tells the pool whether its supervisor is the active one of its pair, and the term.
type SetRole = failover.SetRole

// SetQuorum tells the pool whether a silence may be failed over (failover.SetQuorum).
type SetQuorum = failover.SetQuorum

// Adopt hands a standby pool the active supervisor's view of it (failover.Adopt).
type Adopt = failover.Adopt

// Resume hands a pool what its supervisor persisted before a restart (failover.Resume).
type Resume = failover.Resume

// Command carries an operator event (failover.Switch, SetMode, SetFailback, Acknowledge) to the
// pool; it is answered with a CommandReply.
type Command struct{ Event failover.Event }

// CommandReply answers a Command; Err is nil when it was done, else the engine's refusal (it
// wraps failover's sentinel errors, so callers test it with errors.Is). Local only.
type CommandReply struct{ Err error }

// GetStatus asks for the pool's View.
type GetStatus struct{}

// View is a pool's status for UIs.
type View struct {
	Name string
	failover.Status
}

// Reconfigure applies a reloaded config to a running pool, keeping its state.
type Reconfigure struct {
	Engine                   failover.Config
	Router                   *actor.PID
	LockOutputs, ForceUnlock bool
	// Resubscribe: the router actor was replaced and must be told about this pool again.
	Resubscribe bool
}

// Event is published on the actor system's event stream for every engine action, so control
// surfaces and metrics can follow pools without polling.
type Event struct {
	Pool   string
	Time   time.Time
	Action failover.Action
}

// ViewEvent is published on the event stream with the pool's View when the actor starts and after
// every message that may have changed it, before that message's Events, so whoever sees an Event
// finds a copy kept from ViewEvents current (control surfaces and metrics keep one instead of
// asking the actor).
type ViewEvent struct{ View View }

// tick is the wake-up at the engine's next deadline; gen ties it to one incarnation.
type tick struct{ gen uint64 }

var generations atomic.Uint64

// box outlives actor incarnations so a restarted actor resumes from its last known state.
type box struct {
	opts  Options
	saved *failover.Pool
}

// Props returns the props of a pool actor. A panic restarts it from its last known state.
func Props(o Options) *actor.Props {
	b := &box{opts: o}
	return actor.PropsFromProducer(func() actor.Actor { return &poolActor{box: b} })
}

type poolActor struct {
	box  *box
	eng  *failover.Pool
	gen  uint64
	wake *clock.Wake
	log  logx.Tagged
	// What the router was last seen to show, lock and lack, so only changes reach the engine.
	shows  string
	locked string
	lacks  string
	// mirror is the router's last state, fed again after a reconfigure so new mains arm without
	// waiting for the next change on the router.
	mirror     *router.Mirror
	routerName string
}

func (a *poolActor) Receive(ctx actor.Context) {
	o := &a.box.opts
	if o.Hook != nil {
		o.Hook(ctx.Message())
	}
	now := o.Clock.Now()
	var acts []failover.Action
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		field := "pool"
		if o.Pair {
			field = "pair"
		}
		a.log = logx.Tagged{Log: o.Logger, Key: field, Value: o.Name}
		if a.box.saved != nil {
			a.eng = a.box.saved.Clone()
			a.log.Warn().Msg("pool actor restarted from its last known state")
		} else {
			a.eng = failover.New(o.Engine)
			if o.Standby || o.Term > 0 {
				acts = a.step(now, failover.SetRole{Active: !o.Standby, Term: o.Term})
			}
		}
		a.gen = generations.Add(1)
		root, self, t := ctx.ActorSystem().Root, ctx.Self(), &tick{gen: a.gen}
		a.wake = clock.NewWake(func() { root.Send(self, t) })
		a.wake.At(now, a.eng.Wake(now)) // a restored switch still has its deadline
		a.subscribe(ctx)                // what the router said before we ran comes with it
		if len(acts) == 0 {
			a.publishView(ctx)
			return
		}
	case *actor.Stopping:
		if a.wake != nil {
			a.wake.Stop()
		}
		if o.Router != nil {
			ctx.Send(o.Router, &router.Unsubscribe{PID: ctx.Self()})
		}
		return
	case *actor.Restarting:
		if a.wake != nil {
			a.wake.Stop()
		}
		return
	case *tick:
		if msg.gen != a.gen {
			return
		}
		a.wake.Fired()
		acts = a.step(now, failover.Tick{})
	case *machine.Changed:
		acts = a.step(now, failover.MachineChanged{Machine: msg.Machine, Condition: msg.Condition})
	case *router.Result:
		if msg.Pool != o.Name {
			return
		}
		reason := string(msg.Reason)
		if msg.Detail != "" {
			reason += ": " + msg.Detail
		}
		acts = a.step(now, failover.RouteResult{Epoch: msg.Epoch, OK: msg.OK, Reason: reason, Latency: msg.Latency})
	case *router.Status:
		if msg.Conn != router.Connected {
			return
		}
		acts = a.step(now, failover.RouterReady{})
	case *router.Routing:
		a.routerName = msg.Router
		acts = a.routing(now, msg.Mirror)
	case *Command:
		var err error
		acts, err = a.eng.Step(now, msg.Event)
		// Answered once the view is published: the supervisor's copy of the pools (the state
		// document's) is current when the caller hears back.
		defer ctx.Respond(&CommandReply{Err: err})
	case *SetQuorum:
		acts = a.step(now, *msg)
	case *Adopt:
		acts = a.step(now, *msg)
	case *Resume:
		acts = a.step(now, *msg)
	case *SetRole:
		if msg.Term >= o.Term {
			oldClaim := a.claim()
			o.Standby, o.Term = !msg.Active, msg.Term // for the log lines; a stale one the engine ignores too
			if !slices.Equal(oldClaim, a.claim()) {
				// The router as a fence: only the active side holds the outputs. Taking over, it
				// takes them by force once (they are the previous active side's), then holds them
				// as configured, so a reconnect never fights a newer term for them.
				if msg.Active && msg.Term > 0 && o.Router != nil {
					ctx.Send(o.Router, &router.Subscribe{PID: ctx.Self(), Claim: a.claim(), ForceClaim: true})
				}
				a.subscribe(ctx)
			}
		}
		acts = a.step(now, *msg)
	case *GetStatus:
		ctx.Respond(&View{Name: o.Name, Status: a.eng.Status()})
		return
	case *Reconfigure:
		oldRouter, oldClaim := o.Router, a.claim()
		o.Engine, o.Router, o.LockOutputs, o.ForceUnlock = msg.Engine, msg.Router, msg.LockOutputs, msg.ForceUnlock
		acts = a.eng.Reconfigure(now, msg.Engine)
		if msg.Resubscribe || !oldRouter.Equal(o.Router) || !slices.Equal(oldClaim, a.claim()) {
			if oldRouter != nil && !oldRouter.Equal(o.Router) {
				ctx.Send(oldRouter, &router.Unsubscribe{PID: ctx.Self()})
			}
			a.shows, a.locked, a.lacks, a.mirror = "", "", "", nil
			a.subscribe(ctx)
		} else if a.mirror != nil {
			a.lacks = "" // the same ports may belong to other machines now
			acts = append(acts, a.routing(now, a.mirror)...)
		}
	default:
		return
	}
	a.route(ctx, now, acts) // the router first: a switch waits for no view, log line or event
	_, isTick := ctx.Message().(*tick)
	if !isTick || len(acts) > 0 {
		a.publishView(ctx)
	}
	a.carryOut(ctx, now, acts)
	a.wake.At(now, a.eng.Wake(now))
	if isTick && len(acts) == 0 {
		return // a tick that did nothing changed nothing worth keeping
	}
	a.box.saved = a.eng.Clone()
}

func (a *poolActor) publishView(ctx actor.Context) {
	ctx.ActorSystem().EventStream.Publish(&ViewEvent{View: View{Name: a.box.opts.Name, Status: a.eng.Status()}})
}

func (a *poolActor) subscribe(ctx actor.Context) {
	o := &a.box.opts
	if o.Router != nil {
		ctx.Send(o.Router, &router.Subscribe{PID: ctx.Self(), Claim: a.claim(), ForceClaim: o.ForceUnlock})
	}
}

// claim is the outputs to hold locked (lock_outputs): none on a standby supervisor, which must
// not take them from the active one.
func (a *poolActor) claim() []conf.Port {
	if !a.box.opts.LockOutputs || a.box.opts.Standby {
		return nil
	}
	return Outputs(a.box.opts.Engine)
}

// Outputs lists every router output of the pool's mains.
func Outputs(c failover.Config) []conf.Port {
	var outs []conf.Port
	for _, m := range c.Mains {
		for _, f := range m.Feeds {
			outs = append(outs, f.Outputs...)
		}
	}
	return outs
}

// Inputs lists every router input of the pool's machines.
func Inputs(c failover.Config) []conf.Port {
	var ins []conf.Port
	for _, m := range slices.Concat(c.Mains, c.Backups) {
		for _, f := range m.Feeds {
			ins = append(ins, f.Input)
		}
	}
	return ins
}

// routing turns the router's state into what the engine needs: what each of the pool's outputs
// shows and which are locked by other clients, each fed to the engine only when it changed.
func (a *poolActor) routing(now time.Time, m *router.Mirror) []failover.Action {
	a.mirror = m
	cfg := a.box.opts.Engine
	shows := Shows(m, cfg)
	var locked failover.OutputsLocked
	for _, o := range Outputs(cfg) {
		if out, err := m.ResolveOutput(o); err == nil && m.Locks[out] == vh.LockLocked {
			locked.Outputs = append(locked.Outputs, failover.LockedOutput{Output: o, Name: m.OutputName(out)})
		}
	}
	var acts []failover.Action
	if k := fmt.Sprint(locked); k != a.locked {
		a.locked = k
		if len(locked.Outputs) > 0 {
			a.log.Warn().Str("outputs", k).Msg("outputs locked by another router client: make sure routed outputs are not locked")
		}
		acts = append(acts, a.step(now, locked)...)
	}
	if m.Known() {
		if lacks := Lacks(m, cfg, a.routerName); fmt.Sprint(lacks) != a.lacks {
			a.lacks = fmt.Sprint(lacks)
			acts = append(acts, a.step(now, lacks)...)
		}
	}
	if k := fmt.Sprint(shows); k != a.shows {
		a.shows = k
		acts = append(acts, a.step(now, shows)...)
	}
	return acts
}

// Lacks lists the ports of the pool's config that the router (named router) does not have:
// numbers beyond its size, labels it does not carry.
func Lacks(m *router.Mirror, cfg failover.Config, name string) failover.RouterLacks {
	var l failover.RouterLacks
	add := func(p conf.Port, input bool, err error) {
		var mp *router.MissingPort
		if errors.As(err, &mp) {
			l.Ports = append(l.Ports, failover.LackedPort{Port: p, Input: input, Reason: mp.In(name)})
		}
	}
	for _, p := range Inputs(cfg) {
		_, err := m.ResolveInput(p)
		add(p, true, err)
	}
	for _, p := range Outputs(cfg) {
		_, err := m.ResolveOutput(p)
		add(p, false, err)
	}
	return l
}

// Shows is what the router shows on the pool's outputs. An input is spelled as the pool's config
// spells it when it belongs to a pool machine; outputs the router cannot resolve (a missing label)
// are left out.
func Shows(m *router.Mirror, cfg failover.Config) failover.RouterShows {
	inputs := map[int]conf.Port{}
	for _, p := range Inputs(cfg) {
		if i, err := m.ResolveInput(p); err == nil {
			if _, dup := inputs[i]; !dup {
				inputs[i] = p
			}
		}
	}
	var rs failover.RouterShows
	for _, o := range Outputs(cfg) {
		out, err := m.ResolveOutput(o)
		if err != nil {
			continue
		}
		sh := failover.Shown{Output: o, Text: "output " + m.OutputName(out) + " ← nothing"}
		if in, ok := m.Routing[out]; ok {
			sh.Input = conf.N(in + 1)
			if p, ok := inputs[in]; ok {
				sh.Input = p
			}
			sh.Text = "output " + m.OutputName(out) + " ← input " + m.InputName(in)
		}
		rs.Outputs = append(rs.Outputs, sh)
	}
	return rs
}

// step feeds an event that cannot be refused.
func (a *poolActor) step(now time.Time, ev failover.Event) []failover.Action {
	acts, err := a.eng.Step(now, ev)
	if err != nil {
		a.log.Error().Err(err).Msg("engine refused an event")
	}
	return acts
}

// route sends the router the switches among acts.
func (a *poolActor) route(ctx actor.Context, now time.Time, acts []failover.Action) {
	o := &a.box.opts
	for _, act := range acts {
		if x, ok := act.(failover.Route); ok {
			xs := make([]router.Crosspoint, len(x.Crosspoints))
			for i, c := range x.Crosspoints {
				xs[i] = router.Crosspoint{Output: c.Output, Input: c.Input}
			}
			ctx.Send(o.Router, &router.Switch{Pool: o.Name, Epoch: x.Epoch, Crosspoints: xs, ForceUnlock: x.Force, ReplyTo: ctx.Self(), Sent: now})
		}
	}
}

// carryOut logs and publishes acts (their routes were sent by route).
func (a *poolActor) carryOut(ctx actor.Context, now time.Time, acts []failover.Action) {
	o := &a.box.opts
	for _, act := range acts {
		switch x := act.(type) {
		case failover.Route:
		case failover.Transition:
			ev := a.log.Info()
			if x.To == failover.SwitchingToBackup || x.To == failover.SwitchingToMain {
				ev = a.log.Warn()
			}
			if x.Latency > 0 {
				ev = ev.Dur("switch_ms", x.Latency)
			}
			msg := "pool transition"
			if o.Pair {
				msg = "pair transition"
			}
			if o.Term > 0 {
				ev = ev.Uint64("term", o.Term) // which supervisor term routed it, when there is a pair of supervisors
			}
			ev.Str("main", x.Main).Str("from", x.From.String()).Str("to", x.To.String()).Str("machine", x.Machine).
				Str("trigger", string(x.Trigger)).Str("detail", x.Detail).Msg(msg)
		case failover.AlarmRaised:
			a.log.Error().Str("main", x.Main).Str("alarm", string(x.Kind)).Msg(x.Message)
		case failover.AlarmCleared:
			a.log.Info().Str("main", x.Main).Str("alarm", string(x.Kind)).Msg("alarm cleared")
		case failover.Note:
			a.log.Info().Str("main", x.Main).Msg(x.Message)
		default:
			panic(fmt.Sprintf("pool: unknown action %T", act))
		}
		ctx.ActorSystem().EventStream.Publish(&Event{Pool: o.Name, Time: now, Action: act})
	}
}

// Engine derives the engine config of a pool (or pair) of the config.
func Engine(c *conf.Config, sp *conf.PoolSpec) failover.Config {
	members := func(ms []conf.Member) []failover.Machine {
		out := make([]failover.Machine, len(ms))
		for i, m := range ms {
			out[i].Name = m.Name
			for _, f := range m.Feeds {
				out[i].Feeds = append(out[i].Feeds, failover.Feed{Role: f.Role, Input: f.Input, Outputs: f.Outputs})
			}
		}
		return out
	}
	return failover.Config{
		Mains: members(sp.Mains), Backups: members(sp.Backups), Roles: sp.Roles,
		Automatic:        sp.Automatic,
		SwitchOnCritical: sp.SwitchOnCritical,
		AutoFailback:     sp.AutoFailback,
		FailbackAfter:    sp.FailbackAfter,
		FlapMax:          c.Supervisor.FlapMax,
		FlapWindow:       c.Supervisor.FlapWindow.Duration,
		SwitchTimeout:    SwitchTimeout(c, sp.Router),
		ForceUnlock:      sp.ForceUnlock,
	}
}

// SwitchTimeout is the engine's backstop for a lost router answer on routerName.
func SwitchTimeout(c *conf.Config, routerName string) time.Duration {
	if r := c.Router(routerName); r != nil {
		return 2*r.ConfirmTimeout.Duration + time.Second
	}
	return 2 * time.Second
}
