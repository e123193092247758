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
	alerts  chan *LockAlert
	changes chan *Change
	seen    chan *OnAirSeen
	direct  chan *Status // Status sent to the pair itself (not the event stream)
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

func newRig(t testing.TB, addr string, pairs []conf.Pair, ping time.Duration) *rig {
	return newRigLog(t, addr, pairs, ping, zerolog.New(zerolog.NewTestWriter(t)))
}

func newRigLog(t testing.TB, addr string, pairs []conf.Pair, ping time.Duration, log zerolog.Logger) *rig {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	r := &rig{t: t, sys: sys, results: make(chan *Result, 16), status: make(chan *Status, 64), alerts: make(chan *LockAlert, 16),
		changes: make(chan *Change, 64), seen: make(chan *OnAirSeen, 64), direct: make(chan *Status, 64)}
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
		case *LockAlert:
			r.alerts <- m
		case *OnAirSeen:
			r.seen <- m
		case *Status:
			r.direct <- m
		}
	}))
	pids := map[string]*actor.PID{}
	for _, p := range pairs {
		pids[p.Name] = r.probe
	}
	rc := conf.Router{Name: "hub1", Kind: "videohub", Address: addr, PingInterval: conf.D(ping), ConfirmTimeout: conf.D(time.Second)}
	r.pid = r.sys.Root.Spawn(VideohubProps(VideohubOptions{Router: rc, Pairs: pairs, PIDs: pids,
		Log: log, BackoffMin: 10 * time.Millisecond, BackoffMax: 100 * time.Millisecond}))
	t.Cleanup(func() { _ = r.sys.Root.StopFuture(r.pid).Wait() })
	return r
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
	r.sys.Root.Send(r.pid, &Switch{Pair: "cam1", Epoch: r.epoch, Crosspoints: xs, ForceUnlock: force, ReplyTo: r.probe, Sent: time.Now()})
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

func camPair(force bool) conf.Pair {
	return conf.Pair{Name: "cam1", Router: "hub1", Main: "a", Backup: "b", ForceUnlock: force,
		Feeds: []conf.Feed{{MainInput: conf.N(1), BackupInput: conf.N(2), Outputs: []conf.Port{conf.N(1), conf.N(5)}}}}
}

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
	r := newRig(t, s.Addr(), []conf.Pair{camPair(false)}, time.Second)
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
			r := newRig(t, s.Addr(), []conf.Pair{camPair(false)}, time.Second)
			r.waitConn(Connected)
			select {
			case a := <-r.alerts:
				if !a.Locked || !strings.Contains(a.Detail, "make sure routed outputs are not locked") {
					t.Fatalf("lock alert %+v", a)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("no lock alert at connect")
			}
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

// lock_outputs holds O locks on the pair's outputs; Standby still routes through its own locks.
func TestLockOutputs(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	p := camPair(false)
	p.LockOutputs = true
	r := newRig(t, s.Addr(), []conf.Pair{p}, time.Second)
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

// Config entries written as labels resolve; a label that disappears is warned about.
func TestLabelDisappearsWarns(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	if err := s.SetInputLabel(1, "Render B"); err != nil {
		t.Fatal(err)
	}
	p := camPair(false)
	p.Feeds[0].BackupInput = conf.Port{Label: "Render B"}
	logs := make(lines, 256)
	r := newRigLog(t, s.Addr(), []conf.Pair{p}, time.Second, zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t))))
	r.waitConn(Connected)
	if res := r.switchTo(false, Crosspoint{Output: conf.N(1), Input: p.Feeds[0].BackupInput}); !res.OK || s.State().Routes[0] != 1 {
		t.Fatalf("switch by label: %+v", res)
	}
	if err := s.SetInputLabel(1, "Spare"); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case l := <-logs:
			if strings.Contains(l, `label \"Render B\" used by the config is not on the router`) {
				return
			}
		case <-deadline:
			t.Fatal("no warning about the vanished label")
		}
	}
}

// waitSeen waits for the pair to be told the router shows shows ("" for neither).
func (r *rig) waitSeen(shows string) *OnAirSeen {
	r.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case s := <-r.seen:
			if s.Shows == shows {
				return s
			}
		case <-deadline:
			r.t.Fatalf("the pair was never told the router shows %q", shows)
			return nil
		}
	}
}

// TestOnAirSeen: the pair is told which of its machines the router shows on its outputs, at
// connect and on every change, and again (with the router's status) when it says it started.
func TestOnAirSeen(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	if err := s.SetRoute(4, 6); err != nil { // output 5 ← input 7: neither machine
		t.Fatal(err)
	}
	r := newRig(t, s.Addr(), []conf.Pair{camPair(false)}, time.Second)
	r.waitConn(Connected)
	if seen := r.waitSeen(""); !strings.Contains(seen.Detail, "output 5 (Output 5) ← input 7 (Input 7)") {
		t.Errorf("detail %q does not say what output 5 shows", seen.Detail)
	}
	if err := s.SetRoute(4, 0); err != nil {
		t.Fatal(err)
	}
	r.waitSeen("main")
	for _, out := range []int{0, 4} {
		if err := s.SetRoute(out, 1); err != nil {
			t.Fatal(err)
		}
	}
	r.waitSeen("backup")
	for len(r.direct) > 0 {
		<-r.direct
	}
	r.sys.Root.Send(r.pid, &PairStarted{Pair: "cam1"})
	r.waitSeen("backup")
	select {
	case st := <-r.direct:
		if st.Conn != Connected {
			t.Errorf("status told to a starting pair: %s", st.Conn)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a starting pair was not told the router's status")
	}
}
