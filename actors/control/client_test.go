package control

import (
	"context"
	"net"
	"testing"
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
