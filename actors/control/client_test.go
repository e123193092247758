package control

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/protocol/identity"
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
	// It accepts and says nothing: the probe cannot tell and leaves it to the request.
	if err := Probe(context.Background(), addr, nil, 100*time.Millisecond); err != nil {
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

// TestProbeTLS: a client without a certificate learns at once that the supervisor requires TLS;
// one with a certificate of the studio completes the handshake; a plaintext server that answers
// like gRPC (its SETTINGS frame) passes a plaintext client.
func TestProbeTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := identity.Init(dir, "test", now); err != nil {
		t.Fatal(err)
	}
	load := func(role identity.Role, name string) *identity.Credentials {
		crt, key, err := identity.Issue(dir, identity.IssueOptions{Role: role, Names: []string{name}}, now)
		if err != nil {
			t.Fatal(err)
		}
		c, err := identity.Load(identity.Files{CA: filepath.Join(dir, identity.CAFile), Cert: crt, Key: key}, now)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	sup, op := load(identity.RoleSupervisor, "studio"), load(identity.RoleOperator, "alice")
	cfg := sup.ServerConfig()
	cfg.NextProtos = []string{"h2"}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	addr := ln.Addr().String()
	err = Probe(context.Background(), addr, nil, ProbeTimeout)
	if err == nil || !strings.Contains(err.Error(), "supervisor at "+addr+" hung up on a plaintext client: it requires TLS (pass --tls-dir DIR --as NAME") {
		t.Errorf("plaintext client to TLS: %v", err)
	}
	if err := Probe(context.Background(), addr, op.ClientConfig(identity.RoleSupervisor), ProbeTimeout); err != nil {
		t.Errorf("operator certificate: %v", err)
	}

	plain, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { plain.Close() })
	go func() {
		for {
			c, err := plain.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte{0, 0, 0, 4, 0, 0, 0, 0, 0}) // an empty SETTINGS frame, as gRPC greets
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	if err := Probe(context.Background(), plain.Addr().String(), nil, ProbeTimeout); err != nil {
		t.Errorf("plaintext gRPC-like server: %v", err)
	}
}
