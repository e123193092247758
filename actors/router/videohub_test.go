package router

import (
	"bufio"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/conf"
	vh "standby/protocol/videohub"
	"standby/protocol/videohub/vhsim"
)

// rig is a router actor under test, connected to a simulator or a scripted server.
type rig struct {
	t       testing.TB
	sys     *actor.ActorSystem
	pid     *actor.PID
	probe   *actor.PID
	results chan *Result
	status  chan *Status
	changes chan *Change
	seen    chan *Routing // Routing sent to the subscriber
	direct  chan *Status  // Status sent to the subscriber itself (not the event stream)
	epoch   uint64
}

// lines is a log writer that hands every line to a channel, so a test can wait for a warning.
type lines chan string

func (l lines) Write(p []byte) (int, error) {
	select {
	case l <- string(p):
	default:
	}
	return len(p), nil
}

// newRig starts a router actor with one subscriber, the rig's probe, claiming claim (lock_outputs).
func newRig(t testing.TB, addr string, claim []conf.Port, ping time.Duration) *rig {
	return newRigLog(t, addr, claim, ping, zerolog.New(zerolog.NewTestWriter(t)))
}

func newRigLog(t testing.TB, addr string, claim []conf.Port, ping time.Duration, log zerolog.Logger) *rig {
	t.Helper()
	return newRigOpts(t, addr, claim, ping, VideohubOptions{Log: log, BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
}

// newRigOpts is newRig with the router actor's options (Router is set here).
func newRigOpts(t testing.TB, addr string, claim []conf.Port, ping time.Duration, o VideohubOptions) *rig {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	r := &rig{t: t, sys: sys, results: make(chan *Result, 16), status: make(chan *Status, 64),
		changes: make(chan *Change, 64), seen: make(chan *Routing, 64), direct: make(chan *Status, 64)}
	r.sys.EventStream.Subscribe(func(evt interface{}) {
		switch e := evt.(type) {
		case *Status:
			select {
			case r.status <- e:
			default:
			}
		case *Change:
			select {
			case r.changes <- e:
			default:
			}
		}
	})
	r.probe = r.sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *Result:
			r.results <- m
		case *Routing:
			select {
			case r.seen <- m:
			default:
			}
		case *Status:
			r.direct <- m
		}
	}))
	rc := conf.Router{Name: "hub1", Kind: "videohub", Address: addr, PingInterval: conf.D(ping), ConfirmTimeout: conf.D(time.Second)}
	o.Router = rc
	r.pid = r.sys.Root.Spawn(VideohubProps(o))
	r.sys.Root.Send(r.pid, &Subscribe{PID: r.probe, Claim: claim})
	t.Cleanup(func() { _ = r.sys.Root.StopFuture(r.pid).Wait() })
	return r
}

// waitRouting waits until the subscriber is told a state for which ok holds.
func (r *rig) waitRouting(what string, ok func(m *Mirror) bool) *Mirror {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-r.seen:
			if ok(s.Mirror) {
				return s.Mirror
			}
		case <-deadline:
			r.t.Fatalf("the subscriber was never told %s", what)
			return nil
		}
	}
}

func (r *rig) waitConn(c Conn) *Status {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-r.status:
			if s.Conn == c {
				return s
			}
		case <-deadline:
			r.t.Fatalf("router never became %s", c)
			return nil
		}
	}
}

func (r *rig) switchTo(force bool, xs ...Crosspoint) *Result {
	r.t.Helper()
	r.epoch++
	r.sys.Root.Send(r.pid, &Switch{Pool: "cam1", Epoch: r.epoch, Crosspoints: xs, ForceUnlock: force, ReplyTo: r.probe, Sent: time.Now()})
	select {
	case res := <-r.results:
		if res.Epoch != r.epoch {
			r.t.Fatalf("result for epoch %d, want %d", res.Epoch, r.epoch)
		}
		return res
	case <-time.After(5 * time.Second):
		r.t.Fatal("no switch result")
		return nil
	}
}

func x(out, in int) Crosspoint { return Crosspoint{Output: conf.N(out), Input: conf.N(in)} }

