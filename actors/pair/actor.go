// Package pair is the actor shell around one pair's failover engine: it feeds the engine machine
// conditions, router results and what the router shows, operator commands, and a wake-up at the
// engine's next deadline, and carries out its actions (route requests to the router actor, one
// log line per transition, alarm events).
package pair

import (
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/router"
	"standby/conf"
)

// Options configure a pair actor.
type Options struct {
	Pair   conf.Pair
	Engine failover.Config
	Router *actor.PID
	Clock  clock.Clock
	Logger zerolog.Logger
	// Hook, when set, runs first on every message; tests inject panics with it.
	Hook func(msg any)
}

// EngineConfig derives the engine policy of pair p from the config.
func EngineConfig(c *conf.Config, p *conf.Pair) failover.Config {
	timeout := 2 * time.Second
	if r := c.Router(p.Router); r != nil {
		timeout = 2*r.ConfirmTimeout.Duration + time.Second
	}
	return failover.Config{
		Machines:         [2]string{p.Main, p.Backup},
		Automatic:        p.Mode == conf.ModeAutomatic,
		SwitchOnCritical: p.SwitchOnCritical,
		AutoFailback:     p.Failback == conf.ModeAutomatic,
		FailbackAfter:    p.FailbackAfter.Duration,
		FlapMax:          c.Supervisor.FlapMax,
		FlapWindow:       c.Supervisor.FlapWindow.Duration,
		SwitchTimeout:    timeout,
		ForceUnlock:      p.ForceUnlock,
	}
}

// Command carries an operator event (failover.Switch, SetMode, SetFailback, Acknowledge) to the
// pair; it is answered with a CommandReply.
type Command struct{ Event failover.Event }

// CommandReply answers a Command; Err is nil when it was done, else the engine's refusal (it
// wraps failover's sentinel errors, so callers test it with errors.Is). Local only.
type CommandReply struct{ Err error }

// GetStatus asks for the pair's View.
type GetStatus struct{}

// View is a pair's status for UIs.
type View struct {
	Name   string
	Config conf.Pair
	failover.Status
}

// Reconfigure applies a reloaded config to a running pair, keeping its state.
type Reconfigure struct {
	Pair   conf.Pair
	Engine failover.Config
	Router *actor.PID
}

// Event is published on the actor system's event stream for every engine action, so control
// surfaces and metrics can follow pairs without polling.
type Event struct {
	Pair   string
	Time   time.Time
	Action failover.Action
}

// tick is the wake-up at the engine's next deadline; gen ties it to one incarnation.
type tick struct{ gen uint64 }

var generations atomic.Uint64

type box struct {
	opts  Options
	saved *failover.Pair
}

// Props returns the props of a pair actor. A panic restarts it from its last known state.
func Props(o Options) *actor.Props {
	b := &box{opts: o}
	return actor.PropsFromProducer(func() actor.Actor { return &pairActor{box: b} })
}

type pairActor struct {
	box  *box
	eng  *failover.Pair
	gen  uint64
	wake *clock.Wake
	log  zerolog.Logger
}

