package control

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/protocol/pb"
)

// ActorName is the control actor's name under the supervisor's root; its PID id is ActorID.
const (
	ActorName = "control"
	ActorID   = "standby/" + ActorName
)

// Limits of the remote surface.
const (
	// Lease is how long a subscription lasts without renewal; clients renew every Lease/3. It
	// expires subscribers whose node hangs (a dead node is noticed at once through Watch).
	Lease = 30 * time.Second
	// maxSubscribers caps remote subscriptions.
	maxSubscribers = 64
	// maxInFlight caps requests being executed at once (a switch waits for the router).
	maxInFlight = 32
	// maxAddrLen caps a subscriber's address and id.
	maxAddrLen = 256
)

// remoteActor is the thin remote shell over Service: requests run on their own goroutine (a switch
// waits for the router; a status must not wait behind it) and their replies go straight to the
// requester; subscriptions live here.
type remoteActor struct {
	svc      *Service
	log      zerolog.Logger
	subs     map[string]*subscriber
	inflight chan struct{}
	stopHub  func()
	stopTick func()
}

type subscriber struct {
	pid      *actor.PID
	operator string
	renewed  time.Time
}

type expireTick struct{}

// hubEvent carries the hub's events to the actor in a type no peer can send: a ControlEvent from
// the network is not relayed to subscribers as if this supervisor had said it.
type hubEvent struct{ e *pb.ControlEvent }

func remoteProps(svc *Service) *actor.Props {
	return actor.PropsFromProducer(func() actor.Actor {
		return &remoteActor{svc: svc, log: svc.log, subs: map[string]*subscriber{},
			inflight: make(chan struct{}, maxInFlight)}
	})
}

func (a *remoteActor) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		events, stop := a.svc.hub.Subscribe(1024)
		a.stopHub = stop
		self, root := ctx.Self(), ctx.ActorSystem().Root
		go func() {
			for e := range events {
				root.Send(self, hubEvent{e})
			}
		}()
		a.stopTick = clock.Repeat(Lease/3, Lease/3, func() { root.Send(self, &expireTick{}) })
	case *actor.Stopping, *actor.Restarting:
		if a.stopHub != nil {
			a.stopHub()
		}
		if a.stopTick != nil {
			a.stopTick()
			a.stopTick = nil
		}
	case *pb.ControlRequest:
		a.expire(ctx) // also here, so a lease ends on time whatever the tick's phase
		a.handle(ctx, msg)
	case hubEvent:
		for _, s := range a.subs {
			ctx.Send(s.pid, msg.e)
		}
	case *actor.Terminated:
		for k, s := range a.subs {
			if s.pid.Equal(msg.Who) {
				delete(a.subs, k)
				a.log.Info().Str("subscriber", k).Str("operator", s.operator).Msg("subscriber gone")
			}
		}
	case *expireTick:
		a.expire(ctx)
	}
}

// expire drops subscriptions not renewed within Lease (their node hangs, or forgot them).
func (a *remoteActor) expire(ctx actor.Context) {
	now := a.svc.clock.Now()
	for k, s := range a.subs {
		if now.Sub(s.renewed) > Lease {
			delete(a.subs, k)
			ctx.Unwatch(s.pid)
			a.log.Info().Str("subscriber", k).Str("operator", s.operator).Msg("subscription expired")
		}
	}
}

func (a *remoteActor) handle(ctx actor.Context, req *pb.ControlRequest) {
	sender := ctx.Sender()
	if sender == nil {
		return // nobody to answer; a request without a reply address changes nothing
	}
	switch op := req.GetOp().(type) {
	case *pb.ControlRequest_Subscribe:
		ctx.Respond(a.subscribe(ctx, req.GetToken(), op.Subscribe.GetAddress(), op.Subscribe.GetId()))
		return
	case *pb.ControlRequest_Unsubscribe:
		ctx.Respond(a.unsubscribe(ctx, req.GetToken(), op.Unsubscribe.GetAddress(), op.Unsubscribe.GetId()))
		return
	}
	select {
	case a.inflight <- struct{}{}:
	default:
		ctx.Respond(refusal(pb.Code_CODE_BUSY, "busy: %d requests in progress; try again", maxInFlight))
		return
	}
	root := ctx.ActorSystem().Root
	go func() {
		defer func() { <-a.inflight }()
		root.Send(sender, a.svc.Do("remote", req))
	}()
}

func (a *remoteActor) subscribe(ctx actor.Context, token, address, id string) *pb.ControlReply {
	who, refused := a.svc.Authorize("remote", token, OpWatch)
	if refused != nil {
		return refused
	}
	if address == "" || id == "" || len(address) > maxAddrLen || len(id) > maxAddrLen {
		return refusal(pb.Code_CODE_BAD_REQUEST, "subscribe: address and id of the receiving actor are required (at most %d bytes each)", maxAddrLen)
	}
	key := address + "/" + id
	now := a.svc.clock.Now()
	if s, ok := a.subs[key]; ok {
		s.renewed = now
	} else {
		if len(a.subs) >= maxSubscribers {
			return refusal(pb.Code_CODE_BUSY, "too many subscribers (%d)", maxSubscribers)
		}
		pid := actor.NewPID(address, id)
		a.subs[key] = &subscriber{pid: pid, operator: who.Name, renewed: now}
		ctx.Watch(pid)
		a.log.Info().Str("subscriber", key).Str("operator", who.Name).Msg("subscriber added")
	}
	return &pb.ControlReply{Ok: true, Operator: who.Name, Level: int32(who.Level), LeaseMs: Lease.Milliseconds()}
}

func (a *remoteActor) unsubscribe(ctx actor.Context, token, address, id string) *pb.ControlReply {
	who, refused := a.svc.Authorize("remote", token, OpWatch)
	if refused != nil {
		return refused
	}
	key := address + "/" + id
	if s, ok := a.subs[key]; ok {
		delete(a.subs, key)
		ctx.Unwatch(s.pid)
	}
	return &pb.ControlReply{Ok: true, Operator: who.Name, Level: int32(who.Level)}
}