func sim(t testing.TB, f vhsim.Faults) *vhsim.Server {
	t.Helper()
	s, err := vhsim.Start(vhsim.Options{Listen: "127.0.0.1:0", Inputs: 12, Outputs: 12, Faults: f})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestSwitchConfirmed(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	r := newRig(t, s.Addr(), nil, time.Second)
	r.waitConn(Connected)
	res := r.switchTo(false, x(1, 2), x(5, 2))
	if !res.OK || res.Latency <= 0 {
		t.Fatalf("result %+v", res)
	}
	st := s.State()
	if st.Routes[0] != 1 || st.Routes[4] != 1 {
		t.Fatalf("simulator routing: out1←%d out5←%d, want input 2 (index 1)", st.Routes[0]+1, st.Routes[4]+1)
	}
	// Labels resolve too.
	if err := s.SetInputLabel(2, "Render B"); err != nil {
		t.Fatal(err)
	}
	for ch := range r.changes {
		if ch.Mirror.InputLabels[2] == "Render B" {
			break
		}
	}
	res = r.switchTo(false, Crosspoint{Output: conf.N(1), Input: conf.Port{Label: "Render B"}})
	if !res.OK || s.State().Routes[0] != 2 {
		t.Fatalf("label switch: %+v, out1←%d", res, s.State().Routes[0]+1)
	}
	if res := r.switchTo(false, x(13, 1)); res.OK || res.Reason != ReasonInvalid {
		t.Fatalf("out-of-range output: %+v", res)
	}
}

func TestSwitchToLockedOutput(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reply vhsim.LockedRouteReply
	}{{"nak", vhsim.LockedNAK}, {"ack-without-change", vhsim.LockedACKNoChange}} {
		t.Run(tc.name, func(t *testing.T) {
			s := sim(t, vhsim.Faults{LockedRoute: tc.reply})
			if err := s.SetLockOwner(4, "10.9.9.9"); err != nil {
				t.Fatal(err)
			}
			r := newRig(t, s.Addr(), nil, time.Second)
			r.waitConn(Connected)
			r.waitRouting("output 5 locked by another client", func(m *Mirror) bool { return m.Locks[4] == vh.LockLocked })
			res := r.switchTo(false, x(1, 2), x(5, 2))
			if res.OK || res.Reason != ReasonLocked || !strings.Contains(res.Detail, "5") {
				t.Fatalf("result %+v", res)
			}
			// Policy force_unlock: one F and a retry.
			res = r.switchTo(true, x(1, 2), x(5, 2))
			if !res.OK {
				t.Fatalf("forced switch: %+v", res)
			}
			if st := s.State(); st.Routes[4] != 1 || st.LockOwners[4] != "" {
				t.Fatalf("after force: out5←%d owner %q", st.Routes[4]+1, st.LockOwners[4])
			}
		})
	}
}

func TestBlackholedRouterNoticedAndReconnected(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	r := newRig(t, s.Addr(), nil, 50*time.Millisecond)
	r.waitConn(Connected)
	s.SetBlackhole(true)
	lost := time.Now()
	st := r.waitConn(Unavailable)
	t.Logf("blackhole noticed after %s: %s", time.Since(lost), st.Detail)
	s.SetBlackhole(false)
	r.waitConn(Connected)
	if res := r.switchTo(false, x(3, 4)); !res.OK {
		t.Fatalf("switch after reconnect: %+v", res)
	}
}

func TestNotConnected(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	r := newRig(t, addr, nil, time.Second)
	r.waitConn(Unavailable)
	if res := r.switchTo(false, x(1, 2)); res.OK || res.Reason != ReasonNotConnected {
		t.Fatalf("result %+v", res)
	}
}

// scripted is a minimal hand-written Videohub for answers the simulator does not give.
type scripted struct {
	l     net.Listener
	conns chan net.Conn
}

const prelude = "PROTOCOL PREAMBLE:\nVersion: 2.8\n\nVIDEOHUB DEVICE:\nDevice present: true\nModel name: Scripted\nVideo inputs: 4\nVideo outputs: 4\n\n" +
	"INPUT LABELS:\n0 A\n1 B\n2 C\n3 D\n\nOUTPUT LABELS:\n0 W\n1 X\n2 Y\n3 Z\n\nVIDEO OUTPUT LOCKS:\n0 U\n1 U\n2 U\n3 U\n\nVIDEO OUTPUT ROUTING:\n0 0\n1 1\n2 2\n3 3\n\n"

