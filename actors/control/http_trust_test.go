package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"standby/protocol/pb"
)

// TestHTTPRefusalsSayWhatToSend: a switch, mode or failback without a body (or an empty one) is
// 400 naming what to send, not a toggle; a wrong method is 405 with Allow, not 404; errors never
// show protobuf's wording. Nothing changes.
func TestHTTPRefusalsSayWhatToSend(t *testing.T) {
	e := start(t, Options{})
	before := fingerprint(e.status())
	for _, c := range []struct {
		method, path, body string
		status             int
		reason             string
	}{
		{"POST", "/api/pairs/cam1/switch", "", 400, `body required: send {"to":"main"} or {"to":"backup"}`},
		{"POST", "/api/pairs/cam1/switch", "{}", 400, `body required: send {"to":"main"} or {"to":"backup"}`},
		{"POST", "/api/pairs/cam1/switch", "{}", 400, `body required`},
		{"POST", "/api/pairs/cam1/mode", "", 400, `body required: send {"mode":"automatic"} or {"mode":"manual"}`},
		{"POST", "/api/pairs/cam1/failback", "", 400, `body required: send {"failback":"automatic"}`},
		{"POST", "/api/pools/cam1/switch", "", 400, `body required: send {"main":"MAIN","to":"BACKUP"}`},
		{"POST", "/api/pairs/cam1/switch", "{to: backup}", 400, "body is not valid JSON: invalid character 't' looking for beginning of object key string"},
		{"POST", "/api/pairs/cam1/mode", `{"mood":"manual"}`, 400, `body does not fit this request: unknown field "mood"`},
		{"GET", "/api/pairs/cam1/switch", "", 405, "method GET not allowed on /api/pairs/cam1/switch: use POST"},
		{"POST", "/api/status", "", 405, "use GET"},
		{"GET", "/api/pairs/cam1/backup", "", 405, "use PUT or DELETE"},
	} {
		status, reply := e.httpDo(c.method, c.path, tokOperate, c.body)
		reason, _ := reply["reason"].(string)
		if status != c.status || !strings.Contains(reason, c.reason) || strings.Contains(reason, "proto") {
			t.Errorf("%s %s %q: %d %q, want %d with %q", c.method, c.path, c.body, status, reason, c.status, c.reason)
		}
	}
	req, _ := http.NewRequest("DELETE", e.ctl.URL()+"/api/pairs/cam1/switch", nil)
	req.Header.Set("Authorization", "Bearer "+tokOperate)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 405 || res.Header.Get("Allow") != "POST" {
		t.Errorf("DELETE switch: %d, Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
	if after := fingerprint(e.status()); after != before {
		t.Errorf("refused requests changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	// The body a switch needs still switches.
	if status, reply := e.httpDo("POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"backup"}`); status != 200 {
		t.Errorf("switch to backup: %d %v", status, reply)
	}
}

// TestHTTPCutsSlowBodies: a client that sends its headers and then trickles (or withholds) the
// body is cut after ReadTimeout, while an event stream outlives it.
func TestHTTPCutsSlowBodies(t *testing.T) {
	e := start(t, Options{ReadTimeout: 200 * time.Millisecond, Heartbeat: 50 * time.Millisecond})
	before := fingerprint(e.status())
	conn, err := net.Dial("tcp", strings.TrimPrefix(e.ctl.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/pairs/cam1/switch HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"to\":", tokOperate)
	// Wait for the server to give up on the body: it answers 400 or closes; a generous deadline
	// only keeps a broken server from hanging the test.
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("a slow body was not cut: %v", err)
	}
	t.Logf("slow body: %q %v", line, err)
	if after := fingerprint(e.status()); after != before {
		t.Errorf("the cut request changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}

	// The event stream is not a slow body: it keeps going past several ReadTimeouts.
	req, _ := http.NewRequest("GET", e.ctl.URL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tokView)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	beats := 0
	start := time.Now()
	for beats < 3 || time.Since(start) < 3*200*time.Millisecond {
		if !sc.Scan() {
			t.Fatalf("event stream ended after %d heartbeats, %s: %v", beats, time.Since(start), sc.Err())
		}
		if sc.Text() == "event: heartbeat" {
			beats++
		}
	}
}

// TestStatusWarnsOfUnwritableStateDir: a state_dir that cannot be written is in the status's
// warnings from the start (the panel and ctl status show them), not found at the first edit.
func TestStatusWarnsOfUnwritableStateDir(t *testing.T) {
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(blocker, "state")
	e := startConfig(t, dir, studio(dir), Options{})
	w := strings.Join(e.status().Warnings, "\n")
	if !strings.Contains(w, "supervisor.state_dir: "+dir+" cannot be written") {
		t.Fatalf("warnings: %s", w)
	}
}

// TestPairSaysRouterUnavailable: while its router is not connected a pair's status (and ctl
// status) says it cannot switch, instead of looking armed and fine; once the router is back it
// no longer does.
func TestPairSaysRouterUnavailable(t *testing.T) {
	e := start(t, Options{})
	if p := pairOf(e.status(), "cam1"); p.CannotSwitch != "" {
		t.Fatalf("connected router: cannot_switch %q", p.CannotSwitch)
	}
	sim := e.sup.Simulator("hub1")
	sim.SetBlackhole(true)
	st := e.waitStatus("router lost", 10*time.Second, func(st *pb.Status) bool { return st.Routers[0].Conn != "connected" })
	for _, p := range st.Pairs {
		if p.CannotSwitch != "router unavailable — cannot switch" {
			t.Errorf("%s: cannot_switch %q with router %s", p.Name, p.CannotSwitch, st.Routers[0].Conn)
		}
	}
	var out strings.Builder
	if err := WriteStatus(&out, st); err != nil || !strings.Contains(out.String(), "ROUTER UNAVAILABLE — CANNOT SWITCH") {
		t.Errorf("ctl status: %v\n%s", err, out.String())
	}
	sim.SetBlackhole(false)
	e.waitStatus("router back, pairs can switch", 10*time.Second, func(st *pb.Status) bool {
		return st.Routers[0].Conn == "connected" && pairOf(st, "cam1").CannotSwitch == ""
	})
}

// TestReloadOp: `standby ctl reload` needs level 3, passes force through, refuses with the
// reloader's reason (nothing changed), and is refused plainly when nothing can reload.
func TestReloadOp(t *testing.T) {
	var forced []bool
	e := start(t, Options{Reload: func(by string, force bool) (string, error) {
		forced = append(forced, force)
		if !force {
			return "", errors.New("reload refused, running config kept: the file removes every pair and pool")
		}
		return "config reloaded from studio.toml", nil
	}})
	before := fingerprint(e.status())
	do := func(token string, force bool) *pb.ControlReply {
		return e.ctl.svc.Do("test", &pb.ControlRequest{Token: token, Op: &pb.ControlRequest_Reload{Reload: &pb.ControlRequest_ReloadOp{Force: force}}})
	}
	if r := do(tokOperate, true); r.Ok || r.Code != pb.Code_CODE_PERMISSION_DENIED || len(forced) != 0 {
		t.Errorf("level 2: %v (reloads %v)", r, forced)
	}
	if r := do(tokConfigure, false); r.Ok || r.Reason != "reload refused, running config kept: the file removes every pair and pool" {
		t.Errorf("guarded: %v", r)
	}
	if after := fingerprint(e.status()); after != before {
		t.Errorf("a refused reload changed the state:\n%s\n%s", before, after)
	}
	if r := do(tokConfigure, true); !r.Ok || r.Reason != "config reloaded from studio.toml" || len(forced) != 2 || !forced[1] {
		t.Errorf("forced: %v (reloads %v)", r, forced)
	}
	none := start(t, Options{})
	if r := none.ctl.svc.Do("test", &pb.ControlRequest{Token: tokConfigure, Op: &pb.ControlRequest_Reload{Reload: &pb.ControlRequest_ReloadOp{}}}); r.Ok || !strings.Contains(r.Reason, "nothing to read again") {
		t.Errorf("no reloader: %v", r)
	}
}

// TestVersionShown: the binary's version is in the status, /metrics and the panel's footer.
func TestVersionShown(t *testing.T) {
	e := start(t, Options{Version: "9.9.9-test"})
	if v := e.status().Supervisor.Version; v != "9.9.9-test" {
		t.Errorf("status version %q", v)
	}
	res, err := e.metricsGet(tokView)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if !strings.Contains(string(b), `standby_build_info{version="9.9.9-test"} 1`) {
		t.Errorf("/metrics has no standby_build_info:\n%s", b)
	}
	for _, f := range []struct{ file, want string }{{"web/index.html", `<footer id="version"`}, {"web/app.js", `$('version').textContent = 'standby ' + (sv.version`}} {
		src, err := web.ReadFile(f.file)
		if err != nil || !strings.Contains(string(src), f.want) {
			t.Errorf("%s lacks %q (%v)", f.file, f.want, err)
		}
	}
}

// TestPoolSaysRouterUnavailable: a pool says it cannot switch while its router is away, in the
// status and in ctl status, like a pair.
func TestPoolSaysRouterUnavailable(t *testing.T) {
	dir := t.TempDir()
	e := startConfig(t, dir, poolStudio(dir), Options{})
	name := e.status().GetPools()[0].GetName()
	e.sup.Simulator(e.status().GetPools()[0].GetRouter()).SetBlackhole(true)
	st := e.waitStatus("router lost", 10*time.Second, func(st *pb.Status) bool { return poolOf(st, name).GetCannotSwitch() != "" })
	if got := poolOf(st, name).GetCannotSwitch(); got != CannotSwitchRouter {
		t.Errorf("cannot_switch %q", got)
	}
	var out strings.Builder
	if err := WriteStatus(&out, st); err != nil || !strings.Contains(out.String(), "ROUTER UNAVAILABLE — CANNOT SWITCH") {
		t.Errorf("ctl status: %v\n%s", err, out.String())
	}
}
