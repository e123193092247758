package identity

import (
	"crypto/tls"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

// studio creates a CA in a temp dir and issues certificates of the given identities at issued.
func studio(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := Init(dir, "test", now); err != nil {
		t.Fatal(err)
	}
	return dir
}

func issue(t *testing.T, dir string, role Role, names ...string) *Credentials {
	t.Helper()
	crt, key, err := Issue(dir, IssueOptions{Role: role, Names: names}, now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Load(Files{CA: filepath.Join(dir, CAFile), Cert: crt, Key: key}, now)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestRoundTrip: init, issue each role, load, and read the identity back.
func TestRoundTrip(t *testing.T) {
	dir := studio(t)
	if err := Init(dir, "test", now); !errors.Is(err, ErrExists) {
		t.Fatalf("second init: %v, want ErrExists", err)
	}
	sup := issue(t, dir, RoleSupervisor, "studio-a")
	agent := issue(t, dir, RoleAgent, "render-1", "load-*")
	op := issue(t, dir, RoleOperator, "alice")
	if sup.Self.String() != "supervisor studio-a" || op.Self.Name() != "alice" {
		t.Fatalf("identities: %v, %v", sup.Self, op.Self)
	}
	for m, want := range map[string]bool{"render-1": true, "render-10": false, "load-77": true, "render-2": false} {
		if agent.Self.Covers(m) != want {
			t.Errorf("agent %v covers %s = %v", agent.Self, m, !want)
		}
	}
	if sup.Self.Covers("studio-a") {
		t.Error("a supervisor's certificate covers a machine")
	}
	if _, _, err := Issue(dir, IssueOptions{Role: RoleAgent, Names: []string{"render-1"}}, now); !errors.Is(err, ErrExists) {
		t.Fatalf("issue over an existing certificate: %v", err)
	}
	for _, bad := range []IssueOptions{{Role: "admin", Names: []string{"x"}}, {Role: RoleAgent}, {Role: RoleOperator, Names: []string{"a/b"}},
		{Role: RoleOperator, Names: []string{"al*"}}} {
		if _, _, err := Issue(dir, bad, now); err == nil {
			t.Errorf("issued %+v", bad)
		}
	}
	c, err := ReadCert(filepath.Join(dir, "render-1.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if d := Describe(c, now); !strings.Contains(d, "role:      agent") || !strings.Contains(d, "render-1, load-*") || !strings.Contains(d, "days left") {
		t.Errorf("describe:\n%s", d)
	}
	if d := Describe(c, now.Add(3*CertValidity)); !strings.Contains(d, "EXPIRED") {
		t.Errorf("describe expired:\n%s", d)
	}
}

// TestLoadRefuses: an expired certificate, one from another CA and a key of another certificate
// are refused at start with the file named.
func TestLoadRefuses(t *testing.T) {
	dir, other := studio(t), studio(t)
	crt, key, err := Issue(dir, IssueOptions{Role: RoleAgent, Names: []string{"render-1"}, Validity: time.Hour}, now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Load(Files{CA: filepath.Join(dir, CAFile), Cert: crt, Key: key}, now.Add(3*time.Hour)); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("expired: %v", err)
	}
	if _, err := Load(Files{CA: filepath.Join(other, CAFile), Cert: crt, Key: key}, now); err == nil || !strings.Contains(err.Error(), "not valid under ca") {
		t.Errorf("other CA: %v", err)
	}
	_, key2, _ := Issue(dir, IssueOptions{Role: RoleAgent, Names: []string{"render-2"}}, now)
	if _, err := Load(Files{CA: filepath.Join(dir, CAFile), Cert: crt, Key: key2}, now); err == nil || !strings.Contains(err.Error(), crt) {
		t.Errorf("mismatched key: %v", err)
	}
	if _, err := Load(Files{CA: filepath.Join(dir, CAFile)}, now); err == nil {
		t.Error("loaded without cert and key")
	}
}

// handshake runs a TLS handshake between a client and a server config over a pipe and returns
// the client's error, the server's error and the identity the server saw.
func handshake(t *testing.T, client, server *tls.Config) (cerr, serr error, seen Identity) {
	t.Helper()
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := tls.Server(b, server)
		serr = s.Handshake()
		if serr == nil {
			seen, _ = Peer(s.ConnectionState())
		}
		s.Close()
	}()
	c := tls.Client(a, client)
	cerr = c.Handshake()
	if cerr == nil {
		// TLS 1.3: the server's verdict on the client's certificate comes with the first read.
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, cerr = c.Read(make([]byte, 1))
		if errors.Is(cerr, net.ErrClosed) || (cerr != nil && strings.Contains(cerr.Error(), "EOF")) {
			cerr = nil
		}
	}
	c.Close()
	<-done
	return cerr, serr, seen
}

// TestHandshake: peers of the studio CA connect and learn each other's identity; a peer without
// a certificate, with one of another CA or an expired one is refused at the handshake, and an
// agent refuses to dial anything but a supervisor.
func TestHandshake(t *testing.T) {
	dir, other := studio(t), studio(t)
	sup := issue(t, dir, RoleSupervisor, "studio-a")
	agent := issue(t, dir, RoleAgent, "render-1")
	stranger := issue(t, other, RoleAgent, "render-1")

	if cerr, serr, seen := handshake(t, agent.ClientConfig(RoleSupervisor), sup.ServerConfig()); cerr != nil || serr != nil || seen.String() != "agent render-1" {
		t.Fatalf("agent → supervisor: client %v, server %v, seen %v", cerr, serr, seen)
	}
	noCert := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13}
	if _, serr, _ := handshake(t, noCert, sup.ServerConfig()); serr == nil {
		t.Error("a client without a certificate was accepted")
	}
	if _, serr, _ := handshake(t, stranger.ClientConfig(), sup.ServerConfig()); serr == nil {
		t.Error("a client of another CA was accepted")
	}
	if cerr, _, _ := handshake(t, agent.ClientConfig(RoleSupervisor), stranger.ServerConfig()); cerr == nil {
		t.Error("an agent accepted a server of another CA")
	}
	if cerr, _, _ := handshake(t, agent.ClientConfig(RoleSupervisor), issue(t, dir, RoleAgent, "render-2").ServerConfig()); cerr == nil ||
		!strings.Contains(cerr.Error(), "expected a [supervisor]") {
		t.Errorf("agent dialled an agent: %v", cerr)
	}
	crt, key, _ := Issue(dir, IssueOptions{Role: RoleOperator, Names: []string{"old"}, Validity: time.Hour}, time.Now().Add(-3*time.Hour))
	pair, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	expired := &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS13, Certificates: []tls.Certificate{pair}}
	if _, serr, _ := handshake(t, expired, sup.ServerConfig()); serr == nil || !strings.Contains(serr.Error(), "expired") {
		t.Errorf("expired client certificate: %v", serr)
	}
}

// TestSenders: replies and events only from supervisors, reports only from agents, anything
// unlisted from nobody.
func TestSenders(t *testing.T) {
	for _, c := range []struct {
		role Role
		typ  string
		ok   bool
	}{
		{RoleAgent, "standby.v1.AgentReport", true}, {RoleOperator, "standby.v1.AgentReport", false},
		{RoleSupervisor, "standby.v1.AgentReply", true}, {RoleAgent, "standby.v1.AgentReply", false}, {RoleOperator, "standby.v1.AgentReply", false},
		{RoleSupervisor, "standby.v1.ControlEvent", true}, {RoleOperator, "standby.v1.ControlEvent", false}, {RoleAgent, "standby.v1.ControlEvent", false},
		{RoleOperator, "standby.v1.ControlRequest", true}, {RoleAgent, "standby.v1.ControlRequest", false},
		{RoleSupervisor, "standby.v1.CommandRequest", true}, {RoleAgent, "standby.v1.CommandRequest", false}, {RoleOperator, "standby.v1.CommandRequest", false},
		{RoleAgent, "standby.v1.CommandResult", true}, {RoleSupervisor, "standby.v1.CommandResult", false}, {RoleOperator, "standby.v1.CommandResult", false},
		{RoleAgent, "actor.Terminated", true}, {RoleSupervisor, "actor.PoisonPill", false}, {RoleSupervisor, "standby.v1.Status", false},
	} {
		if got := MaySend(c.role, c.typ); got != c.ok {
			t.Errorf("%s may send %s = %v", c.role, c.typ, got)
		}
	}
}
