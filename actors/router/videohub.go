package router

import (
	"context"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/conf"
	vh "standby/protocol/videohub"
)

// VideohubOptions configure a Videohub router actor.
type VideohubOptions struct {
	Router conf.Router
	Clock  clock.Clock
	Log    zerolog.Logger
	// RedialInterval is how often a router that cannot be reached (nothing accepts the
	// connection) is dialled again, so one that comes back is reconnected within it. Default 100ms.
	RedialInterval time.Duration
	// BackoffMin and BackoffMax bound the delay before reconnecting after the router ended an
	// established connection (EOF, reset); it doubles for each such session that lasted less than
	// Stable (a router that accepts and then hangs up is not redialled 10 times a second) and
	// starts again at BackoffMin after one that lasted longer. A connection given up for silence
	// is redialled after BackoffMin. Defaults 50ms, 5s and 10s.
	BackoffMin, BackoffMax, Stable time.Duration
}

// GetMirror asks the router actor for a copy of its Mirror and Status (answered with a *Snapshot).
type GetMirror struct{}

// Snapshot is a copy of the router actor's view.
type Snapshot struct {
	Status Status
	Mirror *Mirror
}

// SetLock asks the router to set an output's lock (O take, U release, F force-unlock); answered
// with a *Result whose OK says ACK.
type SetLock struct {
	Output conf.Port
	State  vh.LockState
}

// Change is published on the event stream for every routing, label or lock block the router
// sends, for `standby router watch` and the control surfaces.
type Change struct {
	Router string
	Block  vh.Block
	Mirror *Mirror // a copy after the change
}

// VideohubProps returns the props of the router actor.
func VideohubProps(o VideohubOptions) *actor.Props {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.BackoffMin <= 0 {
		o.BackoffMin = 50 * time.Millisecond
	}
	if o.BackoffMax <= 0 {
		o.BackoffMax = 5 * time.Second
	}
	if o.RedialInterval <= 0 {
		o.RedialInterval = 100 * time.Millisecond
	}
	if o.Stable <= 0 {
		o.Stable = 10 * time.Second
	}
	return actor.PropsFromProducer(func() actor.Actor { return &videohub{o: o, mirror: NewMirror()} })
}

// Messages from the connection goroutines, tagged with the connection generation so anything
// from a dropped connection is ignored.
type (
	vhTick   struct{ gen uint64 }
	vhDialed struct {
		gen  uint64
		conn net.Conn
		err  error
	}
	vhBlock struct {
		gen   uint64
		block vh.Block
	}
	vhReadErr struct {
		gen uint64
		err error
	}
	// vhRetry: the delay before the next dial is over (timed exactly, not on the tick).
	// seq tells it from an earlier retry's timer, overtaken by the tick (the injected clock's
	// way to the same deadline): that one must not cut the next delay short.
	vhRetry struct{ gen, seq uint64 }
	// vhDumpDue: the routing push after an ACK did not come in time; ask for the routing dump.
	vhDumpDue struct {
		gen uint64
		sw  *pendingSwitch
	}
)

// pushWait is how long after an ACK the routing push may take before the routing is dumped to
// settle an ACK-without-change.
const pushWait = 20 * time.Millisecond

// request is a block sent and awaiting its ACK or NAK; the router answers in order.
type request struct {
	kind  requestKind
	sw    *pendingSwitch
	reply *actor.PID // SetLock requester
}

type requestKind int

const (
	reqPing requestKind = iota
	reqRoute
	reqDump
	reqLock
)

type pendingSwitch struct {
	req      *Switch
	want     map[int]int // output → input, 0-based
	deadline time.Time
	acked    bool
	retried  bool
	done     bool
}

var tickGens atomic.Uint64

