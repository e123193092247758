package node

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"standby/protocol/identity"
)

// remoteTypes are protoactor's own messages that Standby's nodes exchange: remote watches (the
// control actor watches its subscribers, ctl watches the control actor) and the answer to a
// message sent to an actor that is gone.
var remoteTypes = map[string]bool{
	"actor.Watch":              true,
	"actor.Unwatch":            true,
	"actor.Terminated":         true,
	"actor.DeadLetterResponse": true,
}

// guard holds the gRPC interceptors that keep a bad peer from crashing the process, and from
// sending what its role may not.
type guard struct {
	log      zerolog.Logger
	throttle *Throttle
	self     string // this node's advertised address: no peer reports on its actors
	tls      bool   // peers are authenticated: messages are checked against their roles
	refused  *Refusals
}

// stream wraps protoactor's Receive stream: every inbound batch is checked before protoactor sees it, and
// a panic left anyway ends that stream only.
func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	from := peerAddr(ss)
	cs := &checkedStream{ServerStream: ss, g: g, from: from}
	if p, ok := peer.FromContext(ss.Context()); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			cs.id, cs.authed = identity.Peer(ti.State)
		}
	}
	if g.tls && !cs.authed {
		// The handshake requires a certificate; this is only reached if that ever changed.
		g.warn(from, "identity", "peer has no standby identity", nil)
		return status.Error(codes.Unauthenticated, "no standby identity")
	}
	defer func() {
		if p := recover(); p != nil {
			g.warn(from, "panic", fmt.Sprint(p), debug.Stack())
			err = status.Errorf(codes.Internal, "panic serving %s", info.FullMethod)
		}
	}()
	return h(srv, cs)
}

// unary recovers panics in protoactor's unary methods, which are unimplemented and panic when called.
func (g *guard) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (resp any, err error) {
	defer func() {
		if p := recover(); p != nil {
			from := "unknown"
			if pr, ok := peer.FromContext(ctx); ok && pr.Addr != nil {
				from = pr.Addr.String()
			}
			g.warn(from, "panic", fmt.Sprint(p), nil)
			resp, err = nil, status.Errorf(codes.Unimplemented, "%s", info.FullMethod)
		}
	}()
	return h(ctx, req)
}

// warn logs a refused or crashed call, at most once a minute per peer host and kind (not per port:
// every reconnect has a new one).
func (g *guard) warn(from, kind, detail string, stack []byte) {
	ok, skipped := g.throttle.Allow(Host(from) + "|" + kind)
	if !ok {
		return
	}
	ev := g.log.Warn().Str("peer", from).Str("problem", detail).Int("suppressed", skipped)
	if stack != nil {
		ev = ev.Bytes("stack", stack)
	}
	ev.Msg("refused inbound remote call")
}

func peerAddr(ss grpc.ServerStream) string {
	if p, ok := peer.FromContext(ss.Context()); ok && p.Addr != nil {
		return p.Addr.String()
	}
	return "unknown"
}

// checkedStream vets each message protoactor reads.
type checkedStream struct {
	grpc.ServerStream
	g      *guard
	from   string
	id     identity.Identity // the peer's certificate's identity, when authed
	authed bool
}

