package supervisor

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"standby/protocol/identity"
)

// TestProcessesAgentCommand: on a failover the backup's real agent process (mutual TLS, so the
// result must come from the agent certificate of that machine) runs the [[command]] its config
// declares, with the event in its environment; a name it does not declare is refused with a
// clear error and reported as a failed run.
func TestProcessesAgentCommand(t *testing.T) {
	s := newStudio(t, freePort(t, "127.0.0.1"), 8)
	certs := filepath.Join(s.dir, "certs")
	for _, args := range [][]string{
		{"init", "--dir", certs}, {"issue", "--dir", certs, "--supervisor", "studio"},
		{"issue", "--dir", certs, "--agent", "m1"}, {"issue", "--dir", certs, "--agent", "b1"},
	} {
		if out, err := exec.Command(s.bin, append([]string{"certs"}, args...)...).CombinedOutput(); err != nil {
			t.Fatalf("standby certs %v: %v\n%s", args, err, out)
		}
	}
	ca := filepath.Join(certs, identity.CAFile)
	shown := filepath.Join(s.dir, "show-loaded")
	s.agentTLS = func(name string) string {
		crt, key := identity.CertFiles(certs, name)
		return fmt.Sprintf(`[tls]
ca = %q
cert = %q
key = %q
[[command]]
name = "load-show"
exec = ["/bin/sh", "-c", "env | grep ^STANDBY_ | sort > %s.$STANDBY_MACHINE; echo loaded the show of $STANDBY_MAIN"]
timeout = "5s"
`, ca, crt, key, shown)
	}
	supCrt, supKey := identity.CertFiles(certs, "studio")
	if err := s.hub.SetRoute(2, 0); err != nil {
		t.Fatal(err)
	}
	s.run(t, 250*time.Millisecond, "", fmt.Sprintf(`
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
[[action]]
name = "load-show"
on = ["failover"]
kind = "agent"
machine = "{{.Machine}}"
command = "load-show"
timeout = "10s"
[[action]]
name = "undeclared"
on = ["failover"]
kind = "agent"
machine = "{{.Machine}}"
command = "format-disk"
[tls]
ca = %q
cert = %q
key = %q
`, ca, supCrt, supKey))
	mainEngine := engine(t, filepath.Join(s.dir, "m1.pid"))
	engine(t, filepath.Join(s.dir, "b1.pid"))
	s.agent(t, "m1", "127.0.0.1:0")
	agentB := s.agent(t, "b1", "127.0.0.1:0")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.waitRoute(t, 1)
	// The two results come in either order; the supervisor's log has one line for each.
	results := map[string]map[string]any{}
	for len(results) < 2 {
		m := s.sup.waitLog(15*time.Second, map[string]string{"message": "action run"})
		results[fmt.Sprint(m["action"])] = m
	}
	if m := results["load-show"]; m["result"] != "ok" || m["event"] != "failover" || m["pair"] != "cam1" ||
		m["detail"] != "load-show on b1: exit code 0: loaded the show of m1" {
		t.Fatalf("load-show: %v", m)
	}
	if m := results["undeclared"]; m["result"] != "failed" ||
		!strings.Contains(fmt.Sprint(m["detail"]), `agent of b1 declares no [[command]] "format-disk" (declared: load-show)`) {
		t.Fatalf("undeclared: %v", m)
	}
	agentB.waitLog(5*time.Second, map[string]string{"message": "refused command", "command": "format-disk"})
	b, err := os.ReadFile(shown + ".b1")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"STANDBY_EVENT=failover", "STANDBY_MAIN=m1", "STANDBY_MACHINE=b1", "STANDBY_TRIGGER=engine", "STANDBY_PAIR=cam1"} {
		if !strings.Contains(string(b), want+"\n") {
			t.Errorf("command environment lacks %s:\n%s", want, b)
		}
	}
}
