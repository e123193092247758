package systemd

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// listen makes $NOTIFY_SOCKET a datagram socket of the test's, as systemd's is, and returns it.
func listen(t *testing.T) *net.UnixConn {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	return c
}

// next reads the next datagram, failing the test when none comes within a few seconds.
func next(t *testing.T, c *net.UnixConn) string {
	t.Helper()
	if err := c.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 4096)
	n, err := c.Read(b)
	if err != nil {
		t.Fatalf("no datagram on $NOTIFY_SOCKET: %v", err)
	}
	return string(b[:n])
}

func TestNotifyStates(t *testing.T) {
	c := listen(t)
	if err := Ready("supervising 3 pairs\non hub1"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "READY=1\nSTATUS=supervising 3 pairs on hub1" {
		t.Errorf("ready: %q", got)
	}
	if err := Reloading("reloading /etc/standby/standby.toml"); err != nil {
		t.Fatal(err)
	}
	got := strings.Split(next(t, c), "\n")
	if len(got) != 3 || got[0] != "RELOADING=1" || !strings.HasPrefix(got[1], "MONOTONIC_USEC=") || got[2] != "STATUS=reloading /etc/standby/standby.toml" {
		t.Errorf("reloading: %q", got)
	} else if _, err := strconv.ParseUint(strings.TrimPrefix(got[1], "MONOTONIC_USEC="), 10, 64); err != nil {
		t.Errorf("reloading: %q: %v", got[1], err)
	}
	if err := Stopping("stopping"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "STOPPING=1\nSTATUS=stopping" {
		t.Errorf("stopping: %q", got)
	}
}

func TestNotifyOutsideSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	os.Unsetenv("NOTIFY_SOCKET")
	t.Setenv("WATCHDOG_USEC", "")
	os.Unsetenv("WATCHDOG_USEC")
	if err := Ready("x"); err != nil {
		t.Errorf("ready without systemd: %v", err)
	}
	if err := Watchdog(context.Background(), WatchdogOptions{Alive: func() error { t.Error("alive called"); return nil }}); err != nil {
		t.Errorf("watchdog without systemd: %v", err)
	}
}

// TestWatchdog: WATCHDOG=1 on the first beat and on each beat whose check passes; a failed
// check sends nothing (systemd then restarts the service), and feeding resumes once it passes.
func TestWatchdog(t *testing.T) {
	c := listen(t)
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))
	if d, err := WatchdogTimeout(); err != nil || d != 4*time.Second {
		t.Fatalf("timeout from the environment: %s %v", d, err)
	}
	var wedged atomic.Bool
	checks := make(chan struct{}, 16)
	ticks := make(chan time.Time)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Watchdog(ctx, WatchdogOptions{Ticks: ticks, Logger: zerolog.Nop(), Alive: func() error {
			defer func() { checks <- struct{}{} }()
			if wedged.Load() {
				return errors.New("the supervision tree does not answer")
			}
			return nil
		}})
	}()
	if got := next(t, c); got != "WATCHDOG=1" {
		t.Fatalf("first beat: %q", got)
	}
	<-checks
	wedged.Store(true)
	ticks <- time.Now()
	<-checks
	ticks <- time.Now() // taken only once the first failed beat is over
	<-checks
	if err := Status("after two failed checks"); err != nil {
		t.Fatal(err)
	}
	if got := next(t, c); got != "STATUS=after two failed checks" {
		t.Fatalf("a failed check fed the watchdog: %q", got)
	}
	wedged.Store(false)
	ticks <- time.Now()
	<-checks
	if got := next(t, c); got != "WATCHDOG=1" {
		t.Fatalf("beat after recovery: %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestWatchdogOtherPID(t *testing.T) {
	t.Setenv("WATCHDOG_USEC", "4000000")
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()+1))
	if d, err := WatchdogTimeout(); err != nil || d != 0 {
		t.Fatalf("another process's watchdog: %s %v", d, err)
	}
}
