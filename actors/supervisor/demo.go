package supervisor

import (
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/rs/zerolog"

	"standby/actors/machine"
	"standby/conf"
)

// demoBeat is the heartbeat interval of simulated machines, as an agent's default.
const demoBeat = 50 * time.Millisecond

// demoDriver plays the [demo] script against the simulated machines of the demo studio: it
// sends each one's reports as its agent would, and changes them step by step, in a loop.
type demoDriver struct {
	sys *actor.ActorSystem
	pid *actor.PID
}

type simMachine struct {
	services map[string]bool
	health   map[string]float64
	silent   bool
	seq      uint64
}

type demoActor struct {
	sup      *Supervisor
	cfg      *conf.Config
	log      zerolog.Logger
	machines map[string]*simMachine
	next     int
	session  uint64
	cancel   scheduler.CancelFunc
	sched    *scheduler.TimerScheduler
}

type demoTick struct{}
type demoStep struct{ index int }

func startDemo(s *Supervisor, cfg *conf.Config) *demoDriver {
	props := actor.PropsFromProducer(func() actor.Actor {
		return &demoActor{sup: s, cfg: cfg, log: s.log.With().Str("component", "demo").Logger()}
	})
	pid := s.sys.Root.Spawn(props)
	return &demoDriver{sys: s.sys, pid: pid}
}

func (d *demoDriver) stop() { _ = d.sys.Root.StopFuture(d.pid).Wait() }

func (d *demoActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		d.session = uint64(d.sup.opts.Clock.Now().UnixNano())
		d.machines = map[string]*simMachine{}
		for _, m := range d.cfg.Machines {
			if !m.Simulated {
				continue
			}
			sm := &simMachine{services: map[string]bool{"engine": true, "videoio": true}, health: map[string]float64{}}
			for name := range m.Health {
				sm.health[name] = 55
			}
			d.machines[m.Name] = sm
		}
		d.sched = scheduler.NewTimerScheduler(ctx.ActorSystem().Root)
		d.cancel = d.sched.SendRepeatedly(0, demoBeat, ctx.Self(), &demoTick{})
		d.schedule(ctx, 0)
	case *actor.Stopping:
		if d.cancel != nil {
			d.cancel()
		}
	case *demoTick:
		for _, name := range sortedNames(d.machines) {
			d.report(ctx, name, false)
		}
	case *demoStep:
		st := d.cfg.Demo.Steps[msg.index]
		sm := d.machines[st.Machine]
		ev := d.log.Info().Str("machine", st.Machine)
		switch {
		case st.Service != "":
			sm.services[st.Service] = st.Up
			ev.Str("service", st.Service).Bool("up", st.Up).Msg("demo: set service")
		case st.Health != "":
			sm.health[st.Health] = st.Value
			ev.Str("health", st.Health).Float64("value", st.Value).Msg("demo: set health value")
		case st.Silent != nil:
			sm.silent = *st.Silent
			ev.Bool("silent", sm.silent).Msg("demo: set network silence")
		}
		d.report(ctx, st.Machine, true)
		d.schedule(ctx, (msg.index+1)%len(d.cfg.Demo.Steps))
	}
}

func (d *demoActor) schedule(ctx actor.Context, i int) {
	if len(d.cfg.Demo.Steps) == 0 {
		return
	}
	d.sched.SendOnce(d.cfg.Demo.Steps[i].After.Duration, ctx.Self(), &demoStep{index: i})
}

func (d *demoActor) report(ctx actor.Context, name string, change bool) {
	sm := d.machines[name]
	if sm.silent {
		return
	}
	sm.seq++
	r := &machine.Report{Machine: name, Session: d.session, Seq: sm.seq, Change: change}
	for _, svc := range []string{"engine", "videoio"} {
		up := sm.services[svc]
		reason := ""
		if !up {
			reason = "simulated failure"
		}
		r.Services = append(r.Services, machine.Service{Name: svc, Up: up, Reason: reason})
	}
	for _, h := range sortedNames(sm.health) {
		r.Health = append(r.Health, machine.Reading{Name: h, Value: sm.health[h], OK: true})
	}
	ctx.Send(d.sup.PID(MachinesDir, name), r)
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
