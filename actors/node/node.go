// Package node starts the protoactor ActorSystem and Remote of a Standby process (supervisor, agent,
// tools, tests), the one place where protoactor's traps are worked around:
//
//   - its slog output goes to the process's zerolog logger, at Warn and above by default, tagged
//     lib=protoactor;
//   - a gRPC interceptor checks every inbound batch before protoactor decodes it (an unknown type name or
//     an out-of-range index would crash the process in this protoactor version) and recovers any panic
//     left, so a bad peer costs its own connection only;
//   - gRPC frames are capped at pb.MaxFrameBytes both ways;
//   - dial options always carry transport credentials (WithDialOptions replaces the defaults), plus a
//     keepalive backstop that eventually tears down streams to hung peers;
//   - a failed connect is given up after one 2 s retry (MaxRetryCount = 1) instead of five;
//   - a busy port is an error naming the address, not a panic;
//   - a wildcard listen advertises a reachable host, not 0.0.0.0.
//
// Run one Node per process: two Remotes in one process race inside gRPC's global logger.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"

	"standby/actors/clock"
	"standby/protocol/identity"
	"standby/protocol/pb"
)

func init() {
	// The slog bridge writes record times with this format; the default is whole seconds. Set once here,
	// before any goroutine logs, instead of in Start (a write racing with loggers).
	zerolog.TimeFieldFormat = time.RFC3339Nano
}

// Keepalive backstop: gRPC clients cannot ping more often than every 10 s. Application heartbeats detect
// hung peers; this only makes sure their streams are eventually closed.
const (
	keepaliveTime    = 10 * time.Second
	keepaliveTimeout = 5 * time.Second
)

// Options configure Start.
type Options struct {
	// Listen is the host:port the remote endpoint binds, e.g. "127.0.0.1:7400" or "0.0.0.0:7401". Port 0
	// picks a free port (see Node.Address).
	Listen string
	// Advertise is the address put into this node's PIDs, which peers dial to answer: "host" (the bound
	// port is added) or "host:port". Empty means the listen address or, for a wildcard listen (0.0.0.0,
	// ::, empty host), the first non-loopback IPv4 address of this machine (127.0.0.1 if none).
	Advertise string
	// Logger receives the node's own lines and protoactor's.
	Logger zerolog.Logger
	// LibLevel is the lowest level of protoactor's own lines that is logged. The zero value
	// (zerolog.DebugLevel) means zerolog.WarnLevel; use zerolog.TraceLevel to see everything.
	LibLevel zerolog.Level
	// Clock paces the throttling of the interceptor's log lines. Nil means the wall clock.
	Clock clock.Clock
	// TLS, when set, makes every link of this node mutual TLS with the studio CA: a peer without a
	// certificate from it cannot open a stream, and each message is accepted only from the roles
	// that may send it (identity.MaySend). Nil is plaintext: anyone who reaches the port may send.
	TLS *identity.Credentials
	// Dials are the roles this node may dial with TLS (an agent: supervisors only); empty means any.
	Dials []identity.Role
	// WriterBatch caps how many queued messages to one peer go out in one gRPC message (protoactor
	// sends its whole queue at once, up to 1000). Zero keeps protoactor's default; a node whose
	// messages are large (batches of reports) sets it so a backlog never makes a message larger
	// than the peer accepts (pb.MaxFrameBytes), which would drop it whole.
	WriterBatch int
}

// Node is a started ActorSystem with its Remote.
type Node struct {
	// System is the actor system; spawn the process's actors from System.Root.
	System *actor.ActorSystem
	// Remote is the started remote endpoint.
	Remote *remote.Remote
	// Refused counts the inbound messages dropped because their sender may not send them.
	Refused *Refusals
	// Identity is this node's certificate's identity; zero in plaintext.
	Identity identity.Identity

	log      zerolog.Logger
	stopOnce sync.Once
	stopping *atomic.Bool // set by Stop: protoactor's complaints about closing connections are expected then
}