func newScripted(t *testing.T) *scripted {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{l: l, conns: make(chan net.Conn, 4)}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			s.conns <- c
		}
	}()
	t.Cleanup(func() { l.Close() })
	return s
}

func (s *scripted) accept(t *testing.T) (net.Conn, *bufio.Reader) {
	t.Helper()
	select {
	case c := <-s.conns:
		t.Cleanup(func() { c.Close() })
		if _, err := c.Write([]byte(prelude)); err != nil {
			t.Fatal(err)
		}
		return c, bufio.NewReader(c)
	case <-time.After(5 * time.Second):
		t.Fatal("router actor never connected")
		return nil, nil
	}
}

// readBlock reads one block the client sent.
func readBlock(t *testing.T, c net.Conn, br *bufio.Reader) string {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var b strings.Builder
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading client block: %v", err)
		}
		if line == "\n" {
			return b.String()
		}
		b.WriteString(line)
	}
}

func TestPlainNAK(t *testing.T) {
	s := newScripted(t)
	r := newRig(t, s.l.Addr().String(), nil, time.Minute)
	c, br := s.accept(t)
	r.waitConn(Connected)
	go func() {
		if blk := readBlock(t, c, br); strings.HasPrefix(blk, "VIDEO OUTPUT ROUTING:\n0 1\n") {
			c.Write([]byte("NAK\n\n"))
		}
	}()
	if res := r.switchTo(false, x(1, 2)); res.OK || res.Reason != ReasonNAK {
		t.Fatalf("result %+v", res)
	}
}

