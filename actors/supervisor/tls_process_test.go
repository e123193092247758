package supervisor

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/remote"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/proto"

	"standby/protocol/identity"
	"standby/protocol/pb"
)

// probe is one forged message sent by TestProbeProcess: a raw protoactor stream opened as a
// peer of the given certificate (none: a client without one), carrying one message.
type probe struct {
	Addr     string // the node dialled
	CA, Cert string // the client's files; empty Cert: no certificate
	Key      string
	Target   string // actor id at Addr
	Type     string // protobuf full name
	Data     []byte // the message
	Count    int    // how many times it is sent
}

// TestProbeProcess is not a test: TestProcessesForgedFailover runs the test binary again with
// $STANDBY_PROBE set to a probe, so that the raw gRPC clients live in a process of their own (gRPC's
// global logger is not safe next to the Remotes of other tests). It prints "sent" or "refused: …".
func TestProbeProcess(t *testing.T) {
	spec := os.Getenv("STANDBY_PROBE")
	if spec == "" {
		t.Skip("helper process of TestProcessesForgedFailover")
	}
	var p probe
	if err := json.Unmarshal([]byte(spec), &p); err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if p.Cert != "" {
		c, err := identity.Load(identity.Files{CA: p.CA, Cert: p.Cert, Key: p.Key}, time.Now())
		if err != nil {
			// An expired certificate: present it anyway, as an attacker would.
			pair, perr := tls.LoadX509KeyPair(p.Cert, p.Key)
			if perr != nil {
				t.Fatal(err)
			}
			cfg.Certificates = []tls.Certificate{pair}
		} else {
			cfg = c.ClientConfig()
		}
	}
	conn, err := grpc.Dial(p.Addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := func(s string) { fmt.Fprintln(os.Stdout, "PROBE "+s) }
	s, err := remote.NewRemotingClient(conn).Receive(ctx)
	if err == nil {
		err = s.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_ConnectRequest{
			ConnectRequest: &remote.ConnectRequest{ConnectionType: &remote.ConnectRequest_ServerConnection{
				ServerConnection: &remote.ServerConnection{SystemId: "probe", Address: "127.0.0.1:1"},
			}},
		}})
	}
	if err == nil {
		_, err = s.Recv()
	}
	if err != nil {
		out("refused: " + err.Error())
		return
	}
	for range max(p.Count, 1) {
		err := s.Send(&remote.RemoteMessage{MessageType: &remote.RemoteMessage_MessageBatch{MessageBatch: &remote.MessageBatch{
			TypeNames: []string{p.Type},
			Targets:   []*actor.PID{{Address: p.Addr, Id: p.Target}},
			Envelopes: []*remote.MessageEnvelope{{TypeId: 0, Target: 0, MessageData: p.Data}},
		}}})
		if err != nil {
			out("refused: " + err.Error())
			return
		}
	}
	// Wait for the node to end the stream after reading everything: exiting at once could drop
	// what is still buffered.
	_ = s.CloseSend()
	_, _ = s.Recv()
	out("sent")
}

// runProbe runs a probe in its own process and returns its verdict line.
func runProbe(t *testing.T, p probe) string {
	t.Helper()
	spec, _ := json.Marshal(p)
	cmd := exec.Command(os.Args[0], "-test.run=^TestProbeProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "STANDBY_PROBE="+string(spec))
	out, err := cmd.CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if v, ok := strings.CutPrefix(l, "PROBE "); ok {
			return v
		}
	}
	t.Fatalf("probe %s: no verdict (%v):\n%s", p.Type, err, out)
	return ""
}