func (a *pairActor) Receive(ctx actor.Context) {
	o := &a.box.opts
	if o.Hook != nil {
		o.Hook(ctx.Message())
	}
	now := o.Clock.Now()
	var acts []failover.Action
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		a.log = o.Logger.With().Str("pair", o.Pair.Name).Logger()
		if a.box.saved != nil {
			a.eng = a.box.saved.Clone()
			a.log.Warn().Str("state", a.eng.Status().State.String()).Msg("pair actor restarted from its last known state")
		} else {
			a.eng = failover.New(o.Engine)
		}
		a.gen = generations.Add(1)
		root, self, t := ctx.ActorSystem().Root, ctx.Self(), &tick{gen: a.gen}
		a.wake = clock.NewWake(func() { root.Send(self, t) })
		a.wake.At(now, a.eng.Wake(now)) // a restored switch still has its deadline
		if o.Router != nil {
			ctx.Send(o.Router, &router.PairStarted{Pair: o.Pair.Name}) // what the router said before we ran
		}
		return
	case *actor.Stopping, *actor.Restarting:
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
		acts = a.step(now, failover.MachineChanged{Side: msg.Side, Condition: msg.Condition})
	case *router.Result:
		if msg.Pair != o.Pair.Name {
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
	case *router.OnAirSeen:
		ev := failover.RouterShows{Known: msg.Shows != "", Side: failover.Main, Detail: msg.Detail}
		if msg.Shows == "backup" {
			ev.Side = failover.Backup
		}
		acts = a.step(now, ev)
	case *router.LockAlert:
		acts = a.step(now, failover.OutputsLocked{Locked: msg.Locked, Detail: msg.Detail})
	case *Command:
		var err error
		acts, err = a.eng.Step(now, msg.Event)
		ctx.Respond(&CommandReply{Err: err})
	case *GetStatus:
		ctx.Respond(&View{Name: o.Pair.Name, Config: o.Pair, Status: a.eng.Status()})
		return
	case *Reconfigure:
		o.Pair, o.Engine, o.Router = msg.Pair, msg.Engine, msg.Router
		acts = a.eng.Reconfigure(now, msg.Engine)
	default:
		return
	}
	a.carryOut(ctx, now, acts)
	a.wake.At(now, a.eng.Wake(now))
	if _, isTick := ctx.Message().(*tick); isTick && len(acts) == 0 {
		return // a tick that did nothing changed nothing worth keeping
	}
	a.box.saved = a.eng.Clone()
}

// step feeds an event that cannot be refused.
func (a *pairActor) step(now time.Time, ev failover.Event) []failover.Action {
	acts, err := a.eng.Step(now, ev)
	if err != nil {
		a.log.Error().Err(err).Msg("engine refused an event")
	}
	return acts
}

func (a *pairActor) carryOut(ctx actor.Context, now time.Time, acts []failover.Action) {
	o := &a.box.opts
	for _, act := range acts {
		switch x := act.(type) {
		case failover.Route:
			ctx.Send(o.Router, &router.Switch{Pair: o.Pair.Name, Epoch: x.Epoch, Crosspoints: Crosspoints(o.Pair, x.To),
				ForceUnlock: x.Force, ReplyTo: ctx.Self(), Sent: now})
		case failover.Transition:
			ev := a.log.Info()
			if x.To == failover.SwitchingToBackup || x.To == failover.SwitchingToMain {
				ev = a.log.Warn()
			}
			if x.Latency > 0 {
				ev = ev.Dur("switch_ms", x.Latency)
			}
			ev.Str("from", x.From.String()).Str("to", x.To.String()).Str("trigger", string(x.Trigger)).
				Str("detail", x.Detail).Msg("pair transition")
		case failover.AlarmRaised:
			a.log.Error().Str("alarm", string(x.Kind)).Msg(x.Message)
		case failover.AlarmCleared:
			a.log.Info().Str("alarm", string(x.Kind)).Msg("alarm cleared")
		case failover.Note:
			a.log.Info().Msg(x.Message)
		default:
			panic(fmt.Sprintf("pair: unknown action %T", act))
		}
		ctx.ActorSystem().EventStream.Publish(&Event{Pair: o.Pair.Name, Time: now, Action: act})
	}
}

// Crosspoints lists every crosspoint that puts side's machine on the pair's outputs.
func Crosspoints(p conf.Pair, side failover.Side) []router.Crosspoint {
	var xs []router.Crosspoint
	for _, f := range p.Feeds {
		in := f.MainInput
		if side == failover.Backup {
			in = f.BackupInput
		}
		for _, out := range f.Outputs {
			xs = append(xs, router.Crosspoint{Output: out, Input: in})
		}
	}
	return xs
}
