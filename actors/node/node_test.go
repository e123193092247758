package node

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/rs/zerolog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"standby/actors/clock"
	"standby/protocol/pb"
)

func testLogger(t *testing.T) zerolog.Logger {
	return zerolog.New(zerolog.NewTestWriter(t)).With().Timestamp().Logger()
}

func TestStartStop(t *testing.T) {
	n, err := Start(Options{Listen: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	addr := n.Address()
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" || port == "0" {
		t.Fatalf("Address() = %q, want 127.0.0.1:<bound port>", addr)
	}
	n.Stop()
	n.Stop() // idempotent
	// The port is free again: at once, or as soon as gRPC's serving goroutine, when Stop came
	// before it started, closes the listener it was handed.
	deadline := time.Now().Add(5 * time.Second)
	for {
		l, err := net.Listen("tcp", addr)
		if err == nil {
			l.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("port still bound 5 s after Stop: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStartBusyPortIsAnError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, err = Start(Options{Listen: l.Addr().String(), Logger: testLogger(t)})
	if err == nil || !strings.Contains(err.Error(), l.Addr().String()) {
		t.Fatalf("Start on a busy port: err = %v, want an error naming %s", err, l.Addr())
	}
}

func TestStartBadListen(t *testing.T) {
	for _, listen := range []string{"", "nonsense", "127.0.0.1:x", "127.0.0.1:70000"} {
		if _, err := Start(Options{Listen: listen, Logger: testLogger(t)}); err == nil {
			t.Errorf("Start(%q) succeeded", listen)
		}
	}
}

func TestAdvertised(t *testing.T) {
	local := LocalIPv4()
	for _, c := range []struct {
		host, adv string
		port      int
		want      string
		err       bool
	}{
		{host: "127.0.0.1", port: 7400, want: "127.0.0.1:7400"},
		{host: "0.0.0.0", port: 7401, want: local + ":7401"},
		{host: "", port: 7401, want: local + ":7401"},
		{host: "::", port: 7401, want: local + ":7401"},
		{host: "0.0.0.0", port: 7401, adv: "render-1", want: "render-1:7401"},
		{host: "0.0.0.0", port: 7401, adv: "10.0.0.5:9000", want: "10.0.0.5:9000"},
		{host: "::1", port: 7401, want: "[::1]:7401"},
		{host: "0.0.0.0", port: 7401, adv: "10.0.0.5:x", err: true},
		{host: "0.0.0.0", port: 7401, adv: ":7401", err: true},
	} {
		got, err := advertised(c.host, c.port, c.adv)
		if (err != nil) != c.err || got != c.want {
			t.Errorf("advertised(%q, %d, %q) = %q, %v; want %q, err %v", c.host, c.port, c.adv, got, err, c.want, c.err)
		}
	}
}

func TestCheckBatch(t *testing.T) {
	pid := actor.NewPID("127.0.0.1:1", "x")
	good := func() *remote.MessageBatch {
		return &remote.MessageBatch{
			TypeNames: []string{"standby.v1.AgentReport"},
			Targets:   []*actor.PID{pid},
			Senders:   []*actor.PID{pid},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, Sender: 1}},
		}
	}
	if err := CheckBatch(good()); err != nil {
		t.Fatalf("good batch refused: %v", err)
	}
	if err := CheckBatch(nil); err != nil {
		t.Fatalf("nil batch refused: %v", err)
	}
	for _, name := range []string{"actor.Watch", "actor.Unwatch", "actor.Terminated", "actor.DeadLetterResponse"} {
		b := good()
		b.TypeNames[0] = name
		if err := CheckBatch(b); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
	for name, mutate := range map[string]func(b *remote.MessageBatch){
		"unknown type":    func(b *remote.MessageBatch) { b.TypeNames[0] = "standby.v9.Nope" },
		"type index":      func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = 1 },
		"negative type":   func(b *remote.MessageBatch) { b.Envelopes[0].TypeId = -1 },
		"target index":    func(b *remote.MessageBatch) { b.Envelopes[0].Target = 1 },
		"no targets":      func(b *remote.MessageBatch) { b.Targets = nil },
		"sender index":    func(b *remote.MessageBatch) { b.Envelopes[0].Sender = 2 },
		"json serializer": func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 1 },
		"wild serializer": func(b *remote.MessageBatch) { b.Envelopes[0].SerializerId = 7 },
		"nil envelope":    func(b *remote.MessageBatch) { b.Envelopes = append(b.Envelopes, nil) },
		"negative sender": func(b *remote.MessageBatch) { b.Envelopes[0].Sender = -3 },
		"negative target": func(b *remote.MessageBatch) { b.Envelopes[0].Target = -3 },
		"stop":            func(b *remote.MessageBatch) { b.TypeNames[0] = "actor.Stop" },
		"poison pill":     func(b *remote.MessageBatch) { b.TypeNames[0] = "actor.PoisonPill" },
		"remote spawn":    func(b *remote.MessageBatch) { b.TypeNames[0] = "remote.ActorPidRequest" },
	} {
		b := good()
		mutate(b)
		if err := CheckBatch(b); !errors.Is(err, ErrBadBatch) {
			t.Errorf("%s: CheckBatch = %v, want ErrBadBatch", name, err)
		}
	}
}

func TestThrottle(t *testing.T) {
	fc := clock.NewFake(time.Unix(1000, 0))
	th := NewThrottle(time.Minute, fc)
	if ok, _ := th.Allow("a"); !ok {
		t.Fatal("first line held back")
	}
	for range 5 {
		if ok, _ := th.Allow("a"); ok {
			t.Fatal("line within the minute let through")
		}
	}
	if ok, _ := th.Allow("b"); !ok {
		t.Fatal("other key held back")
	}
	fc.Advance(59 * time.Second)
	if ok, _ := th.Allow("a"); ok {
		t.Fatal("line at 59s let through")
	}
	fc.Advance(time.Second)
	if ok, skipped := th.Allow("a"); !ok || skipped != 6 {
		t.Fatalf("after a minute: ok=%v skipped=%d, want true 6", ok, skipped)
	}
}

func TestThrottleBounded(t *testing.T) {
	fc := clock.NewFake(time.Unix(1000, 0))
	th := NewThrottle(time.Minute, fc)
	for i := range maxThrottleKeys * 2 {
		th.Allow(string(rune(i)))
	}
	if len(th.keys) > maxThrottleKeys+1 {
		t.Fatalf("throttle holds %d keys", len(th.keys))
	}
	fc.Advance(time.Minute)
	if ok, _ := th.Allow("fresh"); !ok {
		t.Fatal("a new key after the interval was held back")
	}
}

// rawClient opens protoactor's Receive stream on addr as a misbehaving peer would, without a Remote.
func rawClient(t *testing.T, addr string) remote.Remoting_ReceiveClient {
	t.Helper()
	conn, err := grpc.Dial(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	s, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
		ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
			ServerConnection: &remote.ServerConnection{SystemId: "raw", Address: "127.0.0.1:1"},
		}},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Recv(); err != nil { // ConnectResponse
		t.Fatal(err)
	}
	return s
}

