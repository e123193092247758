package agent

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/node"
	"standby/protocol/pb"
)

// arrival is a report as the stand-in gateway received it.
type arrival struct {
	r  *pb.AgentReport
	at time.Time
}

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
	buildOut  []byte
)

// The process-level tests share one node: two Remotes in one process race inside gRPC's logger. It is
// never stopped: protoactor's Remote.Shutdown is not race-clean (under -race) with a peer that is
// connected, sending or leaving at that moment (endpointManager.stop writes fields its event
// handlers and senders read unsynchronised). The process exits at the end of the run.
var (
	nodeOnce sync.Once
	testNode *node.Node
	nodeErr  error
)

// sharedNode returns the test process's node, with gw spawned as the stand-in gateway for this test.
func sharedNode(t *testing.T, gw actor.ReceiveFunc) *node.Node {
	t.Helper()
	nodeOnce.Do(func() {
		testNode, nodeErr = node.Start(node.Options{Listen: "127.0.0.1:0", Logger: zerolog.Nop()})
	})
	if nodeErr != nil {
		t.Fatal(nodeErr)
	}
	pid, err := testNode.System.Root.SpawnNamed(actor.PropsFromFunc(gw), pb.GatewayActorID)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = testNode.System.Root.StopFuture(pid).Wait() })
	return testNode
}

// TestMain removes the standby binary the process-level tests build.
func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" {
		os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// buildStandby builds the standby binary once per test run.
func buildStandby(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "standby-agent-test")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "standby")
		cmd := exec.Command("go", "build", "-o", buildBin, "./cmd/standby")
		cmd.Dir = filepath.Join("..", "..") // the module root
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/standby (the binary holds every subcommand, so any broken one fails this): %v\n%s", buildErr, buildOut)
	}
	return buildBin
}