// RecvMsg implements grpc.ServerStream.
func (s *checkedStream) RecvMsg(m any) error {
	if err := s.ServerStream.RecvMsg(m); err != nil {
		return err
	}
	rm, ok := m.(*remote.RemoteMessage)
	if !ok {
		return nil
	}
	b := rm.GetMessageBatch()
	if err := CheckBatch(b); err != nil {
		s.g.warn(s.from, "batch", err.Error(), nil)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	if b != nil {
		s.authorize(b)
	}
	return nil
}

// authorize drops, in place, the envelopes of b its sender may not send: with TLS, a type its
// role may not send or an agent report or command result for a machine its certificate does not name; always, a
// Terminated about one of this node's own actors (only the node hosting an actor reports its
// end; a forged one would make a supervisor forget a live child). Each drop is counted and
// logged at most once a minute per peer and type.
func (s *checkedStream) authorize(b *remote.MessageBatch) {
	keep := b.Envelopes[:0]
	for _, e := range b.Envelopes {
		name := b.TypeNames[e.TypeId]
		if reason := s.refuse(name, e.MessageData); reason != "" {
			role := "unauthenticated"
			if s.authed {
				role = string(s.id.Role)
			}
			s.g.refused.add(name, role)
			s.g.warnRefused(s.from, s.id, name, reason)
			continue
		}
		keep = append(keep, e)
	}
	for i := len(keep); i < len(b.Envelopes); i++ {
		b.Envelopes[i] = nil
	}
	b.Envelopes = keep
}

// refuse says why a message of type name with payload data is not accepted from this peer, or "".
func (s *checkedStream) refuse(name string, data []byte) string {
	if s.g.tls {
		if !identity.MaySend(s.id.Role, name) {
			return "role " + string(s.id.Role) + " may not send " + name
		}
		if name == agentReportType || name == commandResultType {
			// Both carry the machine in field 1: only that machine's agent certificate sends them.
			if m := machineBytes(data); !s.id.Covers(string(m)) {
				return fmt.Sprintf("certificate of %s does not cover machine %q", s.id, clip(string(m), 64))
			}
		}
		if name == agentReportsType {
			// A batch is refused whole if any of its reports names a machine the certificate does not cover.
			// The conversion in the call costs no allocation (Covers keeps nothing).
			if m, ok := batchCovered(data, func(m []byte) bool { return s.id.Covers(string(m)) }); !ok {
				return fmt.Sprintf("certificate of %s does not cover machine %q", s.id, clip(m, 64))
			}
		}
	}
	if name == terminatedType {
		var t actor.Terminated
		if err := proto.Unmarshal(data, &t); err != nil || t.Who == nil || t.Who.Address == s.g.self {
			return "Terminated about an actor of this node"
		}
	}
	return ""
}

const (
	agentReportType   = "standby.v1.AgentReport"
	agentReportsType  = "standby.v1.AgentReports"
	commandResultType = "standby.v1.CommandResult"
	terminatedType    = "actor.Terminated"
)

// batchCovered checks the machine of every report in an AgentReports (field 1, repeated) with
// covers, without decoding the rest. It returns the first machine refused, or ok.
func batchCovered(b []byte, covers func(machine []byte) bool) (refused string, ok bool) {
	ok = bytesFields(b, 1, func(v []byte) bool {
		if m := machineBytes(v); !covers(m) {
			refused = string(m)
			return false
		}
		return true
	})
	return refused, ok && refused == ""
}

// machineBytes is an AgentReport's machine (field 1) as it lies in b, no copy: it runs for every
// report. The last field 1 is the one protobuf decodes, so that is the one checked (a report
// naming a covered machine first and another one after it must not pass as the first). Nil
// for a malformed report.
func machineBytes(b []byte) []byte {
	var m []byte
	if !bytesFields(b, 1, func(v []byte) bool { m = v; return true }) {
		return nil
	}
	return m
}

// bytesFields calls fn with the value of every length-delimited field num of the message b, in
// order, until fn returns false; it reports false for a malformed message or when fn stopped.
func bytesFields(b []byte, num protowire.Number, fn func([]byte) bool) bool {
	for len(b) > 0 {
		n1, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if n1 == num && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 || !fn(v) {
				return false
			}
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(n1, typ, b)
		if n < 0 {
			return false
		}
		b = b[n:]
	}
	return true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// warnRefused logs a refused message at most once a minute per peer host and type.
func (g *guard) warnRefused(from string, id identity.Identity, typeName, reason string) {
	ok, skipped := g.throttle.Allow(Host(from) + "|refused|" + typeName)
	if !ok {
		return
	}
	g.log.Warn().Str("peer", from).Str("identity", id.String()).Str("type", typeName).Str("reason", reason).
		Int("suppressed", skipped).Msg("dropped remote message its sender may not send")
}

// Refusals counts dropped remote messages by type and sender role, for /metrics.
type Refusals struct {
	mu sync.Mutex
	n  map[RefusalKey]uint64
}

// RefusalKey is one counter of Refusals.
type RefusalKey struct{ Type, Role string }

func (r *Refusals) add(typeName, role string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.n == nil {
		r.n = map[RefusalKey]uint64{}
	}
	k := RefusalKey{typeName, role}
	if _, ok := r.n[k]; !ok && len(r.n) >= 256 {
		k = RefusalKey{"other", role} // type names come from the network: bound the table
	}
	r.n[k]++
}

// Snapshot returns the counters.
func (r *Refusals) Snapshot() map[RefusalKey]uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[RefusalKey]uint64, len(r.n))
	for k, v := range r.n {
		out[k] = v
	}
	return out
}