type videohub struct {
	o      VideohubOptions
	log    zerolog.Logger
	self   *actor.PID
	sys    *actor.ActorSystem
	cancel func()
	sched  *scheduler.TimerScheduler
	tickG  uint64

	gen        uint64 // connection generation
	conn       net.Conn
	dialCancel context.CancelFunc
	status     Status
	mirror     *Mirror
	ready      bool
	queue      []request
	dumpWait   []*pendingSwitch // switches waiting for the routing dump after its ACK
	switches   []*pendingSwitch
	lastRx     time.Time
	lastPing   time.Time
	backoff    time.Duration // before redialling after a dropped session; 0: BackoffMin next
	retryAt    time.Time
	retrySeq   uint64    // of the pending retry's timer (vhRetry)
	connAt     time.Time // when the current (or last) session was established
	// routerClosed: the connection being dropped was ended by the router (EOF, reset), not
	// given up by us for its silence; only those grow the backoff.
	routerClosed bool
	subs         map[string]*Subscribe // by subscriber PID id
	claimed      map[int]bool          // outputs we took O locks on for claims
	shared       *Mirror               // the last Routing sent; nil when the mirror changed since
}

func (v *videohub) Receive(ctx actor.Context) {
	now := v.o.Clock.Now()
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		v.log = v.o.Log.With().Str("address", v.o.Router.Address).Logger()
		v.self, v.sys = ctx.Self(), ctx.ActorSystem()
		v.subs, v.claimed = map[string]*Subscribe{}, map[int]bool{}
		v.status = Status{Router: v.o.Router.Name}
		every := v.o.Router.PingInterval.Duration / 4
		every = max(10*time.Millisecond, min(every, 100*time.Millisecond))
		v.tickG = tickGens.Add(1)
		v.sched = scheduler.NewTimerScheduler(ctx.ActorSystem().Root)
		root, self, t := ctx.ActorSystem().Root, ctx.Self(), &vhTick{gen: v.tickG}
		v.cancel = clock.Repeat(every, every, func() { root.Send(self, t) })
		v.dial(now)
	case *actor.Stopping:
		if v.cancel != nil {
			v.cancel()
		}
		v.drop(now, "stopping", false)
	case *vhTick:
		if msg.gen == v.tickG {
			v.tick(now)
		}
	case *vhDialed:
		v.dialed(now, msg)
	case *vhRetry:
		if msg.gen == v.gen && msg.seq == v.retrySeq && v.conn == nil && !v.retryAt.IsZero() {
			v.retryAt = time.Time{}
			v.dial(now)
		}
	case *vhBlock:
		if msg.gen == v.gen && v.conn != nil {
			v.lastRx = now
			v.receive(now, msg.block)
		}
	case *vhDumpDue:
		if msg.gen == v.gen && !msg.sw.done && !v.satisfied(msg.sw) {
			v.send(now, []vh.Block{{Kind: vh.KindVideoOutputRouting}}, []request{{kind: reqDump, sw: msg.sw}})
		}
	case *vhReadErr:
		if msg.gen == v.gen && v.conn != nil {
			v.routerClosed = true
			v.drop(now, "connection lost: "+msg.err.Error(), true)
		}
	case *Switch:
		if msg.ReplyTo == nil {
			msg.ReplyTo = ctx.Sender()
		}
		v.startSwitch(now, msg)
	case *SetLock:
		v.setLock(ctx, now, msg)
	case *GetMirror:
		ctx.Respond(&Snapshot{Status: v.status, Mirror: v.mirror.Clone()})
	case *Subscribe:
		v.subs[msg.PID.String()] = msg
		if v.ready {
			st := v.status
			v.sys.Root.Send(msg.PID, &st)
			v.sys.Root.Send(msg.PID, &Routing{Router: v.o.Router.Name, Mirror: v.snapshot()})
			v.claimLocks(now)
		}
	case *Unsubscribe:
		delete(v.subs, msg.PID.String())
		if v.ready {
			v.claimLocks(now)
		}
	}
}

// snapshot is a copy of the mirror that subscribers may share until the next change.
func (v *videohub) snapshot() *Mirror {
	if v.shared == nil {
		v.shared = v.mirror.Clone()
	}
	return v.shared
}

// tell sends every subscriber the router's state after a change.
func (v *videohub) tell() {
	v.shared = nil
	r := &Routing{Router: v.o.Router.Name, Mirror: v.snapshot()}
	for _, s := range v.subs {
		v.sys.Root.Send(s.PID, r)
	}
}

// --- connection ---

func (v *videohub) dial(now time.Time) {
	v.gen++
	gen, addr, self, root := v.gen, v.o.Router.Address, v.self, v.sys.Root
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	v.dialCancel = cancel
	if v.status.Redials == 0 { // redials of a router that is away are not news
		v.publish(Connecting, "dialing")
	}
	go func() {
		defer cancel()
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		root.Send(self, &vhDialed{gen: gen, conn: c, err: err})
	}()
}

