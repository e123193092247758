package bench

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/protocol/videohub/vhsim"
)

func startSim(t *testing.T) *vhsim.Server {
	t.Helper()
	s, err := vhsim.Start(vhsim.Options{Listen: "127.0.0.1:0", Inputs: 8, Outputs: 4, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestObserverSeesDumpThenPushes(t *testing.T) {
	sim := startSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ob, err := Observe(ctx, sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	// The dump: a fresh simulator routes output i to input i.
	for out := range 4 {
		if in, _, ok := ob.Route(out); !ok || in != out {
			t.Errorf("after the dump output %d shows %d (%v), want %d", out, in, ok, out)
		}
	}
	if n, _ := ob.Changes(); n != 0 {
		t.Errorf("the dump counted as %d changes", n)
	}

	before := time.Now()
	if err := sim.SetRoute(2, 7); err != nil { // a front-panel change: the router pushes it
		t.Fatal(err)
	}
	at, err := ob.WaitRoute(ctx, 2, 7)
	if err != nil {
		t.Fatal(err)
	}
	if at.Before(before) {
		t.Errorf("push timestamped %s before the change was made", before.Sub(at))
	}
	n, log := ob.Changes()
	if n != 1 || len(log) != 1 || log[0] != (RouteChange{At: at, Output: 2, From: 2, Input: 7}) {
		t.Errorf("changes = %d %+v", n, log)
	}
	// Waiting for a route already shown returns its time at once.
	again, err := ob.WaitRoute(ctx, 2, 7)
	if err != nil || !again.Equal(at) {
		t.Errorf("WaitRoute on a shown route = %v, %v; want %v", again, err, at)
	}
	// Routing an output to the input it already has is no change.
	if err := sim.SetRoute(2, 7); err != nil {
		t.Fatal(err)
	}
	if err := sim.SetRoute(1, 5); err != nil {
		t.Fatal(err)
	}
	if _, err := ob.WaitRoute(ctx, 1, 5); err != nil {
		t.Fatal(err)
	}
	if n, _ := ob.Changes(); n != 2 {
		t.Errorf("%d changes, want 2", n)
	}
}

func TestObserverWaitEnds(t *testing.T) {
	sim := startSim(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ob, err := Observe(ctx, sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	short, cancelShort := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err = ob.WaitRoute(short, 0, 3)
	cancelShort()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitRoute for a route that never comes: %v", err)
	}
	sim.Reset() // the router drops every client
	if _, err := ob.WaitRoute(ctx, 0, 3); !errors.Is(err, ErrObserverClosed) {
		t.Errorf("WaitRoute after the connection ended: %v", err)
	}
	if ob.Err() == nil {
		t.Error("Err is nil after the connection ended")
	}
}

func TestObserveNothingListening(t *testing.T) {
	addr, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Observe(context.Background(), addr); err == nil {
		t.Error("Observe succeeded with nothing listening")
	}
}

func TestObserverDoesNotWrite(t *testing.T) {
	sim := startSim(t)
	ob, err := Observe(context.Background(), sim.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	// The observer never asks for anything, so it cannot hold locks or move routes: the
	// simulator's state is untouched and it counts the observer as a client.
	st := sim.State()
	if st.Clients != 1 {
		t.Errorf("simulator sees %d clients", st.Clients)
	}
	for out, owner := range st.LockOwners {
		if owner != "" {
			t.Errorf("output %d locked by %s", out, owner)
		}
	}
}
