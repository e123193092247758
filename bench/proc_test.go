package bench

import (
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestProcsKillProcessGroups(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	var p procs
	dir := t.TempDir()
	// A child that starts a grandchild and prints its pid: killing the child's group must reach it.
	lines := make(chan string, 10)
	c, err := p.start(childSpec{name: "parent", path: sh, args: []string{"-c", "sleep 60 & echo $! 1>&2; wait"},
		logPath: filepath.Join(dir, "parent.log"), onLine: func(s string) { lines <- s }})
	if err != nil {
		t.Fatal(err)
	}
	var grandchild int
	select {
	case s := <-lines:
		if grandchild, err = strconv.Atoi(strings.TrimSpace(s)); err != nil {
			t.Fatalf("bad pid line %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no grandchild pid")
	}
	if c.exited() {
		t.Fatal("child exited early")
	}
	p.close(100 * time.Millisecond)
	if !c.exited() {
		t.Error("child still running after close")
	}
	// The grandchild is reparented and reaped by init; give it a moment.
	deadline := time.Now().Add(5 * time.Second)
	for syscall.Kill(grandchild, 0) == nil && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if syscall.Kill(grandchild, 0) == nil {
		t.Errorf("grandchild %d survived", grandchild)
		_ = syscall.Kill(grandchild, syscall.SIGKILL)
	}
	if _, err := p.start(childSpec{name: "late", path: sh, args: []string{"-c", "true"}}); err == nil {
		t.Error("start after close succeeded")
	}
}

func TestChildSignalsAndStdin(t *testing.T) {
	cat, err := exec.LookPath("cat")
	if err != nil {
		t.Skip("no cat")
	}
	var p procs
	defer p.close(time.Second)
	out := make(chan string, 10)
	c, err := p.start(childSpec{name: "cat", path: cat, stdin: true, onOut: func(s string) { out <- s }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.send("hello"); err != nil {
		t.Fatal(err)
	}
	select {
	case s := <-out:
		if s != "hello" {
			t.Errorf("echoed %q", s)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no echo")
	}
	if err := c.signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	c.stop(time.Second) // SIGCONT first, then SIGTERM
	if !c.exited() {
		t.Error("stopped child not ended by stop")
	}
	if err := c.signal(syscall.SIGKILL); err == nil {
		t.Error("signal to an ended child succeeded")
	}
}

func TestSampleProc(t *testing.T) {
	var p procs
	defer p.close(time.Second)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep")
	}
	c, err := p.start(childSpec{name: "sleep", path: sleep, args: []string{"30"}})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sampleProc(c.pid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rss <= 0 || s.peakRSS < s.rss || s.cpu < 0 {
		t.Errorf("sample = %+v", s)
	}
	a := procSample{at: time.Unix(0, 0), cpu: 0}
	b := procSample{at: time.Unix(2, 0), cpu: time.Second}
	if got := cpuPercent(a, b); got != 50 {
		t.Errorf("cpuPercent = %v, want 50", got)
	}
}
