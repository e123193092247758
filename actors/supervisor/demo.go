package supervisor

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/machine"
	"standby/conf"
)

// demoBeat is the heartbeat interval of simulated machines, as an agent's default.
const demoBeat = 50 * time.Millisecond

// demoDriver plays the [demo] script against the simulated machines of the demo studio, step by
// step, in a loop. With demo agent processes it sets their simulated services over remote;
// without (tests, no remote endpoint) it sends each machine's reports itself, as its agent would.
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
	cancel   func()
	sched    *scheduler.TimerScheduler
}

type demoTick struct{}
type demoStep struct{ index int }

// simSet changes a simulated machine at run time (control surfaces, tests); answered with an error or nil.
type simSet struct {
	machine string
	service string
	up      bool
	health  string
	value   float64
	silent  *bool
}

type simSetReply struct{ err error }

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
		root, self := ctx.ActorSystem().Root, ctx.Self()
		d.cancel = clock.Repeat(0, demoBeat, func() { root.Send(self, &demoTick{}) })
		d.schedule(ctx, 0)
	case *actor.Stopping:
		if d.cancel != nil {
			d.cancel()
		}
	case *demoTick:
		if len(d.sup.agents) > 0 {
			return // the agent processes beat on their own
		}
		for _, name := range sortedNames(d.machines) {
			d.report(ctx, name, false)
		}
	case *demoStep:
		st := d.cfg.Demo.Steps[msg.index]
		d.set(ctx, &simSet{machine: st.Machine, service: st.Service, up: st.Up, health: st.Health, value: st.Value, silent: st.Silent}, "demo script")
		d.schedule(ctx, (msg.index+1)%len(d.cfg.Demo.Steps))
	case *simSet:
		ctx.Respond(&simSetReply{err: d.set(ctx, msg, "operator")})
	}
}

// set applies one change to a simulated machine and reports it at once, as an agent would.
func (d *demoActor) set(ctx actor.Context, s *simSet, by string) error {
	sm := d.machines[s.machine]
	if sm == nil {
		return fmt.Errorf("%q is not a simulated machine", s.machine)
	}
	ev := d.log.Info().Str("machine", s.machine).Str("by", by)
	switch {
	case s.service != "":
		if _, ok := sm.services[s.service]; !ok {
			return fmt.Errorf("machine %q has no simulated service %q (engine, videoio)", s.machine, s.service)
		}
		sm.services[s.service] = s.up
		ev.Str("service", s.service).Bool("up", s.up).Msg("simulated service set")
	case s.health != "":
		sm.health[s.health] = s.value
		ev.Str("health", s.health).Float64("value", s.value).Msg("simulated health value set")
	case s.silent != nil:
		sm.silent = *s.silent
		ev.Bool("silent", sm.silent).Msg("simulated network silence set")
	default:
		return fmt.Errorf("nothing to set")
	}
	if a := d.sup.agents[s.machine]; a != nil {
		return a.set(ctx.ActorSystem(), d.cfg.Supervisor.AgentToken, s)
	}
	d.report(ctx, s.machine, true)
	return nil
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
	r := &machine.Report{Machine: name, Session: d.session, Seq: sm.seq, Change: change, From: "demo driver"}
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

// ErrNoSimulation: the config has no simulated machines.
var ErrNoSimulation = errors.New("no simulated machines in this config")

// SimulateService sets a service of a simulated machine (simulated = true) up or down.
func (s *Supervisor) SimulateService(machineName, service string, up bool) error {
	return s.simulateSet(&simSet{machine: machineName, service: service, up: up})
}

// SimulateHealth sets a health value of a simulated machine.
func (s *Supervisor) SimulateHealth(machineName, health string, value float64) error {
	return s.simulateSet(&simSet{machine: machineName, health: health, value: value})
}

// SimulateSilence stops (true) or resumes the heartbeats of a simulated machine.
func (s *Supervisor) SimulateSilence(machineName string, silent bool) error {
	return s.simulateSet(&simSet{machine: machineName, silent: &silent})
}

func (s *Supervisor) simulateSet(m *simSet) error {
	s.mu.Lock()
	sim := s.sim
	s.mu.Unlock()
	if sim == nil {
		return ErrNoSimulation
	}
	res, err := s.sys.Root.RequestFuture(sim.pid, m, 2*time.Second).Result()
	if err != nil {
		return err
	}
	return res.(*simSetReply).err
}