func (v *videohub) dialed(now time.Time, m *vhDialed) {
	if m.gen != v.gen || v.conn != nil {
		if m.conn != nil {
			m.conn.Close()
		}
		return
	}
	if m.err != nil {
		// Nothing accepts: try again soon (a router coming back is reconnected at once), not after
		// a growing backoff; a dial costs the router nothing.
		v.status.Redials++
		v.retry(now, v.o.RedialInterval, "connect failed: "+m.err.Error())
		return
	}
	v.status.Redials = 0
	if tc, ok := m.conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	v.conn, v.lastRx, v.lastPing, v.connAt = m.conn, now, now, now
	v.mirror.Reset()
	v.shared = nil
	clear(v.claimed) // the router dropped our locks with the connection
	v.ready = false
	v.log.Info().Msg("router connected, reading its state")
	gen, self, root, conn := v.gen, v.self, v.sys.Root, m.conn
	go func() {
		dec := vh.NewDecoder(conn)
		for {
			b, err := dec.Next()
			if err != nil {
				root.Send(self, &vhReadErr{gen: gen, err: err})
				return
			}
			root.Send(self, &vhBlock{gen: gen, block: b})
		}
	}()
}

// sessionLost schedules the redial after an established session ended: after a backoff that
// grows while sessions stay shorter than Stable (a router that accepts and then hangs up), and
// starts again at BackoffMin after a session that lasted.
func (v *videohub) sessionLost(now time.Time, why string) {
	switch {
	case v.backoff == 0 || now.Sub(v.connAt) >= v.o.Stable:
		v.backoff = v.o.BackoffMin
	default:
		v.backoff = min(2*v.backoff, v.o.BackoffMax)
	}
	v.retry(now, v.backoff, why)
}

// retry dials again after d.
func (v *videohub) retry(now time.Time, d time.Duration, why string) {
	v.retryAt = now.Add(d)
	v.retrySeq++
	v.sched.SendOnce(d, v.self, &vhRetry{gen: v.gen, seq: v.retrySeq})
	v.publish(Unavailable, fmt.Sprintf("%s; retrying in %s", why, Millis(d)))
}

// drop closes the connection, fails what was in flight and (if reconnect) schedules a retry.
func (v *videohub) drop(now time.Time, why string, reconnect bool) {
	if v.dialCancel != nil {
		v.dialCancel()
	}
	wasConnected := v.conn != nil
	if v.conn != nil {
		v.conn.Close()
		v.conn = nil
		v.log.Warn().Str("reason", why).Str("session", Millis(now.Sub(v.connAt))).Msg("router connection dropped")
	}
	v.gen++
	v.ready = false
	v.queue, v.dumpWait = nil, nil
	for _, sw := range v.switches {
		v.finish(now, sw, false, ReasonNotConnected, why)
	}
	v.switches = nil
	if !reconnect {
		return
	}
	closed := v.routerClosed
	v.routerClosed = false
	switch {
	case wasConnected && closed:
		v.sessionLost(now, why)
	case wasConnected:
		// We gave up on a silent router (hung, unplugged, or this process starved): dial again
		// soon, as for one that is away; the backoff is for routers that hang up on us.
		v.retry(now, v.o.BackoffMin, why)
	default:
		v.retry(now, v.o.RedialInterval, why) // a dial that was in flight
	}
}

func (v *videohub) tick(now time.Time) {
	if v.conn == nil {
		if !v.retryAt.IsZero() && !now.Before(v.retryAt) {
			v.retryAt = time.Time{}
			v.dial(now)
		}
		return
	}
	interval := v.o.Router.PingInterval.Duration
	if now.Sub(v.lastRx) > 2*interval {
		v.drop(now, fmt.Sprintf("no answer for %s (2 ping intervals)", Millis(now.Sub(v.lastRx))), true)
		return
	}
	if now.Sub(v.lastPing) >= interval {
		v.lastPing = now
		v.send(now, []vh.Block{{Kind: vh.KindPing}}, []request{{kind: reqPing}})
	}
	for _, sw := range v.switches {
		if !sw.done && now.After(sw.deadline) {
			detail := "no ACK from the router"
			if sw.acked {
				detail = "ACK but the routing did not show the change"
			}
			v.finish(now, sw, false, ReasonTimeout, detail)
		}
	}
	v.prune()
}

