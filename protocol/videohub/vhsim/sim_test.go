package vhsim_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"standby/protocol/videohub/vhsim"
)

func TestPrelude(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.expect(smallPrelude...)
	c.sync()

	s.SetEndPrelude(false)
	d := dial(t, s)
	d.expect(smallPrelude[:len(smallPrelude)-1]...)
	d.sync() // the next block is the PING's ACK, not END PRELUDE
}

func TestPreludeLabelsFromOptions(t *testing.T) {
	s := start(t, vhsim.Options{Inputs: 2, Outputs: 1, InputLabels: []string{"CAM 1", ""}, OutputLabels: []string{"PGM"}})
	c := dial(t, s)
	p := c.prelude()
	if p[2] != "INPUT LABELS:\n0 CAM 1\n1 \n\n" || p[3] != "OUTPUT LABELS:\n0 PGM\n\n" {
		t.Fatalf("labels: %q %q", p[2], p[3])
	}
	if !strings.Contains(p[1], "Model name: Blackmagic Smart Videohub 2 x 1\n") {
		t.Fatalf("default model: %q", p[1])
	}
}

func TestPrelude288(t *testing.T) {
	s := start(t, vhsim.Options{Inputs: 288, Outputs: 288})
	c := dial(t, s)
	p := c.prelude()
	var lines, bytes int
	for _, b := range p {
		lines += strings.Count(b, "\n")
		bytes += len(b)
	}
	if len(p) != 8 || strings.Count(p[5], "\n") != 288+2 || bytes < 10000 {
		t.Fatalf("%d blocks, %d lines, %d bytes", len(p), lines, bytes)
	}
	c.send("VIDEO OUTPUT ROUTING:\n287 0\n\n")
	c.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n287 0\n\n")
}

func TestOptionsValidation(t *testing.T) {
	for _, o := range []vhsim.Options{
		{Listen: "127.0.0.1:0", Inputs: 289},
		{Listen: "127.0.0.1:0", Outputs: 1000},
		{Listen: "127.0.0.1:0", Inputs: -1},
		{Listen: "127.0.0.1:0", Faults: vhsim.Faults{WriteChunk: -1}},
	} {
		if s, err := vhsim.Start(o); err == nil {
			s.Close()
			t.Errorf("Start(%+v) succeeded", o)
		} else {
			t.Log(err)
		}
	}
}

