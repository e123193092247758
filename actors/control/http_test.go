package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"standby/conf"
	"standby/protocol/pb"
)

// TestHTTPErrors: malformed JSON → 400 with the reason, unknown pair → 404, no token → 401,
// low level → 403; nothing changes in any of these cases.
func TestHTTPErrors(t *testing.T) {
	e := start(t, Options{})
	before := fingerprint(e.status())
	cases := []struct {
		name, method, path, token, body string
		status                          int
		code                            pb.Code
		reason                          string
	}{
		{"malformed JSON", "POST", "/api/pairs/cam1/switch", tokOperate, `{"to":`, 400, pb.Code_CODE_BAD_REQUEST, "body is not valid JSON: unexpected end of JSON input"},
		{"JSON of the wrong shape", "POST", "/api/pairs/cam1/switch", tokOperate, `["backup"]`, 400, pb.Code_CODE_BAD_REQUEST, "body does not fit this request: "},
		{"unknown field", "POST", "/api/pairs/cam1/mode", tokOperate, `{"mood":"manual"}`, 400, pb.Code_CODE_BAD_REQUEST, "mood"},
		{"bad side", "POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"sideways"}`, 400, pb.Code_CODE_BAD_REQUEST, "not main or backup"},
		{"bad mode", "POST", "/api/pairs/cam1/mode", tokOperate, `{"mode":"sometimes"}`, 400, pb.Code_CODE_BAD_REQUEST, "not automatic or manual"},
		{"no alarm named", "POST", "/api/pairs/cam1/acknowledge", tokOperate, `{}`, 400, pb.Code_CODE_BAD_REQUEST, "alarm: missing"},
		{"body too big", "POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"` + strings.Repeat("x", maxBody) + `"}`, 400, pb.Code_CODE_BAD_REQUEST, "larger than"},
		{"unknown pair", "POST", "/api/pairs/cam9/switch", tokOperate, `{"to":"backup"}`, 404, pb.Code_CODE_UNKNOWN_PAIR, `unknown pair "cam9"`},
		{"unknown pair, mode", "POST", "/api/pairs/cam9/mode", tokOperate, `{"mode":"manual"}`, 404, pb.Code_CODE_UNKNOWN_PAIR, `cam9`},
		{"unknown pair, feeds", "PUT", "/api/pairs/cam9/feeds", tokConfigure, `{"feeds":[]}`, 404, pb.Code_CODE_UNKNOWN_PAIR, `cam9`},
		{"unknown machine", "POST", "/api/machines/m9/simulate", tokOperate, `{"service":"engine"}`, 404, pb.Code_CODE_UNKNOWN_MACHINE, `m9`},
		{"not one simulated change", "POST", "/api/machines/m1/simulate", tokOperate, `{"service":"engine","silent":"on"}`, 400, pb.Code_CODE_BAD_REQUEST, "exactly one"},
		{"no token", "POST", "/api/pairs/cam1/switch", "", `{"to":"backup"}`, 401, pb.Code_CODE_UNAUTHENTICATED, "no token"},
		{"no token, malformed body", "POST", "/api/pairs/cam1/switch", "", `{"to":`, 401, pb.Code_CODE_UNAUTHENTICATED, "no token"},
		{"bad token", "GET", "/api/status", tokBad, "", 401, pb.Code_CODE_UNAUTHENTICATED, "unknown token"},
		{"level 1 switches", "POST", "/api/pairs/cam1/switch", tokView, `{"to":"backup"}`, 403, pb.Code_CODE_PERMISSION_DENIED, "needs level 2"},
		{"level 1, unknown pair", "POST", "/api/pairs/cam9/switch", tokView, `{"to":"backup"}`, 403, pb.Code_CODE_PERMISSION_DENIED, "needs level 2"},
		{"level 2 edits feeds", "PUT", "/api/pairs/cam1/feeds", tokOperate, `{"feeds":[]}`, 403, pb.Code_CODE_PERMISSION_DENIED, "needs level 3"},
		{"unknown route", "GET", "/api/nothing", tokView, "", 404, pb.Code_CODE_BAD_REQUEST, "no such API route"},
	}
	for _, c := range cases {
		status, reply := e.httpDo(c.method, c.path, c.token, c.body)
		if status != c.status || reply["code"] != c.code.String() || !strings.Contains(reply["reason"].(string), c.reason) {
			t.Errorf("%s: got %d %v %q, want %d %s containing %q", c.name, status, reply["code"], reply["reason"], c.status, c.code, c.reason)
		}
		if reply["ok"] != false {
			t.Errorf("%s: ok is %v", c.name, reply["ok"])
		}
	}
	if after := fingerprint(e.status()); after != before {
		t.Errorf("refused requests changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if n := mappingEdits(t, e.dir); n != 0 {
		t.Errorf("mapping changed: %d overrides", n)
	}

	// The 401 carries the bearer challenge; a lowercase scheme is accepted.
	res, err := http.Get(e.ctl.URL() + "/api/status")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 401 || res.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no token: %d, WWW-Authenticate %q", res.StatusCode, res.Header.Get("WWW-Authenticate"))
	}
	req, _ := http.NewRequest("GET", e.ctl.URL()+"/api/status", nil)
	req.Header.Set("Authorization", "bearer "+tokView)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("lowercase bearer: %d", res.StatusCode)
	}
}

// TestInvalidMappingLikeCheck: a refused edit lists each error `standby check` gives for the
// same mapping in a file, once, in the panel's words and told from the edited pair (cam1), not from
// the pair it collides with; it changes nothing and writes nothing.
func TestInvalidMappingLikeCheck(t *testing.T) {
	e := start(t, Options{})
	before := fingerprint(e.status())
	status, reply := e.httpDo("PUT", "/api/pairs/cam1/feeds", tokConfigure,
		`{"feeds":[{"main_input":"1","backup_input":"1","outputs":["2","999"]}]}`)
	if status != http.StatusUnprocessableEntity || reply["code"] != pb.Code_CODE_INVALID_MAPPING.String() {
		t.Fatalf("got %d %v %v", status, reply["code"], reply["reason"])
	}
	// The same mapping written into the file.
	file := strings.Replace(studio(e.dir), "main_input = 1\nbackup_input = 2\noutputs = [1]", "main_input = 1\nbackup_input = 1\noutputs = [2, 999]", 1)
	_, err := conf.Parse([]byte(file))
	var check conf.Errors
	if !errors.As(err, &check) || len(check) != 3 {
		t.Fatalf("the file version: %v", err)
	}
	var got, fields []string
	for _, x := range reply["errors"].([]any) {
		got = append(got, x.(string))
	}
	for _, x := range reply["error_fields"].([]any) {
		fields = append(fields, x.(string))
	}
	want := []string{
		"cam1 · feed 1: main input and backup input are both 1",
		"cam1 · feed 1 · Outputs: 999 is not a router port: use a number 1..288 (as on the router's panel) or a label",
		`cam1 · feed 1 · Outputs: output 2 of router "hub1" is already claimed by pair "cam2"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || strings.Join(fields, " ") != "feed[0] feed[0].outputs feed[0].outputs" {
		t.Errorf("errors:\n got: %q %q\nwant: %q", got, fields, want)
	}
	if after := fingerprint(e.status()); after != before {
		t.Errorf("state changed:\n%s\n%s", before, after)
	}
	if n := mappingEdits(t, e.dir); n != 0 {
		t.Errorf("mapping changed: %d overrides", n)
	}
}

// TestSwitchRefusals: each reason a switch is not done, and one that is done.
func TestSwitchRefusals(t *testing.T) {
	e := start(t, Options{})
	sim := e.sup.Simulator("hub1")
	switchTo := func(to string) (int, map[string]any) {
		return e.httpDo("POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"`+to+`"}`)
	}
	expect := func(what string, status int, reply map[string]any, wantStatus int, code pb.Code, reason string) {
		t.Helper()
		if status != wantStatus || reply["code"] != code.String() || !strings.Contains(reply["reason"].(string), reason) {
			t.Errorf("%s: got %d %v %q; want %d %s containing %q", what, status, reply["code"], reply["reason"], wantStatus, code, reason)
		}
	}

	status, reply := switchTo("main")
	expect("already on air", status, reply, 409, pb.Code_CODE_ALREADY_ON_AIR, "already on air")

	if err := e.sup.SimulateService("b1", "engine", false); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("b1 down", 5*time.Second, func(st *pb.Status) bool { return machineOf(st, "b1").Failure == "engine" })
	status, reply = switchTo("backup")
	expect("target down", status, reply, 409, pb.Code_CODE_TARGET_DOWN, `"b1"`)
	if err := e.sup.SimulateService("b1", "engine", true); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("b1 up", 5*time.Second, func(st *pb.Status) bool { return machineOf(st, "b1").Failure == "" })

	// Another client locks output 1 (0-based 0): refused before anything is sent.
	if err := sim.SetLockOwner(0, "10.9.9.9"); err != nil {
		t.Fatal(err)
	}
	// The alarm comes from the pair's engine, the locked outputs from the event hub's copy of the
	// router: both are awaited (under load one may lead the other).
	e.waitStatus("locked_output alarm and locked outputs", 5*time.Second, func(st *pb.Status) bool {
		if f := pairOf(st, "cam1").Feeds[0]; len(f.LockedOutputs) != 1 {
			return false
		}
		for _, a := range pairOf(st, "cam1").Alarms {
			if a.Kind == "locked_output" && a.Active {
				return true
			}
		}
		return false
	})
	st := e.status()
	if f := pairOf(st, "cam1").Feeds[0]; len(f.LockedOutputs) != 1 || f.LockedOutputs[0] != "1" {
		t.Errorf("locked outputs in the status: %v", f.LockedOutputs)
	}
	status, reply = switchTo("backup")
	expect("locked output", status, reply, 409, pb.Code_CODE_OUTPUT_LOCKED, "locked by another")
	if err := sim.SetLockOwner(0, ""); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("lock gone", 5*time.Second, func(st *pb.Status) bool {
		for _, a := range pairOf(st, "cam1").Alarms {
			if a.Kind == "locked_output" && a.Active {
				return false
			}
		}
		return true
	})

	// The router stops answering: the switch is tried and fails.
	sim.SetBlackhole(true)
	status, reply = switchTo("backup")
	sim.SetBlackhole(false)
	expect("router silent", status, reply, 502, pb.Code_CODE_SWITCH_FAILED, "switch to backup")

	e.waitStatus("router back", 10*time.Second, func(st *pb.Status) bool { return st.Routers[0].Conn == "connected" })
	// The unconfirmed switch was still in the router's socket: it lands once the router reads
	// again, and the pair follows what the router shows rather than what it had given up on.
	if err := sim.WaitRoute(ctxFor(t, 5*time.Second), 0, 1); err != nil {
		t.Fatalf("the late switch never reached the router: %v", err)
	}
	e.waitStatus("pair follows the router", 5*time.Second, func(st *pb.Status) bool { return pairOf(st, "cam1").OnAir == "backup" })

	status, reply = switchTo("main")
	expect("done", status, reply, 200, pb.Code_CODE_OK, "confirmed by the router")
	if err := sim.WaitRoute(ctxFor(t, 2*time.Second), 0, 0); err != nil {
		t.Errorf("output 1 not on input 1 (the main): %v", err)
	}
	if p := pairOf(e.status(), "cam1"); p.OnAir != "main" || p.Active != "m1" || p.SwitchTo != "backup" {
		t.Errorf("after the switch: on air %s (%s), switch to %s", p.OnAir, p.Active, p.SwitchTo)
	}
}