// send writes blocks in one write and queues what awaits an answer.
func (v *videohub) send(now time.Time, blocks []vh.Block, reqs []request) bool {
	if v.conn == nil {
		return false
	}
	var buf []byte
	for _, b := range blocks {
		buf = vh.AppendBlock(buf, b)
	}
	_ = v.conn.SetWriteDeadline(now.Add(time.Second))
	if _, err := v.conn.Write(buf); err != nil {
		v.routerClosed = true
		v.drop(now, "write failed: "+err.Error(), true)
		return false
	}
	v.queue = append(v.queue, reqs...)
	return true
}

// --- receiving ---

func (v *videohub) receive(now time.Time, b vh.Block) {
	switch b.Kind {
	case vh.KindACK, vh.KindNAK:
		v.answer(now, b.Kind == vh.KindACK)
		return
	case vh.KindDevice:
		v.mirror.Apply(b)
		if !v.mirror.Present() {
			v.ready = false
			for _, sw := range v.switches {
				v.finish(now, sw, false, ReasonNotConnected, "device not present")
			}
			v.publish(Unavailable, "device present: "+v.mirror.Device.Present.String())
		}
		return
	}
	v.mirror.Apply(b)
	switch b.Kind {
	case vh.KindVideoOutputRouting:
		if len(v.dumpWait) > 0 {
			for _, sw := range v.dumpWait {
				if !sw.done && !v.satisfied(sw) {
					v.refuse(now, sw, false)
				}
			}
			v.dumpWait = nil
		}
		v.confirmSatisfied(now)
	}
	switch b.Kind {
	case vh.KindVideoOutputRouting, vh.KindVideoOutputLocks, vh.KindInputLabels, vh.KindOutputLabels:
		v.shared = nil
		if v.ready {
			v.tell()
			v.sys.EventStream.Publish(&Change{Router: v.o.Router.Name, Block: b, Mirror: v.snapshot()})
		}
	}
	if !v.ready && v.mirror.Ready() {
		v.becomeReady(now)
	}
	v.prune()
}

func (v *videohub) becomeReady(now time.Time) {
	v.ready = true // the backoff is kept until the session proved stable (sessionLost)
	d := v.mirror.Device
	v.status.Model, v.status.Name, v.status.Inputs, v.status.Outputs = d.ModelName, d.FriendlyName, d.VideoInputs, d.VideoOutputs
	v.publish(Connected, fmt.Sprintf("%s %dx%d", d.ModelName, d.VideoInputs, d.VideoOutputs))
	// Subscribers whose switch failed while the router was away retry now, not after their
	// backoff; the routing may have moved while we were away.
	for _, s := range v.subs {
		st := v.status
		v.sys.Root.Send(s.PID, &st)
	}
	v.tell()
	v.claimLocks(now)
}

// answer matches an ACK or NAK to the oldest request in flight.
func (v *videohub) answer(now time.Time, ack bool) {
	if len(v.queue) == 0 {
		v.log.Warn().Bool("ack", ack).Msg("router answered a request we did not send")
		return
	}
	r := v.queue[0]
	v.queue = v.queue[1:]
	switch r.kind {
	case reqPing:
	case reqLock:
		if r.reply != nil {
			res := &Result{OK: ack}
			if !ack {
				res.Reason = ReasonNAK
			}
			v.sys.Root.Send(r.reply, res)
		}
		if !ack {
			v.log.Warn().Msg("router refused a lock change (NAK)")
		}
	case reqDump:
		if r.sw.done {
			return
		}
		if ack {
			v.dumpWait = append(v.dumpWait, r.sw)
		} else {
			v.refuse(now, r.sw, false)
		}
	case reqRoute:
		sw := r.sw
		if sw.done {
			return
		}
		if !ack {
			v.refuse(now, sw, true)
			return
		}
		sw.acked = true
		if v.satisfied(sw) {
			v.finish(now, sw, true, "", "")
			return
		}
		// The push usually follows the ACK; if it does not come soon, a dump settles an
		// ACK-without-change for certain.
		v.sched.SendOnce(pushWait, v.self, &vhDumpDue{gen: v.gen, sw: sw})
	}
	v.prune()
}