// Start creates the actor system and starts its remote endpoint on opts.Listen. It returns an error,
// never panics, when the address is malformed or cannot be bound.
func Start(opts Options) (*Node, error) {
	host, port, err := splitListen(opts.Listen)
	if err != nil {
		return nil, err
	}
	// Bind once ourselves: it turns port 0 into a concrete port (needed to advertise it) and a busy port
	// into an error before protoactor would panic on it.
	probe, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return nil, fmt.Errorf("node: cannot listen on %s: %w", opts.Listen, err)
	}
	port = probe.Addr().(*net.TCPAddr).Port
	_ = probe.Close()

	advertise, err := advertised(host, port, opts.Advertise)
	if err != nil {
		return nil, err
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	libLevel := opts.LibLevel
	if libLevel == zerolog.DebugLevel {
		libLevel = zerolog.WarnLevel
	}
	log := opts.Logger.With().Str("node", advertise).Logger()

	stopping := &atomic.Bool{}
	libThrottle := NewThrottle(time.Minute, opts.Clock)
	sys := actor.NewActorSystem(
		actor.WithLoggerFactory(func(s *actor.ActorSystem) *slog.Logger {
			zl := opts.Logger.Level(maxLevel(opts.Logger.GetLevel(), libLevel)).With().
				Str("lib", "protoactor").Str("system", s.ID).Logger()
			return slog.New(libHandler{Handler: zerolog.NewSlogHandler(zl), stopping: stopping, throttle: libThrottle})
		}),
		actor.WithDeadLetterThrottleInterval(time.Minute),
		actor.WithDeadLetterRequestLogging(false),
	)

	const endpointQueue = 4096
	guard := &guard{log: log, throttle: NewThrottle(time.Minute, opts.Clock), self: advertise, tls: opts.TLS != nil,
		refused: &Refusals{}}
	dialCreds, serverCreds := insecure.NewCredentials(), insecure.NewCredentials()
	if opts.TLS != nil {
		dialCreds = credentials.NewTLS(opts.TLS.ClientConfig(opts.Dials...))
		serverCreds = handshakes{TransportCredentials: credentials.NewTLS(opts.TLS.ServerConfig()), g: guard}
	}
	cfg := remote.Configure(remoteHost(host), port,
		remote.WithAdvertisedHost(advertise),
		// protoactor's default queue of 1,000,000 is preallocated per connected peer (~16 MB each);
		// heartbeats never need that depth, and the memory cost GC pauses and RSS (bench/README.md).
		remote.WithEndpointWriterQueueSize(endpointQueue),
		remote.WithEndpointManagerQueueSize(endpointQueue),
		// These two REPLACE protoactor's defaults, so everything goes in one call each.
		remote.WithDialOptions(
			grpc.WithTransportCredentials(dialCreds),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{
				Time: keepaliveTime, Timeout: keepaliveTimeout, PermitWithoutStream: true,
			}),
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(pb.MaxFrameBytes),
				grpc.MaxCallSendMsgSize(pb.MaxFrameBytes),
			),
		),
		remote.WithServerOptions(
			grpc.Creds(serverCreds),
			grpc.MaxRecvMsgSize(pb.MaxFrameBytes),
			grpc.MaxSendMsgSize(pb.MaxFrameBytes),
			// Clients ping every keepaliveTime; the default policy (5 min) would answer with GOAWAY.
			grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{
				MinTime: keepaliveTime / 2, PermitWithoutStream: true,
			}),
			grpc.KeepaliveParams(keepalive.ServerParameters{Time: keepaliveTime, Timeout: keepaliveTimeout}),
			grpc.ChainStreamInterceptor(guard.stream),
			grpc.ChainUnaryInterceptor(guard.unary),
		),
	)
	// Each failed attempt blocks the endpoint writer for a hard-coded 2 s; one attempt is enough, callers
	// resend on their own heartbeat. 0 would never report the endpoint dead.
	cfg.MaxRetryCount = 1
	if opts.WriterBatch > 0 {
		cfg.EndpointWriterBatchSize = opts.WriterBatch
	}

	r := remote.NewRemote(sys, cfg)
	if err := startRemote(r); err != nil {
		sys.Shutdown()
		return nil, fmt.Errorf("node: cannot listen on %s: %w", opts.Listen, err)
	}
	log.Debug().Str("listen", opts.Listen).Msg("remote endpoint started")
	n := &Node{System: sys, Remote: r, Refused: guard.refused, log: log, stopping: stopping}
	if opts.TLS != nil {
		n.Identity = opts.TLS.Self
	}
	return n, nil
}

// Address is the advertised host:port of this node, the address in its PIDs.
func (n *Node) Address() string { return n.System.Address() }

// writerStopWait bounds how long Stop waits for protoactor's endpoint writers.
const writerStopWait = 3 * time.Second

// Stopping tells the node that its process is shutting down: peers going away from now on are
// expected, so protoactor's complaints about lost connections are logged at debug. Stop implies it;
// call it first when the process stops other things (its agents, say) before the node.
func (n *Node) Stopping() { n.stopping.Store(true) }

// Stop closes the remote endpoint and shuts the actor system down: the server first (every
// inbound stream ends at once; peers see the connection drop, as for any peer that goes away),
// then protoactor's endpoint writers, which close this node's outbound connections. Stop the
// actors you spawned first if their Stopping handlers matter. Safe to call more than once.
//
// It does not use protoactor's graceful shutdown: that sends on a channel each stream reader
// closes when its peer leaves, so a peer leaving at the same moment is a send on a closed channel
// (reported by -race, and a panic when it loses the race), and it waits up to 10 s for peers.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		n.stopping.Store(true)
		func() {
			defer func() {
				if p := recover(); p != nil {
					n.log.Debug().Str("panic", fmt.Sprint(p)).Msg("protoactor panicked while stopping")
				}
			}()
			n.Remote.Shutdown(false)
		}()
		// protoactor's names for the parents of its endpoint writers and remote spawner. A writer
		// in its 2 s connect-retry sleep holds its stop; a process that is exiting does not wait
		// longer than writerStopWait for it.
		done := make(chan struct{})
		go func() {
			defer close(done)
			for _, id := range []string{"EndpointSupervisor", "activator"} {
				_ = n.System.Root.StopFuture(actor.NewPID(n.System.Address(), id)).Wait()
			}
		}()
		select {
		case <-done:
		case <-time.After(writerStopWait):
			n.log.Debug().Msg("protoactor's endpoint writers did not stop in time; leaving them")
		}
		n.System.Shutdown()
		n.log.Debug().Msg("remote endpoint stopped")
	})
}

