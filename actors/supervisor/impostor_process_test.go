package supervisor

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// impostorAgent starts a second real agent process reporting machine name with the studio's
// agent token, watching an engine pidfile that does not exist: it reports the engine down.
func (s *studio) impostorAgent(t *testing.T, name, listen string) *proc {
	t.Helper()
	cfg := fmt.Sprintf(`
name = %q
supervisors = [%q]
listen = %q
token = %q
heartbeat_interval = "50ms"
[[service]]
name = "engine"
kind = "process"
pidfile = %q
`, name, s.supAddr, listen, procToken, filepath.Join(s.dir, "no-such-engine.pid"))
	path := filepath.Join(s.dir, name+"-impostor.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "impostor "+name, s.bin, "agent", "--config", path)
}

// TestProcessesImpostorAgent: a second agent process with render-1's name and the agent token
// reports its engine down while render-1's own agent reports it healthy. The supervisor raises
// duplicate_agent naming both agents, keeps following the established one (no transition of the
// pair) and still fails over when the real engine is killed.
func TestProcessesImpostorAgent(t *testing.T) {
	s := newStudio(t, freePort(t, "127.0.0.1"), 8)
	if err := s.hub.SetRoute(2, 0); err != nil {
		t.Fatal(err)
	}
	s.run(t, 250*time.Millisecond, "", `
[[machine]]
name = "render-1"
[[machine]]
name = "render-1b"
[[pair]]
name = "cam1"
router = "hub1"
main = "render-1"
backup = "render-1b"
failback = "manual"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1, 3]
`)
	mainEngine := engine(t, filepath.Join(s.dir, "render-1.pid"))
	engine(t, filepath.Join(s.dir, "render-1b.pid"))
	realAddr, impostorAddr := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	s.agent(t, "render-1", realAddr)
	s.agent(t, "render-1b", "127.0.0.1:0")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	s.impostorAgent(t, "render-1", impostorAddr)
	alarm := s.sup.waitLog(10*time.Second, map[string]string{"message": "machine alarm", "machine": "render-1", "alarm": "duplicate_agent"})
	detail := fmt.Sprint(alarm["detail"])
	if !strings.Contains(detail, realAddr+" (session ") || !strings.Contains(detail, ", established)") ||
		!strings.Contains(detail, impostorAddr+" (session ") || !strings.Contains(detail, "held until acknowledged)") {
		t.Fatalf("alarm detail %q does not name the agent at %s as established and the one at %s as held", detail, realAddr, impostorAddr)
	}

	// Both report every 50 ms: over four heartbeat timeouts the pair must not move, nor the
	// machine condition change, and the alarm is logged once. (A window in which nothing may
	// happen, not a wait for something.)
	window := time.After(time.Second)
	for watching := true; watching; {
		select {
		case m := <-s.sup.lines:
			switch m["message"] {
			case "pair transition", "machine condition", "machine alarm":
				t.Fatalf("while the impostor reports its engine down: %v", m)
			}
		case <-window:
			watching = false
		}
	}
	if r := s.hub.State().Routes; r[0] != 0 || r[2] != 0 {
		t.Fatalf("routes moved while the impostor reported: %v", r)
	}

	// The real engine dies: the established agent says so, the pair switches.
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})
	s.waitRoute(t, 1)
}
