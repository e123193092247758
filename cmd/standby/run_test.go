package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"standby/actors/control"
)

// runConfig is a studio without simulated machines (no demo agent processes): one pair on a
// simulated router.
const runConfig = `
[supervisor]
name = "notify-test"
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
state_dir = %q
agent_token = "agent-token-1"

[[operator]]
name = "vera"
token = "view-token-1"
level = 1

[[router]]
name = "hub1"
address = "127.0.0.1:0"
simulate = true
inputs = 4
outputs = 4

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
outputs = [1]
`

// TestRunUnderSystemd runs `standby run` as systemd would for Type=notify with WatchdogSec=: the
// test's datagram socket is $NOTIFY_SOCKET. READY=1 comes once the control surfaces serve, the
// watchdog is fed, SIGHUP (ExecReload) is RELOADING=1 then READY=1 with the outcome, and
// /metrics tells the running file's hash and whether the last reload was applied; SIGTERM is
// STOPPING=1 and exit 0. Also `standby version` with the version the package script sets.
func TestRunUnderSystemd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs standby")
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "standby")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=9.9.9-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "version").Output(); err != nil || !strings.HasPrefix(string(out), "standby 9.9.9-test (go") {
		t.Errorf("standby version: %q %v", out, err)
	}

	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	datagrams := make(chan string, 256)
	go func() {
		b := make([]byte, 4096)
		for {
			n, err := conn.Read(b)
			if err != nil {
				close(datagrams)
				return
			}
			datagrams <- string(b[:n])
		}
	}()
	// next waits for a datagram starting with prefix; others (watchdog beats) are skipped.
	next := func(what, prefix string) string {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case d, ok := <-datagrams:
				if !ok {
					t.Fatalf("%s: socket closed", what)
				}
				if strings.HasPrefix(d, prefix) {
					return d
				}
			case <-deadline:
				t.Fatalf("%s: no %q datagram", what, prefix)
			}
		}
	}

	cfgPath := filepath.Join(dir, "standby.toml")
	text := strings.Replace(runConfig, "%q", `"`+filepath.Join(dir, "state")+`"`, 1)
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "run", "--config", cfgPath)
	cmd.Env = append(os.Environ(), "NOTIFY_SOCKET="+sock, "WATCHDOG_USEC=2000000")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			t.Log(sc.Text())
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["message"] == "control surfaces ready" {
				urls <- l["http"].(string)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	ready := next("start", "READY=1")
	if !strings.Contains(ready, "STATUS=supervising 1 pools/pairs, 2 machines, 1 routers") {
		t.Errorf("ready: %q", ready)
	}
	var url string
	select {
	case url = <-urls: // logged before READY=1
	case <-time.After(5 * time.Second):
		t.Fatal("no control surfaces ready line")
	}
	next("watchdog", "WATCHDOG=1")

	scrape := func() string {
		t.Helper()
		req, _ := http.NewRequest("GET", url+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer view-token-1")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return string(b)
	}
	if m := scrape(); !strings.Contains(m, `standby_config_info{sha256="`+control.Hash([]byte(text))+`"} 1`) ||
		!strings.Contains(m, "standby_config_last_reload_successful 1") {
		t.Errorf("metrics after start lack the config's hash or reload state")
	}

	// A valid change, then an invalid file.
	text2 := strings.Replace(text, `name = "vera"`, `name = "vera2"`, 1)
	if err := os.WriteFile(cfgPath, []byte(text2), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	next("reload", "RELOADING=1")
	if d := next("reloaded", "READY=1"); !strings.Contains(d, "STATUS=config reloaded") {
		t.Errorf("after the reload: %q", d)
	}
	if m := scrape(); !strings.Contains(m, `standby_config_info{sha256="`+control.Hash([]byte(text2))+`"} 1`) ||
		!strings.Contains(m, "standby_config_last_reload_successful 1") {
		t.Errorf("metrics after a reload lack the new hash")
	}
	if err := os.WriteFile(cfgPath, []byte(text2+"\nbogus = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	next("reload", "RELOADING=1")
	if d := next("rejected", "READY=1"); !strings.Contains(d, "STATUS=reload rejected, running config kept") {
		t.Errorf("after an invalid file: %q", d)
	}
	if m := scrape(); !strings.Contains(m, `standby_config_info{sha256="`+control.Hash([]byte(text2))+`"} 1`) ||
		!strings.Contains(m, "standby_config_last_reload_successful 0") {
		t.Errorf("metrics after a rejected reload: the running hash kept and successful 0 expected")
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	next("stop", "STOPPING=1")
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
}