// libHandler tames protoactor's own log records. Once the node is stopping they become debug
// records: every connection it closes then is logged as an error ("EndpointWriter lost
// connection"), which on a clean stop would alarm whoever reads the log. While it runs, a warning
// or error repeated for the same peer is logged at most once a minute with a count of those held
// back: an agent whose supervisor is down for maintenance would otherwise log every retry.
type libHandler struct {
	slog.Handler
	stopping *atomic.Bool
	throttle *Throttle
}

func (h libHandler) Enabled(ctx context.Context, l slog.Level) bool {
	if h.stopping.Load() {
		l = slog.LevelDebug
	}
	return h.Handler.Enabled(ctx, l)
}

func (h libHandler) Handle(ctx context.Context, r slog.Record) error {
	if h.stopping.Load() {
		r.Level = slog.LevelDebug
		return h.Handler.Handle(ctx, r)
	}
	if r.Level >= slog.LevelWarn {
		key := r.Level.String() + "|" + r.Message
		r.Attrs(func(a slog.Attr) bool {
			if a.Key == "address" {
				key += "|" + Host(a.Value.String()) // a restarting peer has a new port each time
			}
			return true
		})
		ok, skipped := h.throttle.Allow(key)
		if !ok {
			return nil
		}
		if skipped > 0 {
			r.AddAttrs(slog.Int("suppressed", skipped))
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h libHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return libHandler{Handler: h.Handler.WithAttrs(as), stopping: h.stopping, throttle: h.throttle}
}

func (h libHandler) WithGroup(name string) slog.Handler {
	return libHandler{Handler: h.Handler.WithGroup(name), stopping: h.stopping, throttle: h.throttle}
}

// startRemote runs Remote.Start, which panics when it cannot bind (the port was taken between our
// probe and its listen).
func startRemote(r *remote.Remote) (err error) {
	defer func() {
		if p := recover(); p != nil {
			if e, ok := p.(error); ok {
				err = e
				return
			}
			err = fmt.Errorf("%v", p)
		}
	}()
	r.Start()
	return nil
}

// splitListen checks a listen address; the host may be empty (all interfaces).
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("node: listen address %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("node: listen address %q: bad port %q", listen, p)
	}
	return host, port, nil
}

// remoteHost brackets an IPv6 host: protoactor joins host and port with a bare colon.
func remoteHost(host string) string {
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		return "[" + host + "]"
	}
	return host
}

// advertised picks the host:port to put into PIDs.
func advertised(host string, port int, adv string) (string, error) {
	if adv != "" {
		if h, p, err := net.SplitHostPort(adv); err == nil {
			if n, err := strconv.Atoi(p); err != nil || n <= 0 || n > 65535 || h == "" {
				return "", fmt.Errorf("node: advertise address %q is not host:port", adv)
			}
			return adv, nil
		}
		return net.JoinHostPort(adv, strconv.Itoa(port)), nil
	}
	if !isWildcard(host) {
		return net.JoinHostPort(host, strconv.Itoa(port)), nil
	}
	return net.JoinHostPort(LocalIPv4(), strconv.Itoa(port)), nil
}

func isWildcard(host string) bool {
	if host == "" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsUnspecified()
}

// LocalIPv4 is the first non-loopback IPv4 address of an up interface, or 127.0.0.1 when there is none.
func LocalIPv4() string {
	ifs, err := net.Interfaces()
	if err != nil {
		return "127.0.0.1"
	}
	for _, ifc := range ifs {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok {
				if ip4 := ipn.IP.To4(); ip4 != nil && !ip4.IsLoopback() && !ip4.IsLinkLocalUnicast() {
					return ip4.String()
				}
			}
		}
	}
	return "127.0.0.1"
}

// RouteIPv4 is the local address this machine would use to reach target (host:port), found without
// sending a packet; "" when there is no route. Agents use it to advertise the address their
// supervisors can reach.
func RouteIPv4(target string) string {
	c, err := net.Dial("udp", target)
	if err != nil {
		return ""
	}
	defer c.Close()
	ua, ok := c.LocalAddr().(*net.UDPAddr)
	if !ok || ua.IP.IsUnspecified() {
		return ""
	}
	return ua.IP.String()
}

func maxLevel(a, b zerolog.Level) zerolog.Level {
	if a > b {
		return a
	}
	return b
}

// ErrBadBatch is returned to a peer whose batch was refused before decoding.
var ErrBadBatch = errors.New("node: malformed message batch")
