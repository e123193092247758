package supervisor

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"standby/protocol/videohub/vhsim"
)

// These tests run the real binary: a supervisor process and agent processes watching real
// engine processes, switching a Videohub simulator that the test watches as an independent client.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// standbyBinary builds ./cmd/standby once per test run.
func standbyBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("process tests build and run the binary; skipped with -short")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "standby-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "standby")
		out, err := exec.Command("go", "build", "-o", binPath, "../../cmd/standby").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a child process whose JSON log lines are parsed and handed to waiters.
type proc struct {
	t     *testing.T
	name  string
	cmd   *exec.Cmd
	lines chan map[string]any
	// seen is every line so far, for sawLog (a line may come before the wait that wants it, e.g.
	// while start waits for "standby running").
	mu   sync.Mutex
	seen []map[string]any
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	return startProcOut(t, name, nil, args...)
}

// startProcOut is startProc with the process's stdout going to stdout.
func startProcOut(t *testing.T, name string, stdout io.Writer, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, cmd: exec.Command(args[0], args[1:]...), lines: make(chan map[string]any, 4096)}
	p.cmd.Stdout = stdout
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			t.Logf("%s: %s", name, sc.Text())
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				p.mu.Lock()
				p.seen = append(p.seen, m)
				p.mu.Unlock()
				select {
				case p.lines <- m:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGCONT)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		_ = p.cmd.Wait()
	})
	return p
}

// waitLog waits for a log line whose fields include every key=value of want.
func (p *proc) waitLog(timeout time.Duration, want map[string]string) map[string]any {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m := <-p.lines:
			if matches(m, want) {
				return m
			}
		case <-deadline:
			p.t.Fatalf("%s: no log line with %v within %s", p.name, want, timeout)
			return nil
		}
	}
}

// sawLog is waitLog for a line that may already have been logged (and taken by another wait).
func (p *proc) sawLog(timeout time.Duration, want map[string]string) map[string]any {
	p.t.Helper()
	deadline := time.After(timeout)
	for {
		p.mu.Lock()
		for _, m := range p.seen {
			if matches(m, want) {
				p.mu.Unlock()
				return m
			}
		}
		p.mu.Unlock()
		select {
		case <-p.lines: // a new line: look again
		case <-deadline:
			p.t.Fatalf("%s: no log line with %v within %s", p.name, want, timeout)
			return nil
		}
	}
}

func matches(m map[string]any, want map[string]string) bool {
	for k, v := range want {
		if fmt.Sprint(m[k]) != v {
			return false
		}
	}
	return true
}

