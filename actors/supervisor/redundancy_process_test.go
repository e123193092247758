package supervisor

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// pairOfSupervisors is a studio with two supervisors (primary A, secondary-failover B) sharing
// the simulator, and agents reporting to both.
type pairOfSupervisors struct {
	*studio
	addrA, addrB string
	cfgA, cfgB   string
}

const redundantBody = `
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
`

func newPairOfSupervisors(t *testing.T) *pairOfSupervisors {
	t.Helper()
	p := &pairOfSupervisors{studio: newStudio(t, "", 8), addrA: freePort(t, "127.0.0.1"), addrB: freePort(t, "127.0.0.1")}
	if err := p.hub.SetRoute(2, 0); err != nil {
		t.Fatal(err)
	}
	write := func(name, listen, peer, mode string) string {
		cfg := fmt.Sprintf(`
[supervisor]
name = %q
listen = %q
http = "127.0.0.1:0"
state_dir = %q
heartbeat_timeout = "250ms"
agent_token = %q
[redundancy]
mode = %q
peer = %q
failover_offset = "500ms"
sync_interval = "25ms"
[[router]]
name = "hub1"
address = %q
ping_interval = "200ms"
`, name, listen, filepath.Join(p.dir, name+"-state"), procToken, mode, peer, p.hub.Addr()) + redundantBody
		path := filepath.Join(p.dir, name+".toml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.cfgA = write("studio-a", p.addrA, p.addrB, "primary")
	p.cfgB = write("studio-b", p.addrB, p.addrA, "secondary-failover")
	return p
}

func (p *pairOfSupervisors) start(t *testing.T, name, cfg string) *proc {
	t.Helper()
	sp := startProc(t, name, p.bin, "run", "--config", cfg, "--log-level", "info")
	sp.waitLog(10*time.Second, map[string]string{"message": "standby running"})
	return sp
}

// agent starts machine name's agent reporting to both supervisors.
func (p *pairOfSupervisors) agent(t *testing.T, name string) *proc {
	t.Helper()
	cfg := fmt.Sprintf(`
name = %q
supervisors = [%q, %q]
listen = "127.0.0.1:0"
token = %q
heartbeat_interval = "25ms"
[[service]]
name = "engine"
kind = "process"
pidfile = %q
`, name, p.addrA, p.addrB, procToken, filepath.Join(p.dir, name+".pid"))
	path := filepath.Join(p.dir, name+"-agent.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "agent "+name, p.bin, "agent", "--config", path)
}

// TestProcessesSupervisorTakeover: a primary and a secondary-failover supervisor with agents
// reporting to both. The primary becomes active and arms the pair; the secondary is Synced and
// standby. kill -9 of the primary: the secondary becomes active after failover_offset (the agents
// confirm they lost it too) without touching the router, then handles a main failure. The primary
// restarts: it takes control back (automatic failback) without any crosspoint change.
func TestProcessesSupervisorTakeover(t *testing.T) {
	p := newPairOfSupervisors(t)
	mainEngine := engine(t, filepath.Join(p.dir, "m1.pid"))
	engine(t, filepath.Join(p.dir, "b1.pid"))
	supA := p.start(t, "primary", p.cfgA)
	supB := p.start(t, "secondary", p.cfgB)
	p.agent(t, "m1")
	p.agent(t, "b1")
	supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	supB.waitLog(10*time.Second, map[string]string{"message": "sync link", "status": "Synced"})
	p.waitRoute(t, 0) // the pair arms on its main on both sides (a standby one follows too)

	killed := time.Now()
	if err := supA.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	t.Logf("kill -9 of the primary → secondary active: %s (failover_offset 500ms)", time.Since(killed))
	if r := p.hub.State().Routes; r[0] != 0 || r[2] != 0 {
		t.Fatalf("the takeover moved the router: %v", r)
	}

	crashed := time.Now()
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitRoute(t, 1)
	t.Logf("then kill -9 of the main's engine → router on the backup: %s", time.Since(crashed))
	supB.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})

	// The primary returns: it hands back through a moment with nobody active and routes nothing.
	supA2 := p.start(t, "primary again", p.cfgA)
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now standby"})
	supA2.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := p.hub.WaitRoute(ctx, 0, 0); err == nil {
		t.Fatal("the failback of the supervisor put the dead main back on air")
	}
	if r := p.hub.State().Routes; r[0] != 1 || r[2] != 1 {
		t.Fatalf("routes after the primary returned: %v, want the backup (input 2) on outputs 1 and 3", r)
	}
}
