package control

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/protocol/pb"
)

// Client speaks to a supervisor's control actor over protoactor remote, as `standby ctl` does.
// Its actor system must run a remote endpoint the supervisor can reach: replies come back over a
// connection the supervisor dials.
type Client struct {
	sys     *actor.ActorSystem
	target  *actor.PID
	token   string
	timeout time.Duration
}

// NewClient returns a client of the supervisor whose remote endpoint is addr (host:port).
// timeout bounds each request; a switch is answered once the router confirmed it.
func NewClient(sys *actor.ActorSystem, addr, token string, timeout time.Duration) *Client {
	return &Client{sys: sys, target: actor.NewPID(addr, ActorID), token: token, timeout: timeout}
}

// Do sends one request and returns the reply. The error is for transport problems only; a
// refusal is a reply with ok false.
func (c *Client) Do(req *pb.ControlRequest) (*pb.ControlReply, error) {
	req.Token = c.token
	res, err := c.sys.Root.RequestFuture(c.target, req, c.timeout).Result()
	if err != nil {
		// protoactor's own words ("future: timeout") mean nothing to an operator.
		switch {
		case errors.Is(err, actor.ErrDeadLetter):
			return nil, &transportError{fmt.Sprintf("supervisor %s: no control actor there (is standby run listening on it?)", c.target.Address), err}
		case errors.Is(err, actor.ErrTimeout):
			return nil, &transportError{fmt.Sprintf("supervisor %s: no answer within %s", c.target.Address, c.timeout), err}
		}
		return nil, fmt.Errorf("supervisor %s: %w", c.target.Address, err)
	}
	r, ok := res.(*pb.ControlReply)
	if !ok {
		return nil, fmt.Errorf("supervisor %s: unexpected answer %T", c.target.Address, res)
	}
	return r, nil
}

// transportError says what went wrong in words and keeps the library's error for errors.Is.
type transportError struct {
	msg string
	err error
}

func (e *transportError) Error() string { return e.msg }
func (e *transportError) Unwrap() error { return e.err }

// ErrSupervisorGone ends Watch when the supervisor's control actor stops or its node goes away.
var ErrSupervisorGone = errors.New("the supervisor went away")

// RefusedError is a refusal as an error (Watch's subscription).
type RefusedError struct{ Reply *pb.ControlReply }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("%s: %s", CodeName(e.Reply.Code), e.Reply.Reason)
}

// Watch subscribes and calls fn with every event until ctx ends (nil), the supervisor goes away
// (ErrSupervisorGone) or refuses (*RefusedError). It renews the subscription every Lease/3.
func (c *Client) Watch(ctx context.Context, fn func(*pb.ControlEvent)) error {
	events := make(chan *pb.ControlEvent, 1024)
	gone := make(chan struct{})
	var closed bool
	pid := c.sys.Root.Spawn(actor.PropsFromFunc(func(actx actor.Context) {
		switch m := actx.Message().(type) {
		case *actor.Started:
			actx.Watch(c.target)
		case *pb.ControlEvent:
			select {
			case events <- m:
			default: // the printer fell behind; seq gaps show it
			}
		case *actor.Terminated:
			if m.Who.Equal(c.target) && !closed {
				closed = true
				close(gone)
			}
		}
	}))
	defer func() { _ = c.sys.Root.StopFuture(pid).Wait() }()
	subscribe := func() error {
		r, err := c.Do(&pb.ControlRequest{Op: &pb.ControlRequest_Subscribe{Subscribe: &pb.ControlRequest_SubscribeOp{Address: pid.Address, Id: pid.Id}}})
		if err != nil {
			return err
		}
		if !r.Ok {
			return &RefusedError{Reply: r}
		}
		return nil
	}
	if err := subscribe(); err != nil {
		return err
	}
	defer func() {
		select {
		case <-gone:
			return // nobody to tell
		default:
		}
		_, _ = c.Do(&pb.ControlRequest{Op: &pb.ControlRequest_Unsubscribe{Unsubscribe: &pb.ControlRequest_UnsubscribeOp{Address: pid.Address, Id: pid.Id}}})
	}()
	renew := time.NewTicker(Lease / 3)
	defer renew.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-gone:
			return ErrSupervisorGone
		case e := <-events:
			fn(e)
		case <-renew.C:
			if err := subscribe(); err != nil {
				return err
			}
		}
	}
}

// ProbeTimeout bounds Probe: an operator learns within it that nobody answers.
const ProbeTimeout = 2 * time.Second

// Probe checks that something accepts connections at a supervisor's remote endpoint addr (and,
// with tlsConf, completes a TLS handshake as this client) before a request is sent: protoactor
// only times a request out, so an unreachable supervisor would otherwise read "future: timeout"
// after the whole request timeout. The error is one line naming addr ("no supervisor at
// 127.0.0.1:7400: connection refused").
func Probe(ctx context.Context, addr string, tlsConf *tls.Config, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("no supervisor at %s: %s", addr, dialReason(err, timeout))
	}
	defer conn.Close()
	if tlsConf == nil {
		return plaintextProbe(ctx, conn, addr)
	}
	cfg := tlsConf.Clone()
	cfg.NextProtos = []string{"h2"} // gRPC's, so the supervisor takes it for a client of its own
	tc := tls.Client(conn, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return fmt.Errorf("supervisor at %s: TLS handshake failed: %s", addr, dialReason(err, timeout))
	}
	return tc.Close()
}

// http2Preface opens an HTTP/2 (gRPC) connection; a plaintext gRPC server answers it with its
// SETTINGS frame, a TLS one takes it for a broken handshake and hangs up.
const http2Preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

// plaintextProbe tells a supervisor that requires TLS from a plaintext one, so a client without
// a certificate learns it at once instead of after the request's timeout. Anything it cannot
// tell (no answer yet) is left to the request.
func plaintextProbe(ctx context.Context, conn net.Conn, addr string) error {
	if d, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(d)
	}
	if _, err := conn.Write([]byte(http2Preface)); err != nil {
		return nil
	}
	var frame [9]byte
	_, err := io.ReadFull(conn, frame[:])
	var ne net.Error
	if err == nil || errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	return fmt.Errorf("supervisor at %s hung up on a plaintext client: it requires TLS (pass --tls-dir DIR --as NAME, or $STANDBY_TLS_DIR)", addr)
}

// dialReason is the short cause of a failed dial ("connection refused") without Go's op/address
// prefixes.
func dialReason(err error, timeout time.Duration) string {
	var errno syscall.Errno
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, syscall.ETIMEDOUT):
		return fmt.Sprintf("no answer within %s", timeout)
	case errors.As(err, &errno):
		return errno.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "unknown host " + dns.Name
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}