// CheckBatch reports what in a batch would make protoactor's reader panic or misbehave: a type name this
// process has not linked in, or an index outside its table; and what no peer of Standby sends: any
// type outside Standby's protocol but the few protoactor itself exchanges (remoteTypes), so a peer
// cannot stop an actor with actor.Stop or actor.PoisonPill. A nil batch is fine.
func CheckBatch(b *remote.MessageBatch) error {
	if b == nil {
		return nil
	}
	for i, name := range b.TypeNames {
		if !strings.HasPrefix(name, "standby.") && !remoteTypes[name] {
			return fmt.Errorf("%w: message type %s (type %d) is not accepted from a peer", ErrBadBatch, strconv.Quote(name), i)
		}
		if _, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name)); err != nil {
			return fmt.Errorf("%w: unknown message type %s (type %d)", ErrBadBatch, strconv.Quote(name), i)
		}
	}
	for i, e := range b.Envelopes {
		switch {
		case e == nil:
			return fmt.Errorf("%w: envelope %d is empty", ErrBadBatch, i)
		case e.TypeId < 0 || int(e.TypeId) >= len(b.TypeNames):
			return fmt.Errorf("%w: envelope %d: type index %d out of range", ErrBadBatch, i, e.TypeId)
		case e.Target < 0 || int(e.Target) >= len(b.Targets) || b.Targets[e.Target] == nil:
			return fmt.Errorf("%w: envelope %d: target index %d out of range", ErrBadBatch, i, e.Target)
		case e.Sender < 0 || int(e.Sender) > len(b.Senders) || (e.Sender > 0 && b.Senders[e.Sender-1] == nil):
			return fmt.Errorf("%w: envelope %d: sender index %d out of range", ErrBadBatch, i, e.Sender)
		case e.SerializerId != 0:
			// Go senders only use the proto serializer; the JSON one decodes with gogo's jsonpb.
			return fmt.Errorf("%w: envelope %d: serializer %d not accepted", ErrBadBatch, i, e.SerializerId)
		}
	}
	return nil
}

// handshakes wraps the listener's TLS credentials so a refused handshake (no certificate, another
// CA's, an expired one) is counted and logged, at most once a minute per peer host: gRPC itself
// drops it silently.
type handshakes struct {
	credentials.TransportCredentials
	g *guard
}

func (h handshakes) ServerHandshake(c net.Conn) (net.Conn, credentials.AuthInfo, error) {
	conn, info, err := h.TransportCredentials.ServerHandshake(c)
	if err != nil {
		from := c.RemoteAddr().String()
		h.g.refused.add("tls handshake", "unauthenticated")
		if ok, skipped := h.g.throttle.Allow(Host(from) + "|handshake"); ok {
			h.g.log.Warn().Str("peer", from).Str("problem", err.Error()).Int("suppressed", skipped).
				Msg("refused TLS handshake (a peer needs a certificate of this studio's CA)")
		}
	}
	return conn, info, err
}

func (h handshakes) Clone() credentials.TransportCredentials {
	return handshakes{TransportCredentials: h.TransportCredentials.Clone(), g: h.g}
}
