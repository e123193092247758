package agent

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/node"
	"standby/conf"
	"standby/protocol/identity"
	"standby/protocol/pb"
)

// Options configure Run.
type Options struct {
	// Config is the validated agent config. Required.
	Config *conf.Agent
	// Logger receives the agent's log.
	Logger zerolog.Logger
	// Clock stamps reports and state changes. Nil means the wall clock.
	Clock clock.Clock
	// Started, when set, is called with the agent's remote address once it is listening (tests and
	// drivers that send SimSet use it; with listen port 0 it is the only way to learn the port).
	Started func(address string)
}

// Run runs the agent until ctx ends: it starts the remote endpoint, the watchers and the agent actor,
// and stops them all before returning. The error is for what prevents it from starting (bad
// options, the listen address taken).
func Run(ctx context.Context, o Options) error {
	cfg := o.Config
	if cfg == nil {
		return errors.New("agent: no config")
	}
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	log := o.Logger.With().Str("machine", cfg.Name).Logger()

	var creds *identity.Credentials
	if cfg.TLS.Enabled() {
		var err error
		if creds, err = identity.Load(cfg.TLS.Files(), o.Clock.Now()); err != nil {
			return fmt.Errorf("agent: %w", err)
		}
		if !creds.Self.Covers(cfg.Name) {
			return fmt.Errorf("agent: tls cert %s is a certificate of %s, not of the agent of %q", cfg.TLS.Cert, creds.Self, cfg.Name)
		}
	}
	n, err := node.Start(node.Options{
		Listen:    cfg.Listen,
		Advertise: advertise(cfg),
		Logger:    o.Logger,
		Clock:     o.Clock,
		TLS:       creds,
		// Reports and the token go to supervisors only: a server presenting another role is refused.
		Dials: []identity.Role{identity.RoleSupervisor},
	})
	if err != nil {
		return err
	}
	if creds == nil {
		log.Warn().Msg("links are not authenticated: anyone on the network can forge this agent's reports; set up [tls] with `standby certs`")
	}
	defer n.Stop()

	a := newAgentActor(cfg, n.Address(), o.Clock, log)
	pid, err := n.System.Root.SpawnNamed(actor.PropsFromProducer(func() actor.Actor { return a }, actor.WithMailbox(node.GuardedMailbox)), pb.AgentActorID)
	if err != nil {
		return err
	}
	log.Info().Str("address", n.Address()).Uint64("session", a.session).Strs("supervisors", cfg.Supervisors).
		Int("services", len(cfg.Services)).Int("health", len(cfg.Health)).Msg("agent started")
	if o.Started != nil {
		o.Started(n.Address())
	}

	wctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	startWatchers(wctx, &wg, cfg, realHost, o.Clock, func(m any) { n.System.Root.Send(pid, m) })

	<-ctx.Done()
	stop()
	wg.Wait()
	_ = n.System.Root.StopFuture(pid).Wait()
	log.Info().Msg("agent stopped")
	return nil
}

// advertise picks the address supervisors reach the agent at: the configured one, or for a wildcard
// listen the local end of the route to the first supervisor ("" leaves it to node).
func advertise(cfg *conf.Agent) string {
	if cfg.Advertise != "" {
		return cfg.Advertise
	}
	host, _, err := net.SplitHostPort(cfg.Listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return ""
	}
	if len(cfg.Supervisors) > 0 {
		return node.RouteIPv4(cfg.Supervisors[0])
	}
	return ""
}

// newAgentActor builds the agent's state from its config; sim entries start at their configured
// values.
func newAgentActor(cfg *conf.Agent, self string, c clock.Clock, log zerolog.Logger) *agentActor {
	now := c.Now()
	t := &table{}
	var wait time.Duration
	for _, s := range cfg.Services {
		t.services = append(t.services, serviceState{name: s.Name, sim: s.Kind == conf.KindSim})
		wait = max(wait, s.Timeout.Duration)
	}
	for i, s := range cfg.Services {
		if s.Kind == conf.KindSim {
			t.setService(i, s.SimUp(), reasonSimDown, now)
		}
	}
	for i, h := range cfg.Health {
		t.health = append(t.health, healthState{name: h.Name, sim: h.HealthKind() == conf.HealthSim})
		if h.Sim != nil {
			t.setHealth(i, *h.Sim, true, "")
		}
	}
	a := &agentActor{
		machine: cfg.Name, token: cfg.Token, session: newSession(), self: self,
		interval: cfg.HeartbeatInterval.Duration, clock: c, log: log,
		tbl: t, fol: newFollower(cfg.Supervisors, missLimit),
		gated:     true,
		gateUntil: now.Add(wait + 100*time.Millisecond),
		throttle:  node.NewThrottle(time.Minute, c),
	}
	for _, s := range cfg.Supervisors {
		a.gws = append(a.gws, actor.NewPID(s, pb.GatewayActorID))
	}
	a.commands = map[string]*conf.Command{}
	for i := range cfg.Commands {
		a.commands[cfg.Commands[i].Name] = &cfg.Commands[i]
	}
	return a
}

// newSession is a random, non-zero agent incarnation id.
func newSession() uint64 {
	var b [8]byte
	for {
		_, _ = rand.Read(b[:])
		if s := binary.LittleEndian.Uint64(b[:]); s != 0 {
			return s
		}
	}
}

// startWatchers starts one goroutine per non-sim service and health value; each sends its results
// to the agent actor through send.
func startWatchers(ctx context.Context, wg *sync.WaitGroup, cfg *conf.Agent, h host, c clock.Clock, send func(any)) {
	goRun := func(run func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			run(ctx)
		}()
	}
	for i, s := range cfg.Services {
		emit := func(up bool, reason string) { send(&serviceEvent{i: i, up: up, reason: reason, at: c.Now()}) }
		switch s.Kind {
		case conf.KindProcess:
			var find finder
			switch {
			case s.PID != 0:
				find = pidFinder(s.PID)
			case s.PIDFile != "":
				find = pidfileFinder(s.PIDFile)
			default:
				find = matchFinder(h.proc, s.Match)
			}
			goRun((&processWatcher{find: find, interval: s.Interval.Duration, emit: emit}).run)
		case conf.KindTCP, conf.KindHTTP, conf.KindExec:
			var chk check
			switch s.Kind {
			case conf.KindTCP:
				chk = tcpCheck(s.Target)
			case conf.KindHTTP:
				chk = httpCheck(s.URL)
			default:
				chk = execCheck(s.Command)
			}
			type result struct {
				up     bool
				reason string
			}
			goRun(func(ctx context.Context) {
				pollEvery(ctx, s.Timeout.Duration, s.Interval.Duration,
					func(ctx context.Context) result { up, reason := chk(ctx); return result{up, reason} },
					func(r result) { emit(r.up, r.reason) })
			})
		}
	}
	for i, hc := range cfg.Health {
		var smp sampler
		switch hc.HealthKind() {
		case conf.HealthBuiltin:
			smp = h.builtin(hc.Name)
		case conf.HealthCommand:
			smp = commandSampler(hc.Command)
		case conf.HealthURL:
			smp = urlSampler(hc.URL)
		default:
			continue // sim: set through SimSet
		}
		read := func(ctx context.Context) *healthEvent {
			v, err := smp(ctx)
			if err != nil {
				return &healthEvent{i: i, ok: false, reason: err.Error()}
			}
			return &healthEvent{i: i, value: v, ok: true}
		}
		goRun(func(ctx context.Context) {
			pollEvery(ctx, hc.Timeout.Duration, hc.Interval.Duration, read, func(e *healthEvent) { send(e) })
		})
	}
}