func batch(target *actor.PID, typeName string, msg proto.Message) *remote.RemoteMessage {
	data, _ := proto.Marshal(msg)
	return &remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
		TypeNames: []string{typeName},
		Targets:   []*actor.PID{target},
		Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, MessageData: data}},
	}}}
}

// TestBadPeerCannotCrash sends what crashes an unguarded protoactor (an unknown type name, a bad
// index, a call of an unimplemented method) and checks the node still delivers good messages.
// It keeps to the end of the file: its in-process gRPC clients leave goroutines that read gRPC's
// global logger, which the next Remote.Start writes with no synchronisation (a -race report; run
// with -count=1).
func TestBadPeerCannotCrash(t *testing.T) {
	n, err := Start(Options{Listen: "127.0.0.1:0", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	got := make(chan *pb.SimSetReply, 4)
	pid, err := n.System.Root.SpawnNamed(actor.PropsFromFunc(func(ctx actor.Context) {
		if m, ok := ctx.Message().(*pb.SimSetReply); ok {
			got <- m
		}
	}), "probe")
	if err != nil {
		t.Fatal(err)
	}

	bad := rawClient(t, n.Address())
	if err := bad.Send(batch(pid, "standby.v9.Unknown", &pb.SimSetReply{})); err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream after an unknown type: %v, want InvalidArgument", err)
	}

	bad2 := rawClient(t, n.Address())
	m := batch(pid, "standby.v1.SimSetReply", &pb.SimSetReply{})
	m.GetMessageBatch().Envelopes[0].Target = 5
	if err := bad2.Send(m); err != nil {
		t.Fatal(err)
	}
	if _, err := bad2.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream after a bad target index: %v, want InvalidArgument", err)
	}

	// A peer may not stop actors: PoisonPill is refused and the probe below still answers.
	bad3 := rawClient(t, n.Address())
	if err := bad3.Send(batch(pid, "actor.PoisonPill", &actor.PoisonPill{})); err != nil {
		t.Fatal(err)
	}
	if _, err := bad3.Recv(); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("stream after a PoisonPill: %v, want InvalidArgument", err)
	}

	conn, err := grpc.Dial(n.Address(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := remote.NewRemotingClient(conn).ListProcesses(ctx, &remote.ListProcessesRequest{}); status.Code(err) != codes.Unimplemented {
		t.Fatalf("ListProcesses: %v, want Unimplemented (recovered panic)", err)
	}

	good := rawClient(t, n.Address())
	if err := good.Send(batch(pid, "standby.v1.SimSetReply", &pb.SimSetReply{Reason: "still here"})); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m.Reason != "still here" {
			t.Fatalf("got %v", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a good message after bad peers was not delivered")
	}
}