func marshal(t *testing.T, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// syncBuffer is an io.Writer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestProcessesForgedFailover: a studio on mutual TLS (a supervisor, two agents, a `standby ctl
// watch`, every certificate from `standby certs`) against the four probes that forged or faked a
// failover on plaintext links, and peers refused at the handshake. Each forged message is dropped
// and logged once (however often it is sent), nothing transitions, and a real kill -9 of the
// main's engine still switches.
func TestProcessesForgedFailover(t *testing.T) {
	s := newStudio(t, freePort(t, "127.0.0.1"), 8)
	certs, other := filepath.Join(s.dir, "certs"), filepath.Join(s.dir, "other")
	for _, args := range [][]string{
		{"init", "--dir", certs}, {"init", "--dir", other},
		{"issue", "--dir", certs, "--supervisor", "studio"},
		{"issue", "--dir", certs, "--agent", "m1"}, {"issue", "--dir", certs, "--agent", "b1"},
		{"issue", "--dir", certs, "--operator", "alice"},
		{"issue", "--dir", other, "--supervisor", "studio"},
	} {
		if out, err := exec.Command(s.bin, append([]string{"certs"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("standby certs %v: %v\n%s", args, err, out)
		}
	}
	if _, _, err := identity.Issue(certs, identity.IssueOptions{Role: identity.RoleOperator, Names: []string{"old"}, Validity: time.Hour},
		time.Now().Add(-72*time.Hour)); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(certs, identity.CAFile)
	files := func(dir, name string) (string, string) { return identity.CertFiles(dir, name) }
	s.agentTLS = func(name string) string {
		crt, key := files(certs, name)
		return fmt.Sprintf("[tls]\nca = %q\ncert = %q\nkey = %q\n", ca, crt, key)
	}
	supCrt, supKey := files(certs, "studio")
	if err := s.hub.SetRoute(2, 0); err != nil {
		t.Fatal(err)
	}
	s.run(t, 250*time.Millisecond, "", fmt.Sprintf(`
[[operator]]
name = "alice"
token = "alice-token"
level = 2
[[machine]]
name = "m1"
[[machine]]
name = "b1"
[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1, 3]
[tls]
ca = %q
cert = %q
key = %q
`, ca, supCrt, supKey))
	mainEngine := engine(t, filepath.Join(s.dir, "m1.pid"))
	engine(t, filepath.Join(s.dir, "b1.pid"))
	m1Addr := freePort(t, "127.0.0.1")
	agentM := s.agent(t, "m1", m1Addr)
	s.agent(t, "b1", "127.0.0.1:0")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	var watched syncBuffer
	ctlAddr := freePort(t, "127.0.0.1")
	ctl := startProcOut(t, "ctl watch", &watched, s.bin, "ctl", "watch", "--json", "--supervisor", s.supAddr, "--token", "alice-token",
		"--tls-dir", certs, "--as", "alice", "--listen", ctlAddr, "--log-level", "warn")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "subscriber added", "operator": "alice"})

	b1Crt, b1Key := files(certs, "b1")
	aliceCrt, aliceKey := files(certs, "alice")
	oldCrt, oldKey := files(certs, "old")
	otherCrt, otherKey := files(other, "studio")

	// 1. Forged replies to the main's agent, from an agent's certificate (not a supervisor's).
	reply := marshal(t, &pb.AgentReply{Accepted: true, Active: true, Seq: 1, Supervisors: []string{"127.0.0.1:9"}})
	if v := runProbe(t, probe{Addr: m1Addr, CA: ca, Cert: b1Crt, Key: b1Key, Target: pb.AgentActorID, Type: "standby.v1.AgentReply", Data: reply, Count: 50}); v != "sent" {
		t.Fatalf("forged reply: %s", v)
	}
	agentM.waitLog(5*time.Second, map[string]string{"message": "dropped remote message its sender may not send", "type": "standby.v1.AgentReply"})

	// 2. An impostor agent: b1's certificate reporting as m1 (token and all), engine down.
	report := marshal(t, &pb.AgentReport{Machine: "m1", Token: procToken, Session: 99, Seq: 1, Change: true,
		Services: []*pb.AgentReport_Service{{Name: "engine", Up: false, Reason: "forged"}}})
	if v := runProbe(t, probe{Addr: s.supAddr, CA: ca, Cert: b1Crt, Key: b1Key, Target: pb.GatewayActorID, Type: "standby.v1.AgentReport", Data: report, Count: 50}); v != "sent" {
		t.Fatalf("impostor report: %s", v)
	}
	s.sup.waitLog(5*time.Second, map[string]string{"message": "dropped remote message its sender may not send", "type": "standby.v1.AgentReport"})

	// 3. A forged event to the operator's ctl watch, from an operator's certificate.
	event := marshal(t, &pb.ControlEvent{Kind: "transition", Pair: "cam1", From: "on-main", To: "on-backup", Trigger: "engine", Detail: "FORGED"})
	if v := runProbe(t, probe{Addr: ctlAddr, CA: ca, Cert: aliceCrt, Key: aliceKey, Target: "$1", Type: "standby.v1.ControlEvent", Data: event}); v != "sent" {
		t.Fatalf("forged event: %s", v)
	}
	ctl.waitLog(5*time.Second, map[string]string{"message": "dropped remote message its sender may not send", "type": "standby.v1.ControlEvent"})
	// ... and to the supervisor's control actor, which used to relay it to every subscriber.
	if v := runProbe(t, probe{Addr: s.supAddr, CA: ca, Cert: aliceCrt, Key: aliceKey, Target: "standby/control", Type: "standby.v1.ControlEvent", Data: event}); v != "sent" {
		t.Fatalf("forged event to the supervisor: %s", v)
	}

	// 4. A forged Terminated of the pair's actor, to its parent.
	term := marshal(t, &actor.Terminated{Who: &actor.PID{Address: s.supAddr, Id: RootName + "/" + PoolsDir + "/cam1"}})
	if v := runProbe(t, probe{Addr: s.supAddr, CA: ca, Cert: aliceCrt, Key: aliceKey, Target: RootName + "/" + PoolsDir, Type: "actor.Terminated", Data: term}); v != "sent" {
		t.Fatalf("forged Terminated: %s", v)
	}
	s.sup.waitLog(5*time.Second, map[string]string{"message": "dropped remote message its sender may not send", "type": "actor.Terminated"})

	// Peers refused at the handshake: no certificate, another CA's, an expired one.
	for name, p := range map[string]probe{
		"no certificate": {},
		"another CA":     {CA: filepath.Join(other, identity.CAFile), Cert: otherCrt, Key: otherKey},
		"expired":        {CA: ca, Cert: oldCrt, Key: oldKey},
	} {
		p.Addr, p.Target, p.Type, p.Data = s.supAddr, pb.GatewayActorID, "standby.v1.AgentReport", report
		if v := runProbe(t, p); !strings.HasPrefix(v, "refused") {
			t.Errorf("%s: %s, want refused at the handshake", name, v)
		}
	}
	s.sup.waitLog(5*time.Second, map[string]string{"message": "refused TLS handshake (a peer needs a certificate of this studio's CA)"})

	if strings.Contains(watched.String(), "FORGED") {
		t.Fatalf("ctl watch showed the forged event:\n%s", watched.String())
	}
	// Nothing moved: the main is still on air.
	if r := s.hub.State().Routes; r[0] != 0 || r[2] != 0 {
		t.Fatalf("routes changed by forged messages: %v", r)
	}

	// A real failure still switches.
	killed := time.Now()
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.waitRoute(t, 1)
	t.Logf("kill -9 → router shows the backup: %s", time.Since(killed))
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(watched.String(), "on-backup") {
		if time.Now().After(deadline) {
			t.Fatalf("ctl watch did not show the real transition:\n%s", watched.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a pipe's output: nothing signals it
	}
}