// Pushes from other clients may arrive between a request and its ACK; replies match in order.
func TestInterleavedPushes(t *testing.T) {
	s := newScripted(t)
	r := newRig(t, s.l.Addr().String(), nil, time.Minute)
	c, br := s.accept(t)
	r.waitConn(Connected)
	done := make(chan error, 1)
	go func() {
		blk := readBlock(t, c, br)
		if blk != "VIDEO OUTPUT ROUTING:\n0 1\n2 1\n" {
			done <- nil
			return
		}
		// Another client's change lands first, then our ACK and the push of our change, then a
		// further push from the other client; then the dump we are sent.
		_, err := c.Write([]byte("VIDEO OUTPUT ROUTING:\n3 0\n\nOUTPUT LABELS:\n3 Other\n\nACK\n\nVIDEO OUTPUT ROUTING:\n0 1\n2 1\n\nVIDEO OUTPUT LOCKS:\n3 L\n\n"))
		done <- err
	}()
	res := r.switchTo(false, x(1, 2), x(3, 2))
	if !res.OK {
		t.Fatalf("result %+v", res)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	snap, err := r.sys.Root.RequestFuture(r.pid, &GetMirror{}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	m := snap.(*Snapshot).Mirror
	if m.Routing[3] != 0 || m.OutputLabels[3] != "Other" || m.Routing[0] != 1 {
		t.Fatalf("mirror routing %v labels %v", m.Routing, m.OutputLabels)
	}
}

// Garbage closes the connection, which is logged and reconnected.
func TestGarbageReconnects(t *testing.T) {
	s := newScripted(t)
	r := newRig(t, s.l.Addr().String(), nil, time.Minute)
	c, _ := s.accept(t)
	r.waitConn(Connected)
	c.Write([]byte(strings.Repeat("x", 10000) + "\n"))
	r.waitConn(Unavailable)
	s.accept(t)
	r.waitConn(Connected)
}

// lock_outputs: a subscriber's claimed outputs are held with O locks; Standby still routes
// through its own locks, and releases them when nobody claims them any more.
func TestLockOutputs(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	r := newRig(t, s.Addr(), []conf.Port{conf.N(1), conf.N(5)}, time.Second)
	r.waitConn(Connected)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := s.Wait(ctx, func(st vhsim.State) bool { return st.LockOwners[0] != "" && st.LockOwners[4] != "" })
	if err != nil {
		t.Fatalf("outputs 1 and 5 not locked: %v", err)
	}
	if st.LockOwners[1] != "" {
		t.Fatalf("output 2 locked too: %q", st.LockOwners[1])
	}
	if res := r.switchTo(false, x(1, 2), x(5, 2)); !res.OK {
		t.Fatalf("switch through our own locks: %+v", res)
	}
	r.sys.Root.Send(r.pid, &Subscribe{PID: r.probe, Claim: []conf.Port{conf.N(1)}})
	if _, err := s.Wait(ctx, func(st vhsim.State) bool { return st.LockOwners[0] != "" && st.LockOwners[4] == "" }); err != nil {
		t.Fatalf("output 5 not released when no longer claimed: %v", err)
	}
	r.sys.Root.Send(r.pid, &Unsubscribe{PID: r.probe})
	if _, err := s.Wait(ctx, func(st vhsim.State) bool { return st.LockOwners[0] == "" }); err != nil {
		t.Fatalf("output 1 not released after unsubscribe: %v", err)
	}
}

// A device detached and re-attached re-sends its state; switching works again after it.
func TestDeviceReattached(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	r := newRig(t, s.Addr(), nil, time.Second)
	r.waitConn(Connected)
	s.SetDevicePresent(false)
	if st := r.waitConn(Unavailable); !strings.Contains(st.Detail, "present") {
		t.Fatalf("detail %q", st.Detail)
	}
	if res := r.switchTo(false, x(1, 2)); res.OK || res.Reason != ReasonNotConnected {
		t.Fatalf("switch while detached: %+v", res)
	}
	s.Reattach()
	r.waitConn(Connected)
	if res := r.switchTo(false, x(1, 2)); !res.OK {
		t.Fatalf("switch after re-attach: %+v", res)
	}
}

// TestSubscribersToldRouting: a subscriber is told the router's routing and labels at connect
// and on every change, and again (with the router's status) when it subscribes afresh.
func TestSubscribersToldRouting(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	if err := s.SetRoute(4, 6); err != nil { // output 5 ← input 7
		t.Fatal(err)
	}
	r := newRig(t, s.Addr(), nil, time.Second)
	r.waitConn(Connected)
	r.waitRouting("output 5 ← input 7", func(m *Mirror) bool { return m.Routing[4] == 6 })
	if err := s.SetRoute(4, 0); err != nil {
		t.Fatal(err)
	}
	r.waitRouting("output 5 ← input 1", func(m *Mirror) bool { return m.Routing[4] == 0 })
	if err := s.SetInputLabel(1, "Render B"); err != nil {
		t.Fatal(err)
	}
	r.waitRouting("input 2's new label", func(m *Mirror) bool { return m.InputLabels[1] == "Render B" })
	for len(r.direct) > 0 {
		<-r.direct
	}
	r.sys.Root.Send(r.pid, &Subscribe{PID: r.probe})
	r.waitRouting("the routing again", func(m *Mirror) bool { return m.Routing[4] == 0 })
	select {
	case st := <-r.direct:
		if st.Conn != Connected {
			t.Errorf("status told to a new subscriber: %s", st.Conn)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a new subscriber was not told the router's status")
	}
}

// TestForceClaimTakesAnotherClientsLock: a claim with ForceClaim (a supervisor taking over from
// its peer on another host) force-unlocks the other client's lock and takes it, in one block; a
// claim without it leaves the lock alone.
func TestForceClaimTakesAnotherClientsLock(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	if err := s.SetLockOwner(0, "10.9.9.9"); err != nil { // output 1 held by the other supervisor
		t.Fatal(err)
	}
	r := newRig(t, s.Addr(), []conf.Port{conf.N(1)}, time.Second)
	r.waitConn(Connected)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if st := s.State(); st.LockOwners[0] != "10.9.9.9" {
		t.Fatalf("a claim without force took the lock: %q", st.LockOwners[0])
	}
	r.sys.Root.Send(r.pid, &Subscribe{PID: r.probe, Claim: []conf.Port{conf.N(1)}, ForceClaim: true})
	if _, err := s.Wait(ctx, func(st vhsim.State) bool { return st.LockOwners[0] != "" && st.LockOwners[0] != "10.9.9.9" }); err != nil {
		t.Fatalf("output 1 not taken by force: %v (owner %q)", err, s.State().LockOwners[0])
	}
}