func TestBroadcastToAllClientsIncludingSender(t *testing.T) {
	s := small(t)
	a, b := dial(t, s), dialFrom(t, s, "127.0.0.2")
	a.prelude()
	b.prelude()

	a.send("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	a.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n\n")
	b.expect("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	if err := s.WaitRoute(ctx(t), 0, 2); err != nil {
		t.Fatal(err)
	}

	b.send("OUTPUT LABELS:\n1 Programme  out \n\n")
	b.expect("ACK\n\n", "OUTPUT LABELS:\n1 Programme  out \n\n")
	a.expect("OUTPUT LABELS:\n1 Programme  out \n\n")

	// Only changed lines are pushed; a no-op is ACKed and pushes nothing.
	a.send("VIDEO OUTPUT ROUTING:\n0 2\n1 0\n\n")
	a.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 0\n\n")
	b.expect("VIDEO OUTPUT ROUTING:\n1 0\n\n")
	a.send("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	a.expect("ACK\n\n")
	a.sync()
	b.sync()

	// Front panel changes reach everybody.
	if err := s.SetRoute(1, 1); err != nil {
		t.Fatal(err)
	}
	a.expect("VIDEO OUTPUT ROUTING:\n1 1\n\n")
	b.expect("VIDEO OUTPUT ROUTING:\n1 1\n\n")
	if err := s.SetInputLabel(2, "Bars"); err != nil {
		t.Fatal(err)
	}
	a.expect("INPUT LABELS:\n2 Bars\n\n")
	b.expect("INPUT LABELS:\n2 Bars\n\n")
	if err := s.SetRoute(2, 0); err == nil {
		t.Fatal("SetRoute out of range succeeded")
	}

	st := s.State()
	if !slices.Equal(st.Routes, []int{2, 1}) || st.OutputLabels[1] != "Programme  out " || st.InputLabels[2] != "Bars" || st.Clients != 2 {
		t.Fatalf("state %+v", st)
	}
}

func TestPipelinedBlocksAnsweredInOrder(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	c.send("VIDEO OUTPUT ROUTING:\n1 2\n\nPING:\n\nFOO:\n\nINPUT LABELS:\n\nVIDEO OUTPUT ROUTING:\n7 7\n\nPING:\n\n")
	c.expect(
		"ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 2\n\n",
		"ACK\n\n",
		"NAK\n\n",
		"ACK\n\n", "INPUT LABELS:\n0 Input 1\n1 Input 2\n2 Input 3\n\n",
		"NAK\n\n",
		"ACK\n\n",
	)
	var many strings.Builder
	for i := range 50 {
		fmt.Fprintf(&many, "VIDEO OUTPUT ROUTING:\n%d %d\n\n", i%2, i%3)
	}
	c.send(many.String())
	routes := []int{0, 2} // after the first part
	for i := range 50 {
		c.expect("ACK\n\n")
		if out, in := i%2, i%3; routes[out] != in { // a push follows only a real change
			routes[out] = in
			c.expect(fmt.Sprintf("VIDEO OUTPUT ROUTING:\n%d %d\n\n", out, in))
		}
	}
	c.sync()
}

func TestDumpRequests(t *testing.T) {
	s := small(t)
	c := dialFrom(t, s, "127.0.0.3")
	c.prelude()
	for i, req := range []string{"PROTOCOL PREAMBLE:\n\n", "VIDEOHUB DEVICE:\n\n", "INPUT LABELS:\n\n", "OUTPUT LABELS:\n\n",
		"VIDEO OUTPUT LOCKS:\n\n", "VIDEO OUTPUT ROUTING:\n\n", "CONFIGURATION:\n\n"} {
		c.send(req)
		c.expect("ACK\n\n", smallPrelude[i])
	}
	// Header case does not matter, CRLF is fine.
	c.send("video output routing:\r\n\r\n")
	c.expect("ACK\n\n", smallPrelude[5])
	// Blocks of families this model does not have.
	for _, req := range []string{"MONITORING OUTPUT LABELS:\n\n", "SERIAL PORT ROUTING:\n\n", "FRAME BUFFER LOCKS:\n\n", "END PRELUDE:\n\n"} {
		c.send(req)
		c.expect("NAK\n\n")
	}
	// Hardware status from a client is ignored with an ACK.
	c.send("VIDEO INPUT STATUS:\n0 BNC\n\nALARM STATUS:\nFan 0: failed\n\nVIDEO OUTPUT STATUS:\n\n")
	c.expect("ACK\n\n", "ACK\n\n", "ACK\n\n")
	c.sync()
}

func TestPingAndUnknownBlocks(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	c.send("PING:\n\n")
	c.expect("ACK\n\n")
	c.send("PING\n\n") // no colon: not a command
	c.expect("NAK\n\n")
	c.send("NETWORK:\nInterface Count: 1\n\n")
	c.expect("NAK\n\n")
	c.send("ping:\r\n\r\nACK\n\n")
	c.expect("ACK\n\n", "NAK\n\n")
}

func TestOutOfRangeLines(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	for _, bad := range []string{
		"VIDEO OUTPUT ROUTING:\n2 0\n\n",  // output 3 of 2
		"VIDEO OUTPUT ROUTING:\n0 3\n\n",  // input 4 of 3
		"VIDEO OUTPUT ROUTING:\n0 -1\n\n", // no source
		"VIDEO OUTPUT ROUTING:\nzero one\n\n",
		"INPUT LABELS:\n3 nope\n\n",
		"OUTPUT LABELS:\n2 nope\n\n",
		"VIDEO OUTPUT LOCKS:\n5 O\n\n",
		"VIDEO OUTPUT LOCKS:\n0 L\n\n", // L is not a client letter
		"CONFIGURATION:\nTake Mode: maybe\n\n",
		"VIDEOHUB DEVICE:\nVideo inputs: 99\n\n",
	} {
		c.send(bad)
		c.expect("NAK\n\n")
	}
	// Partial (default): valid lines are applied and pushed, the rest dropped.
	c.send("VIDEO OUTPUT ROUTING:\n0 2\n9 9\nfoo\n\n")
	c.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n\n")
	c.send("OUTPUT LABELS:\n5 x\n1 Rec\n\n")
	c.expect("ACK\n\n", "OUTPUT LABELS:\n1 Rec\n\n")
	c.sync()
	if st := s.State(); !slices.Equal(st.Routes, []int{2, 1}) {
		t.Fatalf("routes %v", st.Routes)
	}
}

func TestAtomicVsPartialRouting(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	s.SetRoutingMode(vhsim.RoutingAtomic)
	c.send("VIDEO OUTPUT ROUTING:\n0 2\n1 7\n\n")
	c.expect("NAK\n\n")
	c.sync()
	if st := s.State(); !slices.Equal(st.Routes, []int{0, 1}) {
		t.Fatalf("atomic applied something: %v", st.Routes)
	}
	c.send("VIDEO OUTPUT ROUTING:\n0 2\n1 2\n\n")
	c.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n1 2\n\n")

	s.SetRoutingMode(vhsim.RoutingPartial)
	c.send("VIDEO OUTPUT ROUTING:\n0 1\n1 7\n\n")
	c.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 1\n\n")
	if f := s.Faults(); f.Routing != vhsim.RoutingPartial {
		t.Fatalf("faults %+v", f)
	}
}

func TestPerIPLocks(t *testing.T) {
	s := small(t)
	a := dialFrom(t, s, "127.0.0.1")
	b := dialFrom(t, s, "127.0.0.2")
	a.prelude()
	b.prelude()

	// A locks output 1: A sees O, B sees L.
	a.send("VIDEO OUTPUT LOCKS:\n1 O\n\n")
	a.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n1 O\n\n")
	b.expect("VIDEO OUTPUT LOCKS:\n1 L\n\n")
	if st := s.State(); st.LockOwners[1] != "127.0.0.1" {
		t.Fatalf("owners %q", st.LockOwners)
	}

	// A routes through its own lock.
	a.send("VIDEO OUTPUT ROUTING:\n1 2\n\n")
	a.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 2\n\n")
	b.expect("VIDEO OUTPUT ROUTING:\n1 2\n\n")

	// B can neither take nor release A's lock, nor route through it.
	b.send("VIDEO OUTPUT LOCKS:\n1 O\n\nVIDEO OUTPUT LOCKS:\n1 U\n\nVIDEO OUTPUT ROUTING:\n1 0\n\n")
	b.expect("NAK\n\n", "NAK\n\n", "NAK\n\n")
	b.sync()
	a.sync()

	// A second connection from A's IP shares the lock; a third host sees L.
	a2 := dialFrom(t, s, "127.0.0.1")
	if p := a2.prelude(); p[4] != "VIDEO OUTPUT LOCKS:\n0 U\n1 O\n\n" {
		t.Fatalf("a2 locks %q", p[4])
	}
	c := dialFrom(t, s, "127.0.0.3")
	if p := c.prelude(); p[4] != "VIDEO OUTPUT LOCKS:\n0 U\n1 L\n\n" {
		t.Fatalf("c locks %q", p[4])
	}

	// Locks survive the owner's disconnect.
	a.conn.Close()
	a3 := dialFrom(t, s, "127.0.0.1")
	if p := a3.prelude(); p[4] != "VIDEO OUTPUT LOCKS:\n0 U\n1 O\n\n" {
		t.Fatalf("after reconnect %q", p[4])
	}

	// B force-unlocks, then takes the lock: every client sees its own letter.
	b.send("VIDEO OUTPUT LOCKS:\n1 F\n\n")
	b.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n1 U\n\n")
	a3.expect("VIDEO OUTPUT LOCKS:\n1 U\n\n")
	c.expect("VIDEO OUTPUT LOCKS:\n1 U\n\n")
	b.send("VIDEO OUTPUT LOCKS:\n1 O\n0 O\n\n")
	b.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n1 O\n0 O\n\n")
	a3.expect("VIDEO OUTPUT LOCKS:\n1 L\n0 L\n\n")
	a2.expect("VIDEO OUTPUT LOCKS:\n1 U\n\n", "VIDEO OUTPUT LOCKS:\n1 L\n0 L\n\n")
	c.expect("VIDEO OUTPUT LOCKS:\n1 L\n0 L\n\n")

	// Lock dump requests are per-IP views too.
	a3.send("VIDEO OUTPUT LOCKS:\n\n")
	a3.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n0 L\n1 L\n\n")
	b.send("VIDEO OUTPUT LOCKS:\n\n")
	b.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n0 O\n1 O\n\n")

	// B releases its own lock with U; F and O in one block take over in order.
	b.send("VIDEO OUTPUT LOCKS:\n0 U\n\n")
	b.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n0 U\n\n")
	c.expect("VIDEO OUTPUT LOCKS:\n0 U\n\n")
	c.send("VIDEO OUTPUT LOCKS:\n1 F\n1 O\n\n")
	c.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n1 O\n\n")
	b.expect("VIDEO OUTPUT LOCKS:\n1 L\n\n")

	// Front-panel lock API.
	if err := s.SetLockOwner(0, "10.0.0.9"); err != nil {
		t.Fatal(err)
	}
	b.expect("VIDEO OUTPUT LOCKS:\n0 L\n\n")
	c.expect("VIDEO OUTPUT LOCKS:\n0 L\n\n")
}

func TestLockedRouteReplyModes(t *testing.T) {
	s := small(t)
	owner := dialFrom(t, s, "127.0.0.1")
	other := dialFrom(t, s, "127.0.0.2")
	owner.prelude()
	other.prelude()
	owner.send("VIDEO OUTPUT LOCKS:\n0 O\n\n")
	owner.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n0 O\n\n")
	other.expect("VIDEO OUTPUT LOCKS:\n0 L\n\n")

	// Default: NAK.
	other.send("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	other.expect("NAK\n\n")

	// ACK without change: no push, no change.
	s.SetLockedRouteReply(vhsim.LockedACKNoChange)
	other.send("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	other.expect("ACK\n\n")
	other.sync()
	owner.sync()
	if st := s.State(); st.Routes[0] != 0 {
		t.Fatalf("locked output changed: %v", st.Routes)
	}

	// Partial: a locked line and a free line → ACK, free line applied.
	other.send("VIDEO OUTPUT ROUTING:\n0 2\n1 2\n\n")
	other.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 2\n\n")
	owner.expect("VIDEO OUTPUT ROUTING:\n1 2\n\n")

	// Atomic: any locked line → the locked-route reply, nothing applied.
	s.SetRoutingMode(vhsim.RoutingAtomic)
	other.send("VIDEO OUTPUT ROUTING:\n0 1\n1 1\n\n")
	other.expect("ACK\n\n")
	s.SetLockedRouteReply(vhsim.LockedNAK)
	other.send("VIDEO OUTPUT ROUTING:\n0 1\n1 1\n\n")
	other.expect("NAK\n\n")
	other.sync()
	owner.sync()
	if st := s.State(); !slices.Equal(st.Routes, []int{0, 2}) {
		t.Fatalf("routes %v", st.Routes)
	}
}

func TestSplitWrites(t *testing.T) {
	s := small(t)
	// Client-side split: a block in three writes, "\r\n" split between writes.
	c := dial(t, s)
	c.prelude()
	for _, part := range []string{"VIDEO OUTPUT ROU", "TING:\r", "\n1 2\r\n", "\r", "\n"} {
		c.send(part)
	}
	c.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 2\n\n")

	// Server-side split: one byte per write, then random chunks.
	want := slices.Clone(smallPrelude)
	want[5] = "VIDEO OUTPUT ROUTING:\n0 0\n1 2\n\n"
	for _, split := range []struct {
		chunk  int
		random bool
	}{{1, false}, {7, true}, {0, true}} {
		s.SetWriteSplit(split.chunk, split.random)
		d := dial(t, s)
		d.expect(want...)
		d.send("PING:\n\nVIDEO OUTPUT ROUTING:\n0 1\n\n")
		d.expect("ACK\n\n", "ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 1\n\n")
		c.expect("VIDEO OUTPUT ROUTING:\n0 1\n\n")
		d.send("VIDEO OUTPUT ROUTING:\n0 0\n\n")
		d.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 0\n\n")
		c.expect("VIDEO OUTPUT ROUTING:\n0 0\n\n")
	}
}

func TestAckDelay(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	const delay = 150 * time.Millisecond
	s.SetAckDelay(delay)
	t0 := time.Now()
	c.sync()
	if el := time.Since(t0); el < delay {
		t.Fatalf("ACK after %s, want at least %s", el, delay)
	}
	s.SetAckDelay(0)
	c.sync()
}

func TestBlackhole(t *testing.T) {
	s := small(t)
	a := dial(t, s)
	a.prelude()

	s.SetBlackhole(true)
	a.send("PING:\n\nVIDEO OUTPUT ROUTING:\n0 2\n\n")
	b := dialFrom(t, s, "127.0.0.2") // the TCP connect succeeds, but nothing is said
	a.expectSilence()
	if _, err := b.readBlock(time.Millisecond); err == nil {
		t.Fatal("prelude sent while blackholed")
	}
	if st := s.State(); st.Routes[0] != 0 {
		t.Fatal("request handled while blackholed")
	}
	if err := s.SetRoute(1, 0); err != nil { // front panel change while the network is down
		t.Fatal(err)
	}

	s.SetBlackhole(false)
	// Everything resumes in order.
	a.expect("VIDEO OUTPUT ROUTING:\n1 0\n\n", "ACK\n\n", "ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n\n")
	// B's prelude was queued at connect, before the front panel change.
	b.expect(smallPrelude...)
	b.expect("VIDEO OUTPUT ROUTING:\n1 0\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n\n")
	b.sync()
}

func TestReset(t *testing.T) {
	s := small(t)
	a, b := dial(t, s), dialFrom(t, s, "127.0.0.2")
	a.prelude()
	b.prelude()
	a.send("VIDEO OUTPUT LOCKS:\n0 O\n\n")
	a.expect("ACK\n\n", "VIDEO OUTPUT LOCKS:\n0 O\n\n")
	b.expect("VIDEO OUTPUT LOCKS:\n0 L\n\n")

	s.Reset()
	for _, c := range []*raw{a, b} {
		if err := c.expectClosed(); !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("read after reset: %v, want ECONNRESET", err)
		}
	}
	if _, err := s.Wait(ctx(t), func(st vhsim.State) bool { return st.Clients == 0 }); err != nil {
		t.Fatal(err)
	}
	// The router is still there, with its state.
	a2 := dial(t, s)
	if p := a2.prelude(); p[4] != "VIDEO OUTPUT LOCKS:\n0 O\n1 U\n\n" {
		t.Fatalf("locks after reset %q", p[4])
	}
}

func TestDeviceReattach(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	s.Reattach()
	c.expect("VIDEOHUB DEVICE:\nDevice present: false\n\n")
	c.expect(smallPrelude[1:]...) // everything but the preamble
	c.sync()

	s.SetDevicePresent(false)
	c.expect("VIDEOHUB DEVICE:\nDevice present: false\n\n")
	c.send("VIDEO OUTPUT ROUTING:\n0 1\n\nINPUT LABELS:\n\nPING:\n\nVIDEOHUB DEVICE:\n\n")
	c.expect("NAK\n\n", "NAK\n\n", "ACK\n\n", "ACK\n\n", "VIDEOHUB DEVICE:\nDevice present: false\n\n")
	d := dial(t, s)
	d.expect("PROTOCOL PREAMBLE:\nVersion: 2.8\n\n", "VIDEOHUB DEVICE:\nDevice present: false\n\n")
	d.sync()

	s.SetEndPrelude(false)
	s.SetDevicePresent(true)
	for _, cl := range []*raw{c, d} {
		cl.expect(smallPrelude[1 : len(smallPrelude)-1]...)
		cl.sync()
	}
}

func TestRenameAndTakeMode(t *testing.T) {
	s := small(t)
	a, b := dial(t, s), dialFrom(t, s, "127.0.0.2")
	a.prelude()
	b.prelude()
	a.send("VIDEOHUB DEVICE:\nFriendly name: Studio B\n\n")
	a.expect("ACK\n\n", "VIDEOHUB DEVICE:\nFriendly name: Studio B\n\n")
	b.expect("VIDEOHUB DEVICE:\nFriendly name: Studio B\n\n")
	b.send("CONFIGURATION:\nTake Mode: true\n\n")
	b.expect("ACK\n\n", "CONFIGURATION:\nTake Mode: true\n\n")
	a.expect("CONFIGURATION:\nTake Mode: true\n\n")
	if st := s.State(); st.FriendlyName != "Studio B" || !st.TakeMode {
		t.Fatalf("state %+v", st)
	}
}

func TestGarbageClosesOnlyThatConnection(t *testing.T) {
	s := small(t)
	good := dial(t, s)
	good.prelude()

	long := dial(t, s)
	long.prelude()
	long.send("INPUT LABELS:\n0 " + strings.Repeat("x", 10000))
	long.expectClosed()

	lines := dial(t, s)
	lines.prelude()
	lines.send("VIDEO OUTPUT ROUTING:\n" + strings.Repeat("0 0\n", 5000))
	lines.expectClosed()

	binary := dial(t, s)
	binary.prelude()
	binary.send("\x00\xff\xfe garbage\n\x01\x02\n\n\n")
	binary.expect("NAK\n\n") // an unknown "block" is just unknown: NAK, not a disconnect
	binary.sync()

	// A client that resets mid-block.
	rst := dial(t, s)
	rst.prelude()
	rst.send("VIDEO OUTPUT ROUTING:\n0 1")
	rst.conn.SetLinger(0)
	rst.conn.Close()

	good.send("VIDEO OUTPUT ROUTING:\n1 0\n\n")
	good.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 0\n\n")
	if _, err := s.Wait(ctx(t), func(st vhsim.State) bool { return st.Clients == 2 }); err != nil {
		t.Fatalf("clients: %v", err)
	}
}

func TestSlowClientDoesNotStallOthers(t *testing.T) {
	s := start(t, vhsim.Options{Inputs: 3, Outputs: 2, MaxQueue: 16 << 10, WriteTimeout: time.Minute})
	fast := dial(t, s)
	fast.prelude()
	slow := dial(t, s)
	slow.conn.SetReadBuffer(4096) // and never read
	// (dropped with RST, see client.enqueue)
	if _, err := s.Wait(ctx(t), func(st vhsim.State) bool { return st.Clients == 2 }); err != nil {
		t.Fatal(err)
	}

	label := strings.Repeat("L", 1000)
	for i := 0; ; i++ {
		if s.State().Clients == 1 {
			t.Logf("slow client dropped after %d pushes", i)
			break
		}
		if i == 100000 {
			t.Fatal("slow client never dropped")
		}
		text := fmt.Sprintf("%d %s", i, label)
		if err := s.SetOutputLabel(0, text); err != nil {
			t.Fatal(err)
		}
		fast.expect("OUTPUT LABELS:\n0 " + text + "\n\n")
	}
	fast.sync()
	slow.expectClosed()
}

func TestCloseWhileBlackholed(t *testing.T) {
	s, err := vhsim.Start(vhsim.Options{Listen: "127.0.0.1:0", Inputs: 2, Outputs: 2})
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, s)
	c.prelude()
	s.SetBlackhole(true)
	c.send("PING:\n\n")
	done := make(chan error)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout):
		t.Fatal("Close blocked")
	}
	c.expectClosed()
	if err := s.SetRoute(0, 0); !errors.Is(err, vhsim.ErrClosed) {
		t.Fatalf("SetRoute after Close: %v", err)
	}
}

func TestRunStopsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- vhsim.Run(ctx, vhsim.Options{Listen: "127.0.0.1:0"}) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(timeout):
		t.Fatal("Run did not return")
	}
	if err := vhsim.Run(context.Background(), vhsim.Options{Inputs: 300}); err == nil {
		t.Fatal("Run accepted 300 inputs")
	}
}

func TestHalfCloseStillAnswered(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.send("PING:\n\nVIDEO OUTPUT ROUTING:\n0 2\n\n")
	c.conn.CloseWrite()
	c.expect(smallPrelude...)
	c.expect("ACK\n\n", "ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n\n")
	if err := c.expectClosed(); !errors.Is(err, io.EOF) {
		t.Fatalf("after half-close: %v, want EOF", err)
	}
}

// TestCommandsLog: every routing block is logged with the sender's IP, applied or not (a no-op
// is a command too), and front panel changes are not.
func TestCommandsLog(t *testing.T) {
	s := small(t)
	a, b := dial(t, s), dialFrom(t, s, "127.0.0.2")
	a.prelude()
	b.prelude()
	a.send("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	a.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n0 2\n\n")
	b.expect("VIDEO OUTPUT ROUTING:\n0 2\n\n")
	b.send("VIDEO OUTPUT ROUTING:\n0 2\n1 0\n\n")
	b.expect("ACK\n\n", "VIDEO OUTPUT ROUTING:\n1 0\n\n")
	if err := s.SetRoute(1, 1); err != nil {
		t.Fatal(err)
	}
	cmds := s.Commands()
	if len(cmds) != 2 || cmds[0].From != "127.0.0.1" || cmds[0].Routes[0] != 2 || cmds[1].From != "127.0.0.2" ||
		len(cmds[1].Routes) != 2 || cmds[1].Routes[1] != 0 || cmds[1].At.Before(cmds[0].At) {
		t.Fatalf("commands %+v", cmds)
	}
}
