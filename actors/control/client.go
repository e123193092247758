package control

import (
	"context"
	"errors"
	"fmt"
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
		if errors.Is(err, actor.ErrDeadLetter) {
			return nil, fmt.Errorf("supervisor %s: no control actor there (is standby run listening on it?): %w", c.target.Address, err)
		}
		return nil, fmt.Errorf("supervisor %s: %w", c.target.Address, err)
	}
	r, ok := res.(*pb.ControlReply)
	if !ok {
		return nil, fmt.Errorf("supervisor %s: unexpected answer %T", c.target.Address, res)
	}
	return r, nil
}

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
