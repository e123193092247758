package vhsim_test

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"standby/protocol/videohub/vhsim"
)

func TestControlCommands(t *testing.T) {
	s := small(t)
	c := dial(t, s)
	c.prelude()
	for _, cmd := range []string{"route 2 3", "label output 1 P G M", "lock 1 10.1.1.1", "unlock 1",
		"locked-route ack", "routing atomic", "end-prelude off", "split 5 random", "ack-delay 1ms", "blackhole on", "blackhole off", ""} {
		if _, err := s.Command(cmd); err != nil {
			t.Fatalf("%q: %v", cmd, err)
		}
	}
	c.expect("VIDEO OUTPUT ROUTING:\n1 2\n\n", "OUTPUT LABELS:\n0 P G M\n\n", "VIDEO OUTPUT LOCKS:\n0 L\n\n", "VIDEO OUTPUT LOCKS:\n0 U\n\n")
	c.sync()
	want := vhsim.Faults{LockedRoute: vhsim.LockedACKNoChange, Routing: vhsim.RoutingAtomic, NoEndPrelude: true,
		WriteChunk: 5, RandomChunks: true, AckDelay: time.Millisecond}
	if f := s.Faults(); f != want {
		t.Fatalf("faults %+v, want %+v", f, want)
	}
	out, err := s.Command("state")
	if err != nil || !strings.Contains(out, "output 2 (Output 2) <- input 3 (Input 3)") {
		t.Fatalf("state: %q %v", out, err)
	}
	for _, bad := range []string{"route 3 1", "route x 1", "label side 1 x", "lock 1", "blackhole maybe", "split -1", "ack-delay soon", "routing fast", "frobnicate"} {
		if _, err := s.Command(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	if _, err := s.Command("reattach"); err != nil {
		t.Fatal(err)
	}
	c.expect("VIDEOHUB DEVICE:\nDevice present: false\n\n", smallDevice)
}

func TestRunReadsControl(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- vhsim.Run(ctx, vhsim.Options{Listen: "127.0.0.1:0", Control: inR, ControlOut: outW})
	}()
	go inW.Write([]byte("help\n"))
	line, err := bufio.NewReader(outR).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "commands") {
		t.Fatalf("control output %q, %v", line, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	inW.Close()
	outR.Close()
}
