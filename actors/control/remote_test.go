package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/node"
	"standby/protocol/pb"
)

// proc is a process the test started, with its stderr log lines.
type proc struct {
	cmd   *exec.Cmd
	lines chan map[string]any
	done  chan struct{} // stderr closed
}

// startProc runs bin with args; its stderr JSON lines go to t.Log and to lines.
func startProc(t *testing.T, bin string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan map[string]any, 10000), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			t.Logf("%s: %s", filepath.Base(bin)+" "+args[0], sc.Text())
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				select {
				case p.lines <- m:
				default:
				}
			}
		}
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		<-p.done
	})
	return p
}

// waitLine waits for a log line with this message whose fields include want.
func (p *proc) waitLine(t *testing.T, within time.Duration, msg string, want map[string]string) map[string]any {
	t.Helper()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		select {
		case m := <-p.lines:
			if m["message"] != msg {
				continue
			}
			ok := true
			for k, v := range want {
				ok = ok && m[k] == v
			}
			if ok {
				return m
			}
		case <-p.done:
			t.Fatalf("process ended before logging %q", msg)
		case <-deadline.C:
			t.Fatalf("no %q %v logged within %s", msg, want, within)
		}
	}
}

// buildStandby builds the standby command into a temporary directory.
func buildStandby(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go tool to build standby with")
	}
	bin := filepath.Join(t.TempDir(), "standby")
	out, err := exec.Command(goBin, "build", "-o", bin, "standby/cmd/standby").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestRemoteAcrossProcesses runs `standby run` as its own process and drives it the way
