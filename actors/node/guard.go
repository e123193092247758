package node

import (
	"context"
	"fmt"
	"net"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
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

// guard holds the gRPC interceptors that keep a bad peer from crashing the process.
type guard struct {
	log      zerolog.Logger
	throttle *Throttle
}

// stream wraps protoactor's Receive stream: every inbound batch is checked before protoactor sees it, and
// a panic left anyway ends that stream only.
func (g *guard) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) (err error) {
	from := peerAddr(ss)
	defer func() {
		if p := recover(); p != nil {
			g.warn(from, "panic", fmt.Sprint(p), debug.Stack())
			err = status.Errorf(codes.Internal, "panic serving %s", info.FullMethod)
		}
	}()
	return h(srv, &checkedStream{ServerStream: ss, g: g, from: from})
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
	host := from
	if h, _, err := net.SplitHostPort(from); err == nil {
		host = h
	}
	ok, skipped := g.throttle.Allow(host + "|" + kind)
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
	g    *guard
	from string
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
	if err := CheckBatch(rm.GetMessageBatch()); err != nil {
		s.g.warn(s.from, "batch", err.Error(), nil)
		return status.Error(codes.InvalidArgument, err.Error())
	}
	return nil
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
