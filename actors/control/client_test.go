package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/protocol/pb"
)

// TestProbeUnreachable: a supervisor address nobody listens on is one line naming it and the
// cause, not a request timeout; a listening one passes.
func TestProbeUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := Probe(context.Background(), addr, nil, ProbeTimeout); err != nil {
		t.Fatalf("listening %s: %v", addr, err)
	}
	ln.Close()
	err = Probe(context.Background(), addr, nil, ProbeTimeout)
	if want := "no supervisor at " + addr + ": connection refused"; err == nil || err.Error() != want {
		t.Fatalf("closed %s: %v, want %q", addr, err, want)
	}
}

// TestClientErrorsInWords: a request nobody answers reads "no answer within", not protoactor's
// "future: timeout", and still is actor.ErrTimeout for callers that check.
func TestClientErrorsInWords(t *testing.T) {
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	if _, err := sys.Root.SpawnNamed(actor.PropsFromFunc(func(actor.Context) {}), ActorID); err != nil {
		t.Fatal(err)
	}
	c := NewClient(sys, sys.Address(), "t", 50*time.Millisecond)
	_, err := c.Do(&pb.ControlRequest{Op: &pb.ControlRequest_Status{Status: &pb.ControlRequest_StatusOp{}}})
	if err == nil || err.Error() != "supervisor "+sys.Address()+": no answer within 50ms" || !errors.Is(err, actor.ErrTimeout) {
		t.Fatalf("%v", err)
	}
}