// `standby ctl` does (this test process runs the one remote endpoint it may), then runs
// `standby ctl` itself: status, a refused switch at level 1, a switch at level 2, watch, and the
// subscription ending when either side goes away.
func TestRemoteAcrossProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs standby")
	}
	bin := buildStandby(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "standby.toml")
	if err := os.WriteFile(cfgPath, []byte(studio(filepath.Join(dir, "state"))), 0o600); err != nil {
		t.Fatal(err)
	}
	sup := startProc(t, bin, nil, "run", "--config", cfgPath, "--log-level", "info")
	ready := sup.waitLine(t, 30*time.Second, "control surfaces ready", nil)
	remote := ready["remote"].(string)

	n, err := node.Start(node.Options{Listen: "127.0.0.1:0", Logger: zerolog.New(zerolog.NewTestWriter(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer n.Stop()
	viewer := NewClient(n.System, remote, tokView, 10*time.Second)
	operator := NewClient(n.System, remote, tokOperate, 10*time.Second)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	events := make(chan *pb.ControlEvent, 1000)
	watchErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		watchErr <- operator.Watch(ctx, func(e *pb.ControlEvent) {
			select {
			case events <- e:
			default:
			}
		})
	}()
	defer func() { cancel(); wg.Wait() }()
	sup.waitLine(t, 10*time.Second, "subscriber added", map[string]string{"operator": "otto"})

	// Ready to switch: both pairs armed, every machine heard and the router connected (re-checked
	// on every event).
	deadline := time.After(10 * time.Second)
	for {
		r, err := viewer.Do(&pb.ControlRequest{Op: &pb.ControlRequest_Status{Status: &pb.ControlRequest_StatusOp{}}})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Ok || r.Operator != "vera" || r.Level != 1 {
			t.Fatalf("status: %v", r)
		}
		st := r.Status
		known := true // a pair arms on its main; the switch below also needs the backup heard
		for _, m := range st.Machines {
			known = known && m.Known
		}
		if known && st.Routers[0].Conn == "connected" && pairOf(st, "cam1").State == "on-main" && pairOf(st, "cam2").State == "on-main" {
			break
		}
		select {
		case <-events:
		case <-deadline:
			t.Fatalf("not ready: %s", mustJSON(st))
		}
	}

	sw := func(c *Client, to string) *pb.ControlReply {
		r, err := c.Do(&pb.ControlRequest{Op: &pb.ControlRequest_Switch{Switch: &pb.ControlRequest_SwitchOp{Pair: "cam1", To: to}}})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := sw(viewer, "backup"); r.Ok || r.Code != pb.Code_CODE_PERMISSION_DENIED {
		t.Fatalf("switch at level 1: %v", r)
	}
	if r := sw(operator, "backup"); !r.Ok {
		t.Fatalf("switch at level 2: %v", r)
	}
	for done := false; !done; {
		select {
		case e := <-events:
			done = e.Kind == "transition" && e.Pair == "cam1" && e.To == "on-backup" && e.SwitchMs > 0
		case <-deadline:
			t.Fatal("no confirmed transition to the backup on the watch")
		}
	}

	// standby ctl itself.
	ctl := func(env []string, args ...string) (int, string) {
		cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer ccancel()
		cmd := exec.CommandContext(cctx, bin, append([]string{"ctl", "--supervisor", remote}, args...)...)
		cmd.Env = append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("ctl %v: %v", args, err)
		}
		t.Logf("standby ctl %v → %d:\n%s", args, cmd.ProcessState.ExitCode(), out)
		return cmd.ProcessState.ExitCode(), string(out)
	}
	if code, out := ctl(nil, "--token", tokView, "switch", "cam1", "main"); code != 1 || !strings.Contains(out, "refused (permission_denied)") {
		t.Errorf("ctl switch at level 1: exit %d", code)
	}
	code, out := ctl([]string{"STANDBY_TOKEN=" + tokView}, "status", "--json")
	var reply struct {
		Ok     bool `json:"ok"`
		Status struct {
			Pairs []struct {
				Name  string `json:"name"`
				OnAir string `json:"on_air"`
			} `json:"pairs"`
		} `json:"status"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &reply) != nil || !reply.Ok || reply.Status.Pairs[0].OnAir != "backup" {
		t.Errorf("ctl status --json: exit %d", code)
	}
	if code, out := ctl(nil, "--token", tokView, "status"); code != 0 || !strings.Contains(out, "PAIR") || !strings.Contains(out, "*b1") {
		t.Errorf("ctl status: exit %d", code)
	}
	if code, out := ctl(nil, "--token", tokOperate, "switch", "cam1", "main"); code != 0 || !strings.Contains(out, "confirmed by the router") {
		t.Errorf("ctl switch at level 2: exit %d", code)
	}
	if code, _ := ctl(nil, "--token", tokOperate, "switch", "cam1"); code != 2 {
		t.Errorf("ctl with a missing word: exit %d, want 2", code)
	}

	// A watching ctl that dies is noticed at once.
	watcher := startProc(t, bin, nil, "ctl", "--supervisor", remote, "--token", tokView, "watch")
	sup.waitLine(t, 10*time.Second, "subscriber added", map[string]string{"operator": "vera"})
	_ = watcher.cmd.Process.Kill()
	sup.waitLine(t, 10*time.Second, "subscriber gone", map[string]string{"operator": "vera"})

	// And a supervisor that stops ends the watch.
	_ = sup.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-watchErr:
		if !errors.Is(err, ErrSupervisorGone) {
			t.Errorf("watch ended with %v, want ErrSupervisorGone", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("the watch did not notice the supervisor stopping")
		cancel()
	}
}

// TestSubscriptionLeaseExpires: a subscriber that stops renewing (its process hangs, so no
// Terminated ever comes) is dropped once its lease has run out, and not before.
func TestSubscriptionLeaseExpires(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	e := start(t, Options{Clock: clk})
	sys := e.sup.System()
	probe := sys.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))
	ctl := actor.NewPID(sys.Address(), ActorID)
	ask := func(req *pb.ControlRequest) *pb.ControlReply {
		t.Helper()
		res, err := sys.Root.RequestFuture(ctl, req, 5*time.Second).Result()
		if err != nil {
			t.Fatal(err)
		}
		return res.(*pb.ControlReply)
	}
	sub := &pb.ControlRequest{Token: tokView, Op: &pb.ControlRequest_Subscribe{Subscribe: &pb.ControlRequest_SubscribeOp{Address: probe.Address, Id: probe.Id}}}
	if r := ask(sub); !r.Ok || r.LeaseMs != Lease.Milliseconds() {
		t.Fatalf("subscribe: %v", r)
	}
	status := &pb.ControlRequest{Token: tokView, Op: &pb.ControlRequest_Status{Status: &pb.ControlRequest_StatusOp{}}}
	clk.Advance(Lease - time.Second)
	ask(status)
	if strings.Contains(e.logs.String(), "subscription expired") {
		t.Fatal("expired before its lease ran out")
	}
	clk.Advance(2 * time.Second)
	ask(status)
	if !strings.Contains(e.logs.String(), `"message":"subscription expired"`) {
		t.Fatalf("not expired after its lease:\n%s", e.logs.String())
	}
}
