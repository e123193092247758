package supervisor

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// poolStudio runs a supervisor process whose config is body after the supervisor and router
// tables, against a 12x12 Videohub simulator with routes (1-based output → input) set first.
func poolStudio(t *testing.T, body string, routes map[int]int) *studio {
	t.Helper()
	s := newStudio(t, freePort(t, "127.0.0.1"), 12)
	for out, in := range routes {
		if err := s.hub.SetRoute(out-1, in-1); err != nil {
			t.Fatal(err)
		}
	}
	s.run(t, 250*time.Millisecond, "", body)
	return s
}

// waitRoutes waits until every output (1-based) shows its input (1-based).
func (s *studio) waitRoutes(t *testing.T, want map[int]int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for out, in := range want {
		if err := s.hub.WaitRoute(ctx, out-1, in-1); err != nil {
			t.Fatalf("output %d never showed input %d: %v (routes, 0-based: %v)", out, in, err, s.hub.State().Routes)
		}
	}
}

// waitArmed waits until every main of the pool has armed on itself, in any order.
func (s *studio) waitArmed(t *testing.T, mains ...string) {
	t.Helper()
	left := map[string]bool{}
	for _, m := range mains {
		left[m] = true
	}
	deadline := time.After(10 * time.Second)
	for len(left) > 0 {
		select {
		case m := <-s.sup.lines:
			if m["message"] == "pool transition" && m["to"] == "on-main" {
				delete(left, fmt.Sprint(m["main"]))
			}
		case <-deadline:
			t.Fatalf("mains never armed: %v", left)
		}
	}
}

// machines starts an engine and its agent for each name; it returns the engines by name.
func (s *studio) machines(t *testing.T, names ...string) map[string]*exec.Cmd {
	t.Helper()
	engines := map[string]*exec.Cmd{}
	for _, n := range names {
		engines[n] = engine(t, filepath.Join(s.dir, n+".pid"))
		s.agent(t, n, "127.0.0.1:0")
	}
	return engines
}

const threeMainsOneSpare = `
[[machine]]
name = "r1"
[machine.feed.pgm]
input = 1
outputs = [1]
[machine.feed.key]
input = 2
outputs = [2]
[[machine]]
name = "r2"
[machine.feed.pgm]
input = 3
outputs = [3]
[machine.feed.key]
input = 4
outputs = [4]
[[machine]]
name = "r3"
[machine.feed.pgm]
input = 5
outputs = [5]
[[machine]]
name = "s1"
[machine.feed.pgm]
input = 9
[machine.feed.key]
input = 10
[[pool]]
name = "renders"
router = "hub1"
mains = ["r1", "r2", "r3"]
backups = ["s1"]
failback = "automatic"
failback_after = "1s"
`

// TestProcessesPoolNto1: three mains share one spare, with real agents watching real engines.
// The first main to fail gets the spare role by role; the second waits (no_backup_free, its
// outputs untouched); when the first is healthy past failback_after it returns to air and the
// spare moves to the waiting main at once.
func TestProcessesPoolNto1(t *testing.T) {
	onMains := map[int]int{1: 1, 2: 2, 3: 3, 4: 4, 5: 5}
	s := poolStudio(t, threeMainsOneSpare, onMains)
	engines := s.machines(t, "r1", "r2", "r3", "s1")
	s.waitArmed(t, "r1", "r2", "r3")
	s.waitRoutes(t, onMains)

	killed := time.Now()
	if err := engines["r2"].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.waitRoutes(t, map[int]int{3: 9, 4: 10}) // r2's pgm and key on the spare's pgm and key
	t.Logf("kill -9 of r2's engine → router shows the spare: %s", time.Since(killed))
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pool transition", "main": "r2", "to": "on-backup", "machine": "s1", "trigger": "engine"})

	// r1 fails too: no backup free, nothing moves.
	if err := engines["r1"].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.sup.waitLog(5*time.Second, map[string]string{"main": "r1", "alarm": "no_backup_free"})
	if routes := s.hub.State().Routes; routes[0] != 0 || routes[1] != 1 {
		t.Fatalf("r1's outputs moved without a free backup: %v", routes)
	}

	// r2's engine comes back: after failback_after r2 returns, and the spare goes to r1.
	engine(t, filepath.Join(s.dir, "r2.pid"))
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pool transition", "main": "r2", "to": "on-main", "trigger": "failback"})
	s.waitRoutes(t, map[int]int{3: 3, 4: 4, 1: 9, 2: 10, 5: 5})
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pool transition", "main": "r1", "to": "on-backup", "machine": "s1"})
}

// TestProcessesPoolNtoM: two mains, two backups, the first backup unhealthy (its engine never
// started) and the second lacking the key role: a failed main goes to the healthy one, and its
// key output stays on the main (partial coverage, said in the log).
func TestProcessesPoolNtoM(t *testing.T) {
	body := `
[[machine]]
name = "r1"
[machine.feed.pgm]
input = 1
outputs = [1]
[machine.feed.key]
input = 2
outputs = [2]
[[machine]]
name = "r2"
[machine.feed.pgm]
input = 3
outputs = [3]
[[machine]]
name = "s1"
[machine.feed.pgm]
input = 9
[machine.feed.key]
input = 10
[[machine]]
name = "s2"
[machine.feed.pgm]
input = 11
[[pool]]
name = "renders"
router = "hub1"
mains = ["r1", "r2"]
backups = ["s1", "s2"]
`
	onMains := map[int]int{1: 1, 2: 2, 3: 3}
	s := poolStudio(t, body, onMains)
	s.agent(t, "s1", "127.0.0.1:0") // no engine: s1 reports its engine down
	s.sup.waitLog(10*time.Second, map[string]string{"message": "machine condition", "machine": "s1", "failure": "engine"})
	engines := s.machines(t, "r1", "r2", "s2")
	s.waitArmed(t, "r1", "r2")
	if err := engines["r1"].Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.sup.waitLog(5*time.Second, map[string]string{"main": "r1", "message": "partial coverage: r1's outputs [2] stay on r1 (s2 lacks their roles)"})
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pool transition", "main": "r1", "to": "on-backup", "machine": "s2"})
	s.waitRoutes(t, map[int]int{1: 11, 2: 2, 3: 3})
}
