package control

import (
	"context"
	"errors"
	stdlog "log"
	"net"
	"net/http"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/state"
	"standby/actors/supervisor"
)

// Options configure the control surfaces.
type Options struct {
	Logger zerolog.Logger
	// Clock defaults to the wall clock.
	Clock clock.Clock
	// HTTP overrides [supervisor] http, e.g. "127.0.0.1:0" in tests. "off" runs no gateway.
	HTTP string
	// Simulator sets simulated machines; nil means the supervisor's own demo simulation.
	Simulator Simulator
	// Role reports the supervisor-pair role; nil means Standalone.
	Role func() Role
	// Heartbeat is the event stream's heartbeat interval. Default 1s: the panel shows "no contact"
	// after 2 s without an event or heartbeat.
	Heartbeat time.Duration
	// Config is what /metrics tells of the config file (hash, reloads); nil: nothing known.
	Config *ConfigState
	// Version is the binary's version, in the status, /metrics (standby_build_info) and the
	// panel's footer; empty: "unknown".
	Version string
	// Reload reads the config file again and runs it (`standby ctl reload`), as SIGHUP does:
	// the outcome in words, or why it was refused (running config kept). force applies a file
	// that removes every pair or more than half of them. nil: reloads are refused.
	Reload func(by string, force bool) (string, error)
	// ReadTimeout bounds reading a request, body included (a client trickling its body is cut).
	// Default 10s; event streams are exempt once their request is read.
	ReadTimeout time.Duration
}

// Control is the running control surfaces of one supervisor.
type Control struct {
	svc *Service
	hub *Hub
	reg *prometheus.Registry
	pid *actor.PID
	srv *http.Server
	url string
}

// Attach returns the supervisor.Options.OnStart hook that starts the control surfaces.
func Attach(o Options) func(s *supervisor.Supervisor) (func(), error) {
	return func(s *supervisor.Supervisor) (func(), error) {
		c, err := Start(s, o)
		if err != nil {
			return nil, err
		}
		return c.Stop, nil
	}
}

// Start starts the remote control actor and the HTTP gateway.
func Start(s *supervisor.Supervisor, o Options) (*Control, error) {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Role == nil {
		o.Role = func() Role { return Standalone }
		if s.Config().Redundancy.Paired() {
			o.Role = pairedRole(s)
		}
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = 10 * time.Second
	}
	log := o.Logger.With().Str("component", "control").Logger()
	if o.Simulator == nil {
		o.Simulator = s
	}
	hub := newHub(s.System(), o.Clock)
	svc := &Service{sup: s, sim: o.Simulator, role: o.Role, hub: hub, log: log, clock: o.Clock, reload: o.Reload, version: o.Version}
	if svc.version == "" {
		svc.version = "unknown"
	}
	svc.loadDetached()
	if p := state.Problem(s.Config().Supervisor.StateDir); p != "" {
		svc.startWarnings = append(svc.startWarnings, p) // logged by the supervisor's state.Open
	}
	c := &Control{svc: svc, hub: hub, reg: newRegistry(svc, o.Config)}
	hub.seed(s, log)

	pid, err := s.SpawnRoot(ActorName, remoteProps(svc))
	if err != nil {
		hub.Close()
		return nil, err
	}
	c.pid = pid

	addr := o.HTTP
	if addr == "" {
		addr = s.Config().Supervisor.HTTP
	}
	if addr != "off" {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			c.Stop()
			return nil, err
		}
		g := &gateway{svc: svc, heartbeat: o.Heartbeat, prom: metricsHandler(c.reg, log)}
		c.srv = &http.Server{Handler: g.handler(), ReadHeaderTimeout: min(5*time.Second, o.ReadTimeout),
			ReadTimeout: o.ReadTimeout, IdleTimeout: time.Minute,
			MaxHeaderBytes: 16 << 10, ErrorLog: stdlog.New(log.Level(zerolog.WarnLevel), "", 0)}
		c.url = "http://" + ln.Addr().String()
		go func() {
			if err := c.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error().Err(err).Msg("http gateway stopped")
			}
		}()
	}
	log.Info().Str("http", c.url).Str("remote", s.Address()).Str("actor", ActorID).Msg("control surfaces ready")
	return c, nil
}

// URL is the gateway's base URL ("" without one).
func (c *Control) URL() string { return c.url }

// Registry is the Prometheus registry behind /metrics.
func (c *Control) Registry() *prometheus.Registry { return c.reg }

// Service is the operations behind both surfaces.
func (c *Control) Service() *Service { return c.svc }

// Stop ends event streams, stops the gateway and the control actor.
func (c *Control) Stop() {
	c.hub.Close() // ends SSE handlers, so Shutdown does not wait for them
	if c.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if err := c.srv.Shutdown(ctx); err != nil {
			_ = c.srv.Close()
		}
		cancel()
	}
	if c.pid != nil {
		_ = c.svc.sup.System().Root.StopFuture(c.pid).Wait()
	}
}
