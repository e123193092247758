package agent

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// ev is one result a watcher emitted, stamped when emitted.
type ev struct {
	up     bool
	reason string
	at     time.Time
}

func recorder() (func(bool, string), chan ev) {
	ch := make(chan ev, 1024)
	return func(up bool, reason string) { ch <- ev{up, reason, time.Now()} }, ch
}

// next waits for the next event matching want, skipping repeats of other states.
func next(t *testing.T, ch chan ev, up bool) ev {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		select {
		case e := <-ch:
			if e.up == up {
				return e
			}
		case <-deadline:
			t.Fatalf("no up=%v event within 10s", up)
		}
	}
}

// child starts `sleep 60` (or the program at path) as a child of the test; cleanup kills and reaps it.
func child(t *testing.T, path string) *exec.Cmd {
	t.Helper()
	if path == "" {
		path = "sleep"
	}
	cmd := exec.Command(path, "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return cmd
}

// runWatcher runs w until the test ends and checks it returns once cancelled.
func runWatcher(t *testing.T, w *processWatcher) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		w.run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("watcher did not return after cancel")
		}
	})
}

func TestProcessExitSeenAtOnce(t *testing.T) {
	for _, pollLoop := range []bool{false, true} {
		t.Run(fmt.Sprintf("pollLoop=%v", pollLoop), func(t *testing.T) {
			cmd := child(t, "")
			emit, ch := recorder()
			runWatcher(t, &processWatcher{find: pidFinder(cmd.Process.Pid), interval: time.Hour, emit: emit, pollLoop: pollLoop})
			next(t, ch, true)
			killed := time.Now()
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			down := next(t, ch, false)
			t.Logf("kill -9 to down event: %s (reason %q)", down.at.Sub(killed), down.reason)
			if want := fmt.Sprintf("pid %d exited", cmd.Process.Pid); down.reason != want {
				t.Errorf("reason %q, want %q", down.reason, want)
			}
			// The interval is an hour, so the down event came from the pidfd, not from a poll.
		})
	}
}

func TestProcessZombieIsNotUp(t *testing.T) {
	cmd := child(t, "")
	pid := cmd.Process.Pid
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Wait, without reaping, until the child is a zombie.
	deadline := time.Now().Add(10 * time.Second)
	for !isZombie(pid) {
		if time.Now().After(deadline) {
			t.Fatal("child did not become a zombie")
		}
		<-time.After(time.Millisecond) // polling /proc: there is no event for "became a zombie"
	}
	emit, ch := recorder()
	runWatcher(t, &processWatcher{find: pidFinder(pid), interval: 5 * time.Millisecond, emit: emit})
	for range 5 {
		select {
		case e := <-ch:
			if e.up {
				t.Fatalf("zombie pid %d reported up", pid)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no event")
		}
	}
}

func isZombie(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func TestProcessPidfileLateStart(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "engine.pid")
	emit, ch := recorder()
	runWatcher(t, &processWatcher{find: pidfileFinder(pidfile), interval: 10 * time.Millisecond, emit: emit})

	first := next(t, ch, false)
	if !strings.Contains(first.reason, "no such file") {
		t.Errorf("reason before the pidfile exists: %q", first.reason)
	}
	if err := os.WriteFile(pidfile, []byte("garbage\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for e := next(t, ch, false); !strings.Contains(e.reason, "is not a pid"); e = next(t, ch, false) {
	}

	cmd := child(t, "")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	next(t, ch, true)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	if e := next(t, ch, false); e.reason != fmt.Sprintf("pid %d exited", cmd.Process.Pid) {
		t.Errorf("reason %q", e.reason)
	}
	_ = cmd.Wait()

	// A restarted process (new pid in the pidfile) is picked up again.
	cmd2 := child(t, "")
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(cmd2.Process.Pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	next(t, ch, true)
}

func TestProcessMatch(t *testing.T) {
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	// A copy of sleep under a name no other process has (comm keeps 15 bytes).
	name := fmt.Sprintf("stby%d", os.Getpid()%1000000)
	bin := filepath.Join(t.TempDir(), name)
	copyFile(t, sleepPath, bin)

	emit, ch := recorder()
	runWatcher(t, &processWatcher{find: matchFinder("/proc", name), interval: 10 * time.Millisecond, emit: emit})
	if e := next(t, ch, false); e.reason != fmt.Sprintf("no process named %q", name) {
		t.Errorf("reason %q", e.reason)
	}
	cmd := child(t, bin)
	next(t, ch, true)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	next(t, ch, false)
}

func TestProcessMatchArgv0(t *testing.T) {
	dir := t.TempDir()
	// comm is truncated to 15 bytes, so a long name matches through argv[0].
	name := "a-very-long-process-name"
	bin := filepath.Join(dir, name)
	sleepPath, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep binary")
	}
	copyFile(t, sleepPath, bin)
	cmd := child(t, bin)
	find := matchFinder("/proc", name)
	pid, err := find()
	if err != nil || pid != cmd.Process.Pid {
		t.Fatalf("find = %d, %v; want %d", pid, err, cmd.Process.Pid)
	}
}

func TestPidNotRunning(t *testing.T) {
	emit, ch := recorder()
	// pid_max is at most 2^22, so this pid cannot exist.
	runWatcher(t, &processWatcher{find: pidFinder(1 << 23), interval: time.Hour, emit: emit})
	if e := next(t, ch, false); e.reason != fmt.Sprintf("pid %d is not running", 1<<23) {
		t.Errorf("reason %q", e.reason)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	src, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	dst, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(dst, src); err != nil {
		t.Fatal(err)
	}
	if err := dst.Close(); err != nil {
		t.Fatal(err)
	}
}