// --- switching ---

func (v *videohub) startSwitch(now time.Time, req *Switch) {
	sw := &pendingSwitch{req: req, want: map[int]int{}, deadline: now.Add(v.o.Router.ConfirmTimeout.Duration)}
	if !v.ready {
		detail := v.status.Detail
		v.finish(now, sw, false, ReasonNotConnected, detail)
		return
	}
	var problems []string
	for _, x := range req.Crosspoints {
		out, err := v.mirror.ResolveOutput(x.Output)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		in, err := v.mirror.ResolveInput(x.Input)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		sw.want[out] = in
	}
	if len(problems) > 0 {
		v.finish(now, sw, false, ReasonInvalid, strings.Join(problems, "; "))
		return
	}
	v.switches = append(v.switches, sw)
	v.sendRoute(now, sw, req.ForceUnlock && len(v.lockedByOthers(sw)) > 0)
}

func (v *videohub) sendRoute(now time.Time, sw *pendingSwitch, force bool) {
	var blocks []vh.Block
	var reqs []request
	if force {
		lb := vh.Block{Kind: vh.KindVideoOutputLocks}
		for _, o := range v.lockedByOthers(sw) {
			lb.Locks = append(lb.Locks, vh.Lock{Index: o, State: vh.LockForce})
		}
		blocks, reqs = append(blocks, lb), append(reqs, request{kind: reqLock})
		v.log.Warn().Str("pool", sw.req.Pool).Msg("force-unlocking outputs locked by another client (force_unlock = true)")
	}
	rb := vh.Block{Kind: vh.KindVideoOutputRouting}
	for _, out := range sortedKeys(sw.want) {
		rb.Routes = append(rb.Routes, vh.Route{Dest: out, Source: sw.want[out]})
	}
	blocks, reqs = append(blocks, rb), append(reqs, request{kind: reqRoute, sw: sw})
	v.send(now, blocks, reqs)
}

func (v *videohub) satisfied(sw *pendingSwitch) bool {
	for out, in := range sw.want {
		if got, ok := v.mirror.Routing[out]; !ok || got != in {
			return false
		}
	}
	return true
}

func (v *videohub) lockedByOthers(sw *pendingSwitch) []int {
	var outs []int
	for _, out := range sortedKeys(sw.want) {
		if v.mirror.Locks[out] == vh.LockLocked {
			outs = append(outs, out)
		}
	}
	return outs
}

// refuse handles a NAK or an unchanged routing: one force-unlock retry when the policy allows,
// otherwise the switch fails with the most telling reason.
func (v *videohub) refuse(now time.Time, sw *pendingSwitch, nak bool) {
	locked := v.lockedByOthers(sw)
	if len(locked) > 0 && sw.req.ForceUnlock && !sw.retried {
		sw.retried, sw.acked = true, false
		v.sendRoute(now, sw, true)
		return
	}
	switch {
	case len(locked) > 0:
		names := make([]string, len(locked))
		for i, o := range locked {
			names[i] = v.mirror.OutputName(o)
		}
		v.finish(now, sw, false, ReasonLocked, "output "+strings.Join(names, ", ")+" locked by another client")
	case nak:
		v.finish(now, sw, false, ReasonNAK, "router answered NAK")
	default:
		v.finish(now, sw, false, ReasonUnchanged, "router answered ACK but the routing did not change")
	}
}

func (v *videohub) confirmSatisfied(now time.Time) {
	for _, sw := range v.switches {
		if !sw.done && sw.acked && v.satisfied(sw) {
			v.finish(now, sw, true, "", "")
		}
	}
}

func (v *videohub) finish(now time.Time, sw *pendingSwitch, ok bool, reason Reason, detail string) {
	if sw.done {
		return
	}
	sw.done = true
	res := &Result{Pool: sw.req.Pool, Epoch: sw.req.Epoch, OK: ok, Reason: reason, Detail: detail}
	if !sw.req.Sent.IsZero() {
		res.Latency = now.Sub(sw.req.Sent)
	}
	ev := v.log.Info()
	if !ok {
		ev = v.log.Warn().Str("reason", string(reason)).Str("detail", detail)
	}
	ev.Str("pool", sw.req.Pool).Uint64("epoch", sw.req.Epoch).Bool("confirmed", ok).Dur("switch_ms", res.Latency).Msg("router switch")
	if sw.req.ReplyTo != nil {
		v.sys.Root.Send(sw.req.ReplyTo, res)
	}
}