// TestReadOnly: a secondary supervisor shows but refuses changes, on both surfaces.
func TestReadOnly(t *testing.T) {
	e := start(t, Options{Role: func() Role { return Role{Name: "secondary", ReadOnly: true} }})
	status, reply := e.httpDo("POST", "/api/pairs/cam1/switch", tokConfigure, `{"to":"backup"}`)
	if status != 409 || reply["code"] != pb.Code_CODE_READ_ONLY.String() {
		t.Errorf("switch on a secondary: %d %v", status, reply)
	}
	r := e.ctl.svc.Do("test", &pb.ControlRequest{Token: tokConfigure, Op: &pb.ControlRequest_SetFeeds{SetFeeds: &pb.ControlRequest_SetFeedsOp{Pair: "cam1"}}})
	if r.Code != pb.Code_CODE_READ_ONLY {
		t.Errorf("feeds on a secondary: %s", r.Code)
	}
	status, reply = e.httpDo("GET", "/api/status", tokView, "")
	sv := reply["status"].(map[string]any)["supervisor"].(map[string]any)
	if status != 200 || sv["chip"] != "Backup is idle" || sv["read_only"] != true {
		t.Errorf("status on a secondary: %d %v", status, sv)
	}
}

// TestSecondaryActingForPrimary: while a secondary acts for its primary, switches work but
// mapping edits are refused until the primary is back; Make primary is accepted on a standby
// side and refused, saying why, on a supervisor without a peer.
func TestSecondaryActingForPrimary(t *testing.T) {
	e := start(t, Options{Role: func() Role { return Role{Name: "secondary", BackupActive: true, NoEdits: true, Peer: "studio-a"} }})
	if status, reply := e.httpDo("POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"backup"}`); status != 200 {
		t.Errorf("switch on an acting secondary: %d %v", status, reply)
	}
	r := e.ctl.svc.Do("test", &pb.ControlRequest{Token: tokConfigure, Op: &pb.ControlRequest_SetFeeds{SetFeeds: &pb.ControlRequest_SetFeedsOp{Pair: "cam1"}}})
	if r.Code != pb.Code_CODE_READ_ONLY || !strings.Contains(r.Reason, "acts for its primary") {
		t.Errorf("feeds on an acting secondary: %s %s", r.Code, r.Reason)
	}
	status, reply := e.httpDo("POST", "/api/supervisor/make-primary", tokConfigure, "")
	if status != 400 || !strings.Contains(fmt.Sprint(reply["reason"]), "no peer") {
		t.Errorf("make primary without a peer: %d %v", status, reply)
	}
	if status, _ := e.httpDo("POST", "/api/supervisor/make-primary", tokOperate, ""); status != 403 {
		t.Errorf("make primary at level 2: %d", status)
	}
}