func freePort(t *testing.T, host string) string {
	t.Helper()
	l, err := net.Listen("tcp", host+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// engine starts a stand-in engine process and writes its pid to pidfile.
func engine(t *testing.T, pidfile string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "3600")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return cmd
}

type studio struct {
	dir, bin, supAddr string
	hub               *vhsim.Server
	sup               *proc
	// agentTLS, when set, is the [tls] table of every agent's config, given the machine's name.
	agentTLS func(name string) string
}

const procToken = "process-test-token"

func startStudio(t *testing.T, supListen string) *studio {
	t.Helper()
	return startStudioTimeout(t, supListen, 250*time.Millisecond)
}

// startStudioTimeout is startStudio with another heartbeat_timeout.
func startStudioTimeout(t *testing.T, supListen string, timeout time.Duration) *studio {
	t.Helper()
	s := newStudio(t, supListen, 8)
	if err := s.hub.SetRoute(2, 0); err != nil { // the main on air on both pair outputs
		t.Fatal(err)
	}
	s.run(t, timeout, `flap_max = 10 # this test fails over and back four times within a minute
`, `
[[machine]]
name = "m1"
[[machine]]
name = "b1"
[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
failback = "automatic"
failback_after = "500ms"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1, 3]
`)
	return s
}

// newStudio starts a ports×ports Videohub simulator for a studio whose supervisor will listen on
// supListen.
func newStudio(t *testing.T, supListen string, ports int) *studio {
	t.Helper()
	s := &studio{dir: t.TempDir(), bin: standbyBinary(t), supAddr: supListen}
	hub, err := vhsim.Start(vhsim.Options{Listen: "127.0.0.1:0", Inputs: ports, Outputs: ports})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	s.hub = hub
	return s
}

// run writes the supervisor's config (its [supervisor] table plus extra keys, the simulator as
// router hub1, then body) and starts the supervisor process.
func (s *studio) run(t *testing.T, timeout time.Duration, extra, body string) {
	t.Helper()
	cfg := fmt.Sprintf(`
[supervisor]
listen = %q
http = "127.0.0.1:0"
state_dir = %q
heartbeat_timeout = %q
agent_token = %q
%s[[router]]
name = "hub1"
address = %q
ping_interval = "200ms"
`, s.supAddr, filepath.Join(s.dir, "state"), timeout.String(), procToken, extra, s.hub.Addr()) + body
	path := filepath.Join(s.dir, "standby.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	s.sup = startProc(t, "supervisor", s.bin, "run", "--config", path, "--log-level", "info")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "standby running"})
}

// agent starts an agent process for machine name watching the engine in pidfile.
func (s *studio) agent(t *testing.T, name, listen string, wrap ...string) *proc {
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
`, name, s.supAddr, listen, procToken, filepath.Join(s.dir, name+".pid"))
	if s.agentTLS != nil {
		cfg += s.agentTLS(name)
	}
	path := filepath.Join(s.dir, name+"-agent.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append(append([]string(nil), wrap...), s.bin, "agent", "--config", path)
	return startProc(t, "agent "+name, args...)
}

func (s *studio) waitRoute(t *testing.T, in int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, out := range []int{0, 2} {
		if err := s.hub.WaitRoute(ctx, out, in); err != nil {
			t.Fatalf("output %d never showed input %d: %v (routes %v)", out+1, in+1, err, s.hub.State().Routes)
		}
	}
}

func TestProcessesEngineKillAndAgentStop(t *testing.T) {
	s := startStudio(t, freePort(t, "127.0.0.1"))
	mainEngine := engine(t, filepath.Join(s.dir, "m1.pid"))
	engine(t, filepath.Join(s.dir, "b1.pid"))
	agentM := s.agent(t, "m1", "127.0.0.1:0")
	s.agent(t, "b1", "127.0.0.1:0")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	// kill -9 the main's engine: engine failure, the router moves to the backup.
	killed := time.Now()
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.waitRoute(t, 1)
	t.Logf("kill -9 → router shows the backup: %s", time.Since(killed))
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})

	// The engine restarts (new pid in its pidfile): healthy again, automatic failback.
	engine(t, filepath.Join(s.dir, "m1.pid"))
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main", "trigger": "failback"})
	s.waitRoute(t, 0)

	// SIGSTOP the main's agent: network failure within the heartbeat timeout.
	stopped := time.Now()
	if err := syscall.Kill(agentM.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	s.waitRoute(t, 1)
	t.Logf("SIGSTOP agent → router shows the backup: %s", time.Since(stopped))
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "network"})

	// SIGCONT: healthy again, failback.
	if err := syscall.Kill(agentM.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main", "trigger": "failback"})
	s.waitRoute(t, 0)
}

// TestProcessesSupervisorPause freezes the supervisor itself (SIGSTOP for three heartbeat
// timeouts) while its machines stay healthy: on waking it must notice its own pause and not fail
// over for the silence it caused, then still fail over at once for a real failure. The timeout is
// 1 s so that agents starved by whatever else CI runs are not mistaken for silent.
func TestProcessesSupervisorPause(t *testing.T) {
	const timeout = time.Second
	s := startStudioTimeout(t, freePort(t, "127.0.0.1"), timeout)
	mainEngine := engine(t, filepath.Join(s.dir, "m1.pid"))
	engine(t, filepath.Join(s.dir, "b1.pid"))
	s.agent(t, "m1", "127.0.0.1:0")
	s.agent(t, "b1", "127.0.0.1:0")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	if err := syscall.Kill(s.sup.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * timeout) // the pause under test, not a wait for an event
	if err := syscall.Kill(s.sup.cmd.Process.Pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	s.sup.waitLog(5*time.Second, map[string]string{"level": "warn", "message": "supervisor was paused (GC, SIGSTOP, VM or CPU starvation): machines get a fresh heartbeat timeout"})

	// Watch two heartbeat timeouts after the pause: a machine blamed for it would be declared
	// failed (network) and the pair would switch within one.
	window := time.After(2 * timeout)
	for watching := true; watching; {
		select {
		case m := <-s.sup.lines:
			if m["message"] == "pair transition" || (m["message"] == "machine condition" && m["failure"] != "") {
				t.Fatalf("after the supervisor's own pause: %v", m)
			}
		case <-window:
			watching = false
		}
	}
	if routes := s.hub.State().Routes; routes[0] != 0 || routes[2] != 0 {
		t.Fatalf("routing moved after the pause: %v", routes)
	}

	// Detection still works at full speed after the pause.
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	s.waitRoute(t, 1)
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})
}

// TestProcessesRestartWithBackupOnAir: the supervisor dies while the backup is on air (kill -9),
// and a new one starts. It must learn from the router that the backup is on air and arm on it,
// not believe the main is on air, and not move the routing.
func TestProcessesRestartWithBackupOnAir(t *testing.T) {
	s := startStudio(t, freePort(t, "127.0.0.1"))
	engine(t, filepath.Join(s.dir, "m1.pid"))
	engine(t, filepath.Join(s.dir, "b1.pid"))
	s.agent(t, "m1", "127.0.0.1:0")
	s.agent(t, "b1", "127.0.0.1:0")
	s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	if err := syscall.Kill(-s.sup.cmd.Process.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.sup.cmd.Wait()
	// Meanwhile someone (a panel, or the dead supervisor's last switch) put the backup on air.
	for _, out := range []int{0, 2} {
		if err := s.hub.SetRoute(out, 1); err != nil {
			t.Fatal(err)
		}
	}
	s.sup = startProc(t, "supervisor again", s.bin, "run", "--config", filepath.Join(s.dir, "standby.toml"), "--log-level", "info")
	armed := s.sup.waitLog(10*time.Second, map[string]string{"message": "pair transition", "from": "unarmed"})
	if armed["to"] != "on-backup" {
		t.Fatalf("after the restart the pair armed %v, want on-backup as the router shows", armed)
	}
	if routes := s.hub.State().Routes; routes[0] != 1 || routes[2] != 1 {
		t.Fatalf("the restart moved the routing: %v", routes)
	}
}

// TestProcessesNetworkPartition runs the main's agent in its own network namespace, joined to the
// supervisor by a veth pair, and cuts the link.
func TestProcessesNetworkPartition(t *testing.T) {
	if os.Geteuid() != 0 {
		noNetns(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		noNetns(t, "network namespaces need iproute2's ip command")
	}
	ns := fmt.Sprintf("standby-test-%d", os.Getpid())
	vethHost, vethNS := fmt.Sprintf("sbh%d", os.Getpid()%100000), fmt.Sprintf("sbn%d", os.Getpid()%100000)
	run := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := run("netns", "add", ns); err != nil {
		noNetns(t, "network namespaces unavailable here: %v", err)
	}
	t.Cleanup(func() { _ = run("link", "del", vethHost); _ = run("netns", "del", ns) })
	for _, args := range [][]string{
		{"link", "add", vethHost, "type", "veth", "peer", "name", vethNS},
		{"link", "set", vethNS, "netns", ns},
		{"addr", "add", "10.231.0.1/24", "dev", vethHost},
		{"link", "set", vethHost, "up"},
		{"-n", ns, "addr", "add", "10.231.0.2/24", "dev", vethNS},
		{"-n", ns, "link", "set", vethNS, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
	} {
		if err := run(args...); err != nil {
			t.Fatal(err)
		}
	}
	s := startStudio(t, freePort(t, "10.231.0.1"))
	engine(t, filepath.Join(s.dir, "m1.pid"))
	engine(t, filepath.Join(s.dir, "b1.pid"))
	s.agent(t, "m1", "10.231.0.2:0", "ip", "netns", "exec", ns)
	s.agent(t, "b1", "127.0.0.1:0")
	s.sup.waitLog(15*time.Second, map[string]string{"message": "pair transition", "to": "on-main"})
	s.waitRoute(t, 0)

	cut := time.Now()
	if err := run("link", "set", vethHost, "down"); err != nil {
		t.Fatal(err)
	}
	s.waitRoute(t, 1)
	t.Logf("link cut → router shows the backup: %s", time.Since(cut))
	s.sup.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "network"})

	if err := run("link", "set", vethHost, "up"); err != nil {
		t.Fatal(err)
	}
	s.sup.waitLog(20*time.Second, map[string]string{"message": "pair transition", "to": "on-main", "trigger": "failback"})
	s.waitRoute(t, 0)
}