// lockedBuffer collects the agent process's log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAgentProcessReportsKill runs `standby agent` as its own process against a stand-in gateway in
// this test process (one Remote here, one there, so -race stays clean), kills the watched process with SIGKILL again and
// again, and logs how long the down report took to arrive.
func TestAgentProcessReportsKill(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the standby binary")
	}
	bin := buildStandby(t)
	dir := t.TempDir()

	arrivals := make(chan arrival, 4096)
	n := sharedNode(t, func(ctx actor.Context) {
		if r, ok := ctx.Message().(*pb.AgentReport); ok {
			arrivals <- arrival{r, time.Now()}
			ctx.Respond(&pb.AgentReply{Accepted: true, Active: true, Seq: r.Seq})
		}
	})

	pidfile := filepath.Join(dir, "engine.pid")
	startEngine := func() *exec.Cmd {
		cmd := exec.Command("sleep", "60")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	engine := startEngine()

	cfg := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
name = "render-1"
supervisors = [%q]
listen = "127.0.0.1:0"
token = "tok"
heartbeat_interval = "50ms"
[[service]]
name = "engine"
kind = "process"
pidfile = %q
interval = "10ms"
[[service]]
name = "videoio"
kind = "sim"
[[health]]
name = "gpu_temp"
sim = 60.0
`, n.Address(), pidfile)), 0o644); err != nil {
		t.Fatal(err)
	}
	var agentLog lockedBuffer
	agentCmd := exec.Command(bin, "agent", "--config", cfg, "--log-level", "debug")
	agentCmd.Stdout, agentCmd.Stderr = &agentLog, &agentLog
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- agentCmd.Wait() }()
	defer func() {
		_ = agentCmd.Process.Kill()
		if t.Failed() {
			lines := strings.Split(agentLog.String(), "\n")
			t.Logf("agent log (last 40 lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}()

	wait := func(what string, ok func(*pb.AgentReport) bool) arrival {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case a := <-arrivals:
				if ok(a.r) {
					return a
				}
			case err := <-exited:
				t.Fatalf("agent exited while waiting for %s: %v", what, err)
			case <-deadline:
				t.Fatalf("no report with %s within 20s", what)
			}
		}
	}
	engineUp := func(r *pb.AgentReport) bool { return len(r.Services) > 0 && r.Services[0].Up }
	first := wait("engine up", engineUp)
	if first.r.Machine != "render-1" || first.r.AgentAddress == "" {
		t.Fatalf("first report %v", first.r)
	}

	kills := 50
	var lat []time.Duration
	for i := range kills {
		killed := time.Now()
		if err := engine.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		down := wait("engine down", func(r *pb.AgentReport) bool { return !engineUp(r) })
		if !down.r.Change {
			t.Errorf("kill %d: the down report was a heartbeat, not a change report", i)
		}
		lat = append(lat, down.at.Sub(killed))
		_ = engine.Wait()
		engine = startEngine()
		wait("engine up again", engineUp)
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	t.Logf("kill -9 → down report at the gateway over %d kills: p50 %s  p90 %s  p99 %s  max %s",
		len(lat), pct(0.50), pct(0.90), pct(0.99), lat[len(lat)-1])

	// Sim values set over remote reach the gateway at once.
	agentPID := actor.NewPID(first.r.AgentAddress, pb.AgentActorID)
	res, err := n.System.Root.RequestFuture(agentPID, &pb.SimSet{Token: "tok",
		Services: []*pb.SimSet_Service{{Name: "videoio", Up: false, Reason: "SDI lost"}}}, 5*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	if r := res.(*pb.SimSetReply); !r.Accepted {
		t.Fatalf("sim set refused: %v", r)
	}
	wait("videoio down", func(r *pb.AgentReport) bool {
		return r.Change && len(r.Services) > 1 && !r.Services[1].Up && r.Services[1].Reason == "SDI lost"
	})

	// SIGTERM stops the agent cleanly, even with its supervisor gone.
	termAt := time.Now()
	if err := agentCmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("agent exit after SIGTERM: %v", err)
		}
		t.Logf("agent exited %s after SIGTERM", time.Since(termAt))
	case <-time.After(20 * time.Second):
		t.Fatal("agent did not exit after SIGTERM")
	}
}

// TestAgentProcessFollowsActive runs `standby agent` with a dead primary and this process as the
// second supervisor. The agent reports to both all the time (every other seq arrives here: a
// standby supervisor's view stays warm), and each report says what it hears of this supervisor
// (its name, role and term, from the replies): the witness votes a takeover needs.
func TestAgentProcessFollowsActive(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the standby binary")
	}
	bin := buildStandby(t)
	dir := t.TempDir()

	var active atomic.Bool
	active.Store(true)
	reports := make(chan *pb.AgentReport, 4096)
	n := sharedNode(t, func(ctx actor.Context) {
		if r, ok := ctx.Message().(*pb.AgentReport); ok {
			select {
			case reports <- r:
			default:
			}
			ctx.Respond(&pb.AgentReply{Accepted: true, Active: active.Load(), Seq: r.Seq, Supervisor: "second", Term: 3})
		}
	})
	dead, err := net.Listen("tcp", "127.0.0.1:0") // a port nobody answers on once closed
	if err != nil {
		t.Fatal(err)
	}
	deadAddr := dead.Addr().String()
	dead.Close()

	cfg := filepath.Join(dir, "agent.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`
name = "render-1"
supervisors = [%q, %q]
listen = "127.0.0.1:0"
token = "tok"
heartbeat_interval = "10ms"
[[service]]
name = "engine"
kind = "sim"
`, deadAddr, n.Address())), 0o644); err != nil {
		t.Fatal(err)
	}
	var agentLog lockedBuffer
	agentCmd := exec.Command(bin, "agent", "--config", cfg)
	agentCmd.Stdout, agentCmd.Stderr = &agentLog, &agentLog
	if err := agentCmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = agentCmd.Process.Kill()
		_ = agentCmd.Wait()
		if t.Failed() {
			lines := strings.Split(agentLog.String(), "\n")
			t.Logf("agent log (last 40 lines):\n%s", strings.Join(lines[max(0, len(lines)-40):], "\n"))
		}
	}()

	// waitReports waits until five consecutive reports arrive two apart in seq (one to each
	// supervisor, the dead one included) and say that this one is heard with the given role.
	waitReports := func(what string, active bool) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		var last uint64
		run := 0
		for run < 5 {
			select {
			case r := <-reports:
				heard := len(r.Heard) == 1 && r.Heard[0].Supervisor == "second" && r.Heard[0].Active == active && r.Heard[0].Term == 3
				if last != 0 && r.Seq-last == 2 && heard {
					run++
				} else {
					run = 0
				}
				last = r.Seq
			case <-deadline:
				t.Fatalf("agent did not %s within 20s", what)
			}
		}
	}
	start := time.Now()
	waitReports("report to both and hear this supervisor as active", true)
	t.Logf("reporting to both, hearing the active one, %s after the agent started (primary dead)", time.Since(start))
	active.Store(false)
	waitReports("hear this supervisor stand down", false)
	active.Store(true)
	waitReports("hear this supervisor active again", true)
}