// metricsGet scrapes /metrics with token as the bearer ("" for none).
func (e *env) metricsGet(token string) (*http.Response, error) {
	req, err := http.NewRequest("GET", e.ctl.URL()+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return http.DefaultClient.Do(req)
}

// TestMetricsAndHealthz: the Prometheus text after a switch, only to an operator's token, and
// /healthz.
func TestMetricsAndHealthz(t *testing.T) {
	e := start(t, Options{})
	for tok, want := range map[string]int{"": 401, "nope": 401} {
		res, err := e.metricsGet(tok)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || strings.Contains(string(body), "standby_") {
			t.Errorf("metrics with token %q: %d %s, want %d and no metrics", tok, res.StatusCode, body, want)
		}
	}
	if status, reply := e.httpDo("POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"backup"}`); status != 200 {
		t.Fatalf("switch: %d %v", status, reply)
	}
	res, err := e.metricsGet(tokView)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	text := string(body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{
		`standby_switches_total{pair="cam1",trigger="operator"} 1`,
		`standby_switch_latency_seconds_count{pair="cam1"} 1`,
		`standby_switch_latency_seconds_bucket{pair="cam1",le="+Inf"} 1`,
		`standby_router_connected{router="hub1"} 1`,
		`standby_heartbeat_age_seconds{machine="m1"} `,
		`standby_health_value{machine="m1",name="gpu_temp"} 55`,
		`standby_health_level{machine="m1",name="gpu_temp"} 0`,
		`standby_machine_up{machine="b1"} 1`,
		`standby_pair_on_backup{pair="cam1"} 1`,
		`standby_supervisor_role{role="standalone"} 1`,
		`standby_links_authenticated 0`,
		`standby_agent_reports_handled_total `,
		`standby_agent_reports_waiting 0`,
		`standby_agent_reports_shed_total{kind="heartbeat"} 0`,
		`# TYPE standby_switch_latency_seconds histogram`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	line := regexp.MustCompile(`^(# (HELP|TYPE) .+|[a-z_]+(\{([a-z_]+="[^"\\]*",?)+\})? -?[0-9.e+-]+)$`)
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		if !line.MatchString(l) {
			t.Errorf("not exposition format: %q", l)
		}
	}
	res, err = http.Get(e.ctl.URL() + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Errorf("healthz: %d", res.StatusCode)
	}
}

// TestEventStream: a switch shows up on /api/events as the operator's action and the pair's
// confirmed transition.
func TestEventStream(t *testing.T) {
	e := start(t, Options{Heartbeat: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ctl.URL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tokView)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := make(chan map[string]any, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev map[string]any
				if json.Unmarshal([]byte(data), &ev) == nil {
					events <- ev
				}
			}
		}
	}()
	if ev := <-events; ev["kind"] != "hello" {
		t.Fatalf("first event: %v", ev)
	}
	go e.httpDo("POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"backup"}`)
	sawTransition, sawOperator := false, false
	for ev := range events {
		switch {
		case ev["kind"] == "transition" && ev["pair"] == "cam1" && ev["to"] == "on-backup":
			sawTransition = ev["switch_ms"].(float64) > 0 && ev["trigger"] == "operator"
		case ev["kind"] == "operator" && ev["op"] == "switch":
			sawOperator = ev["operator"] == "otto" && ev["pair"] == "cam1"
		}
		if sawTransition && sawOperator {
			return
		}
	}
	t.Fatalf("stream ended (%v) without the switch's events: transition %v, operator %v", ctx.Err(), sawTransition, sawOperator)
}

// TestPanelFiles: the panels are served from the binary, with a policy that loads nothing else.
func TestPanelFiles(t *testing.T) {
	e := start(t, Options{})
	for _, p := range []string{"/", "/app.js", "/style.css"} {
		res, err := http.Get(e.ctl.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || len(body) == 0 || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: %d, %d bytes, CSP %q", p, res.StatusCode, len(body), res.Header.Get("Content-Security-Policy"))
		}
		if strings.Contains(string(body), "http://") || strings.Contains(string(body), "https://") {
			t.Errorf("%s refers to another site", p)
		}
	}
	req, _ := http.NewRequest("POST", e.ctl.URL()+"/", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /: %d", res.StatusCode)
	}
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestPairFollowsTheRouter: the router is the truth about what is on air. A panel moving the
// pair's output to the backup's input is believed (trigger router), and moving it to an input of
// neither machine raises router_mismatch until it shows one of them again.
func TestPairFollowsTheRouter(t *testing.T) {
	e := start(t, Options{})
	sim := e.sup.Simulator("hub1")
	e.waitStatus("cam1 armed on the main", 5*time.Second, func(st *pb.Status) bool {
		return pairOf(st, "cam1").State == "on-main"
	})
	if err := sim.SetRoute(0, 1); err != nil { // output 1 ← input 2 (b1), as a panel would
		t.Fatal(err)
	}
	e.waitStatus("cam1 follows to the backup", 5*time.Second, func(st *pb.Status) bool {
		p := pairOf(st, "cam1")
		return p.State == "on-backup" && p.OnAir == "backup" && p.Active == "b1"
	})
	mismatch := func(st *pb.Status) bool {
		for _, a := range pairOf(st, "cam1").Alarms {
			if a.Kind == "router_mismatch" && a.Active {
				return true
			}
		}
		return false
	}
	if err := sim.SetRoute(0, 6); err != nil { // output 1 ← input 7: neither machine
		t.Fatal(err)
	}
	e.waitStatus("router_mismatch raised", 5*time.Second, mismatch)
	if err := sim.SetRoute(0, 0); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("back on the main, alarm cleared", 5*time.Second, func(st *pb.Status) bool {
		return pairOf(st, "cam1").State == "on-main" && !mismatch(st)
	})
	if p := pairOf(e.status(), "cam2"); p.State != "on-main" || len(p.Alarms) != 0 {
		t.Errorf("cam2, untouched: %s alarms %v", p.State, p.Alarms)
	}
}

// TestProfileEndpoint: the runtime's profiles only to a level-3 operator, a CPU profile and a
// heap profile in pprof's format.
func TestProfileEndpoint(t *testing.T) {
	e := start(t, Options{})
	get := func(path, token string) (int, []byte) {
		req, err := http.NewRequest("GET", e.ctl.URL()+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, body
	}
	for tok, want := range map[string]int{"": 401, "nope": 401, tokView: 403, tokOperate: 403} {
		if status, body := get("/debug/pprof/heap", tok); status != want {
			t.Errorf("heap profile with token %q: %d %s, want %d", tok, status, body, want)
		}
	}
	for _, path := range []string{"/debug/pprof/profile?seconds=1", "/debug/pprof/heap", "/debug/pprof/goroutine"} {
		status, body := get(path, tokConfigure)
		// pprof's format is gzipped protobuf.
		if status != 200 || len(body) < 2 || body[0] != 0x1f || body[1] != 0x8b {
			t.Errorf("%s: %d, %d bytes, want 200 and a gzipped profile", path, status, len(body))
		}
	}
	if status, _ := get("/debug/pprof/cmdline", tokConfigure); status != 404 {
		t.Errorf("cmdline: %d, want 404 (the command line may carry secrets)", status)
	}
}