func (v *videohub) prune() {
	live := v.switches[:0]
	for _, sw := range v.switches {
		if !sw.done {
			live = append(live, sw)
		}
	}
	v.switches = live
}

// --- locks and labels ---

func (v *videohub) setLock(ctx actor.Context, now time.Time, m *SetLock) {
	if !v.ready {
		ctx.Respond(&Result{Reason: ReasonNotConnected, Detail: v.status.Detail})
		return
	}
	out, err := v.mirror.ResolveOutput(m.Output)
	if err != nil {
		ctx.Respond(&Result{Reason: ReasonInvalid, Detail: err.Error()})
		return
	}
	b := vh.Block{Kind: vh.KindVideoOutputLocks, Locks: []vh.Lock{{Index: out, State: m.State}}}
	if !v.send(now, []vh.Block{b}, []request{{kind: reqLock, reply: ctx.Sender()}}) {
		ctx.Respond(&Result{Reason: ReasonNotConnected, Detail: "write failed"})
	}
}

// claimLocks takes O locks on every output a subscriber claims (lock_outputs), so panels cannot
// move them, and releases the ones no subscriber claims any more.
func (v *videohub) claimLocks(now time.Time) {
	want, force := map[int]bool{}, map[int]bool{}
	for _, s := range v.subs {
		for _, o := range s.Claim {
			if out, err := v.mirror.ResolveOutput(o); err == nil {
				want[out] = true
				force[out] = force[out] || s.ForceClaim
			}
		}
	}
	b := vh.Block{Kind: vh.KindVideoOutputLocks}
	for _, out := range sortedKeys(want) {
		switch {
		case v.mirror.Locks[out] == vh.LockOwned:
			v.claimed[out] = true
		case v.mirror.Locks[out] == vh.LockLocked && !force[out]:
			v.log.Warn().Str("output", v.mirror.OutputName(out)).Msg("cannot lock output: locked by another client")
		case v.mirror.Locks[out] == vh.LockLocked:
			// Another IP's lock is not taken with O alone: force it open first, in the same block.
			v.log.Warn().Str("output", v.mirror.OutputName(out)).Msg("taking the lock of another client (force)")
			b.Locks = append(b.Locks, vh.Lock{Index: out, State: vh.LockForce}, vh.Lock{Index: out, State: vh.LockOwned})
			v.claimed[out] = true
		default:
			b.Locks = append(b.Locks, vh.Lock{Index: out, State: vh.LockOwned})
			v.claimed[out] = true
		}
	}
	for _, out := range sortedKeys(v.claimed) {
		if !want[out] {
			delete(v.claimed, out)
			if v.mirror.Locks[out] == vh.LockOwned {
				b.Locks = append(b.Locks, vh.Lock{Index: out, State: vh.LockUnlocked})
			}
		}
	}
	if len(b.Locks) > 0 {
		v.log.Info().Int("outputs", len(b.Locks)).Msg("changing output locks held for lock_outputs")
		v.send(now, []vh.Block{b}, []request{{kind: reqLock}})
	}
}

func (v *videohub) publish(c Conn, detail string) {
	if v.status.Conn == c && v.status.Detail == detail {
		// More failed dials of a router that is away: told after 1, 2, 4, 8, ... of them (the
		// event stream and `ctl watch` would get ten a second otherwise), never logged again.
		if r := v.status.Redials; r > 0 && r&(r-1) == 0 {
			s := v.status
			v.sys.EventStream.Publish(&s)
		}
		return
	}
	v.status.Conn, v.status.Detail = c, detail
	ev := v.log.Info()
	if c != Connected {
		ev = v.log.Warn()
	}
	ev.Str("state", string(c)).Str("detail", detail).Msg("router state")
	s := v.status
	v.sys.EventStream.Publish(&s)
}

func sortedKeys[V any](m map[int]V) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// Millis is how durations read in logs, statuses and the CLI: milliseconds with 3 decimals.
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}
