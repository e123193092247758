package action

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/pool"
	"standby/conf"
	"standby/protocol/pb"
)

const studio = `
[supervisor]
name = "studio-a"
[[router]]
name = "hub1"
address = "127.0.0.1:9990"
[[machine]]
name = "m1"
[[machine]]
name = "b1"
[[machine]]
name = "m2"
[[machine]]
name = "b2"
[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]
[[pair]]
name = "cam2"
router = "hub1"
main = "m2"
backup = "b2"
[[pair.feed]]
main_input = 3
backup_input = 4
outputs = [2]
`

// rig runs a runner on a local actor system and collects its results.
type rig struct {
	t       *testing.T
	sys     *actor.ActorSystem
	pid     *actor.PID
	results chan *Result
	clk     *clock.Fake
	held    []*Result // results received while waiting for another action's
}

func newRig(t *testing.T, actions string, agent AgentCaller) *rig {
	t.Helper()
	cfg, err := conf.Parse([]byte(studio + actions))
	if err != nil {
		t.Fatal(err)
	}
	quiet := actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) })
	r := &rig{t: t, sys: actor.NewActorSystem(quiet), results: make(chan *Result, 100), clk: clock.NewFake(time.Unix(1_700_000_000, 0))}
	r.pid = r.sys.Root.Spawn(Props(Options{Config: cfg, Agent: agent, Clock: r.clk, Logger: zerolog.New(zerolog.NewTestWriter(t)),
		Publish: func(res *Result) { r.results <- res }}))
	t.Cleanup(func() {
		_ = r.sys.Root.StopFuture(r.pid).Wait()
		r.sys.Shutdown()
	})
	return r
}

// failover feeds the runner a confirmed engine failover of pair from main to backup.
func (r *rig) failover(pair, main, backup string) {
	now := r.clk.Now()
	r.sys.Root.Send(r.pid, &pool.Event{Pool: pair, Time: now, Action: failover.Transition{Main: main, From: failover.OnMain,
		To: failover.SwitchingToBackup, Machine: backup, Trigger: failover.TriggerEngine}})
	r.sys.Root.Send(r.pid, &pool.Event{Pool: pair, Time: now, Action: failover.Transition{Main: main, From: failover.SwitchingToBackup,
		To: failover.OnBackup, Machine: backup, Trigger: failover.TriggerEngine, Detail: "engine: process exited", Latency: 1500 * time.Microsecond}})
}

// result waits for the next result of action.
func (r *rig) result(action string) *Result {
	r.t.Helper()
	for i, res := range r.held {
		if res.Action == action {
			r.held = slices.Delete(r.held, i, i+1)
			return res
		}
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case res := <-r.results:
			if res.Action == action {
				return res
			}
			r.held = append(r.held, res)
		case <-deadline:
			r.t.Fatalf("no result of %s", action)
		}
	}
}

func TestEventFieldsAreTheConfigsFields(t *testing.T) {
	var names []string
	for f := range reflect.TypeFor[Event]().Fields() {
		names = append(names, f.Name)
	}
	if !slices.Equal(names, conf.ActionFields) {
		t.Fatalf("Event fields %v, conf.ActionFields %v", names, conf.ActionFields)
	}
	if got := EnvName("SwitchMs"); got != "STANDBY_SWITCH_MS" {
		t.Fatal(got)
	}
}

func TestHTTPAction(t *testing.T) {
	type seen struct{ method, path, header, ctype, body string }
	got := make(chan seen, 4)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		got <- seen{req.Method, req.URL.Path, req.Header.Get("X-Machine"), req.Header.Get("Content-Type"), string(b)}
		if strings.Contains(req.URL.Path, "fail") {
			http.Error(w, "no such button", http.StatusNotFound)
		}
	}))
	defer srv.Close()
	r := newRig(t, `
[[action]]
name = "tell-companion"
on = ["failover"]
kind = "http"
url = "`+srv.URL+`/press/{{.Pair}}"
headers = { "X-Machine" = "{{.Machine}}", "Content-Type" = "application/json" }
body = '{"pair":"{{.Pair}}","from":"{{.From}}","to":"{{.To}}","trigger":"{{.Trigger}}","ms":{{.SwitchMs}},"sup":"{{.Supervisor}}"}'
[[action]]
name = "put-fail"
on = ["failover"]
pairs = ["cam2"]
kind = "http"
method = "PUT"
url = "`+srv.URL+`/fail"
`, nil)
	r.failover("cam1", "m1", "b1")
	s := <-got
	want := seen{"POST", "/press/cam1", "b1", "application/json", `{"pair":"cam1","from":"m1","to":"b1","trigger":"engine","ms":1.5,"sup":"studio-a"}`}
	if s != want {
		t.Fatalf("request %+v\nwant    %+v", s, want)
	}
	res := r.result("tell-companion")
	if res.Result != ResultOK || res.Detail != "HTTP 200" || res.Event.Event != "failover" || res.Event.Pair != "cam1" {
		t.Fatalf("result %+v", res)
	}
	// The filter keeps put-fail off cam1; on cam2 it runs, and a 404 is a failure with the body.
	r.failover("cam2", "m2", "b2")
	a, b := <-got, <-got // the two actions run side by side
	if a.method == "PUT" {
		a, b = b, a
	}
	if a.method != "POST" || a.path != "/press/cam2" || b.method != "PUT" || b.path != "/fail" {
		t.Fatalf("requests on cam2 %+v %+v", a, b)
	}
	if res := r.result("put-fail"); res.Result != ResultFailed || res.Detail != "HTTP 404: no such button" {
		t.Fatalf("result %+v", res)
	}
}

func TestTCPAndUDPActions(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	tcpGot := make(chan string, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		tcpGot <- string(b)
	}()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newRig(t, `
[[action]]
name = "companion-tcp"
on = ["failover"]
kind = "tcp"
address = "`+ln.Addr().String()+`"
data = 'LOCATION 1/0/5 PRESS {{.Pair}}\r\n'
[[action]]
name = "label-udp"
on = ["switch"]
kind = "udp"
address = "`+pc.LocalAddr().String()+`"
data = "{{.Pair}} on {{.Machine}}\n"
`, nil)
	r.failover("cam1", "m1", "b1")
	if got := <-tcpGot; got != "LOCATION 1/0/5 PRESS cam1\r\n" {
		t.Fatalf("tcp got %q", got)
	}
	buf := make([]byte, 1500)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil || string(buf[:n]) != "cam1 on b1\n" {
		t.Fatalf("udp got %q %v", buf[:n], err)
	}
	for _, a := range []string{"companion-tcp", "label-udp"} {
		if res := r.result(a); res.Result != ResultOK {
			t.Fatalf("%s: %+v", a, res)
		}
	}
	// The switch action runs under the name it listens to.
	ln.Close()
	r.failover("cam2", "m2", "b2")
	if res := r.result("companion-tcp"); res.Result != ResultFailed || !strings.Contains(res.Detail, "could not connect") {
		t.Fatalf("closed tcp port: %+v", res)
	}
}

func TestOSCAction(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newRig(t, `
[[action]]
name = "osc"
on = ["failover"]
kind = "osc"
address = "`+pc.LocalAddr().String()+`"
path = "/standby/{{.Pair}}/onair"
args = ["{{.Machine}}", "{{.Trigger}}"]
`, nil)
	r.failover("cam1", "m1", "b1")
	buf := make([]byte, 1500)
	_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	addr, args, err := DecodeOSC(buf[:n])
	if err != nil || addr != "/standby/cam1/onair" || !reflect.DeepEqual(args, []any{"b1", "engine"}) {
		t.Fatalf("osc got %q %v %v", addr, args, err)
	}
	if res := r.result("osc"); res.Result != ResultOK {
		t.Fatalf("%+v", res)
	}
}

func TestExecAction(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "argv")
	r := newRig(t, `
[[action]]
name = "load-show"
on = ["failover"]
kind = "exec"
command = ["/bin/sh", "-c", 'printf "%s|" "$@" > `+out+`; env | grep ^STANDBY_ | sort >> `+out+`', "sh", "{{.Main}}", "{{.Machine}} x"]
[[action]]
name = "exit-3"
on = ["failover"]
kind = "exec"
command = ["/bin/sh", "-c", "echo broken >&2; exit 3"]
[[action]]
name = "missing"
on = ["failover"]
kind = "exec"
command = ["/nonexistent/load-show"]
`, nil)
	r.failover("cam1", "m1", "b1")
	if res := r.result("load-show"); res.Result != ResultOK || res.Detail != "exit code 0" {
		t.Fatalf("%+v", res)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Scan()
	if argv := sc.Text(); !strings.HasPrefix(argv, "m1|b1 x|") {
		t.Fatalf("argv %q", argv)
	}
	env := string(b)
	for _, want := range []string{"STANDBY_ALARM=\n", "STANDBY_EVENT=failover\n", "STANDBY_FROM=m1\n", "STANDBY_MACHINE=b1\n", "STANDBY_MAIN=m1\n",
		"STANDBY_PAIR=cam1\n", "STANDBY_SUPERVISOR=studio-a\n", "STANDBY_SWITCH_MS=1.5\n", "STANDBY_TO=b1\n", "STANDBY_TRIGGER=engine\n",
		"STANDBY_DETAIL=engine: process exited\n", "STANDBY_TIME=2023-11-14T22:13:20Z\n"} {
		if !strings.Contains(env, want) {
			t.Errorf("environment lacks %q:\n%s", want, env)
		}
	}
	if res := r.result("exit-3"); res.Result != ResultFailed || res.Detail != "exit code 3: broken" {
		t.Fatalf("%+v", res)
	}
	if res := r.result("missing"); res.Result != ResultFailed || !strings.Contains(res.Detail, "no such file") {
		t.Fatalf("%+v", res)
	}
}

// A hung action times out, and while it hangs its queue fills: the oldest waiting event is dropped
// and reported, and another action is not held up.
func TestHungActionTimesOutQueueDrops(t *testing.T) {
	entered, srv, pc := hungPeers(t)
	r := newRig(t, `
[[action]]
name = "hung"
on = ["failover"]
kind = "http"
url = "`+srv.URL+`/{{.Pair}}"
timeout = "1m"
queue = 1
[[action]]
name = "short"
on = ["failback"]
kind = "http"
url = "`+srv.URL+`/short"
timeout = "100ms"
[[action]]
name = "label"
on = ["failover"]
kind = "udp"
address = "`+pc.LocalAddr().String()+`"
data = "{{.Pair}}"
`, nil)
	r.failover("cam1", "m1", "b1")
	if p := <-entered; p != "/cam1" {
		t.Fatalf("first request %s", p)
	}
	r.failover("cam2", "m2", "b2") // waits in hung's queue
	r.failover("cam1", "m1", "b1") // the queue is full: cam2's event is dropped
	// The other action runs for all three while hung hangs; hung drops cam2's event.
	for range 3 {
		if res := r.result("label"); res.Result != ResultOK {
			t.Fatalf("label: %+v", res)
		}
	}
	if res := r.result("hung"); res.Result != ResultDropped || res.Event.Pair != "cam2" || !strings.Contains(res.Detail, "queue full") {
		t.Fatalf("hung: %+v", res)
	}
	st := r.status()
	if st[0].Running != 1 || st[0].Queued != 1 || st[0].Counts[ResultDropped] != 1 || st[2].Counts[ResultOK] != 3 {
		t.Fatalf("status %+v", st)
	}
	// A run past its timeout is cancelled and reported as timed out.
	r.sys.Root.Send(r.pid, &pool.Event{Pool: "cam1", Action: failover.Transition{Main: "m1", From: failover.OnBackup, To: failover.SwitchingToMain, Machine: "m1"}})
	r.sys.Root.Send(r.pid, &pool.Event{Pool: "cam1", Action: failover.Transition{Main: "m1", From: failover.SwitchingToMain, To: failover.OnMain, Machine: "m1", Trigger: failover.TriggerFailback}})
	if res := r.result("short"); res.Result != ResultTimedOut || res.Event.Event != "failback" || res.Event.From != "b1" || res.Event.To != "m1" {
		t.Fatalf("short: %+v", res)
	}
}

func (r *rig) status() []Status {
	r.t.Helper()
	res, err := r.sys.Root.RequestFuture(r.pid, &GetStatus{}, 5*time.Second).Result()
	if err != nil {
		r.t.Fatal(err)
	}
	return res.([]Status)
}

func TestRetriesOnConnectionErrors(t *testing.T) {
	calls := make(chan string, 10)
	agent := func(ctx context.Context, m string, req *pb.CommandRequest) (*pb.CommandResult, error) {
		calls <- m
		if len(calls) < 3 {
			return nil, ErrConnect
		}
		return &pb.CommandResult{Machine: m, Ok: true, Output: "loaded " + req.Fields["Main"]}, nil
	}
	r := newRig(t, `
[[action]]
name = "load-show"
on = ["failover"]
kind = "agent"
machine = "{{.Machine}}"
command = "load-show"
retries = 3
`, agent)
	r.failover("cam1", "m1", "b1")
	res := r.result("load-show")
	if res.Result != ResultOK || res.Attempts != 3 || res.Detail != "load-show on b1: exit code 0: loaded m1" {
		t.Fatalf("%+v", res)
	}
}

func TestTestAndOtherEvents(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	r := newRig(t, `
[[action]]
name = "events"
on = ["alarm", "alarm_cleared", "machine_down", "machine_up", "takeover", "standby", "switch_failed"]
kind = "udp"
address = "`+pc.LocalAddr().String()+`"
data = "{{.Event}} {{.Pair}} {{.Machine}} {{.Alarm}} {{.To}} {{.Detail}}"
`, nil)
	read := func() string {
		t.Helper()
		buf := make([]byte, 1500)
		_ = pc.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := pc.ReadFrom(buf)
		if err != nil {
			t.Fatal(err)
		}
		return string(buf[:n])
	}
	send := func(m any) { r.sys.Root.Send(r.pid, m) }
	send(&machine.Changed{Machine: "m2", Condition: failover.Condition{Known: true}})
	send(&machine.Changed{Machine: "m2", Condition: failover.Condition{Known: true, Failure: failover.TriggerEngine, Detail: "engine: exited"}})
	send(&machine.Changed{Machine: "m2", Condition: failover.Condition{Known: true, Failure: failover.TriggerEngine, Level: failover.Warning}})
	send(&machine.Changed{Machine: "m2", Condition: failover.Condition{Known: true}})
	send(&pool.Event{Pool: "cam1", Action: failover.AlarmRaised{Main: "m1", Kind: failover.AlarmFlapGuard, Message: "latched"}})
	send(&pool.Event{Pool: "cam1", Action: failover.Transition{Main: "m1", From: failover.OnMain, To: failover.SwitchingToBackup, Machine: "b1"}})
	send(&pool.Event{Pool: "cam1", Action: failover.Transition{Main: "m1", From: failover.SwitchingToBackup, To: failover.OnMain, Machine: "m1", Detail: "router did not confirm"}})
	send(&machine.AlarmChanged{Machine: "b2", Alarm: failover.Alarm{Kind: "duplicate_agent", Active: false}})
	send(&RoleChanged{Active: true, Term: 4})
	for _, want := range []string{
		"machine_down cam2 m2   engine: exited",
		"machine_up cam2 m2   ",
		"alarm cam1 m1 flap_guard  latched",
		"switch_failed cam1 m1  b1 router did not confirm",
		"alarm_cleared cam2 b2 duplicate_agent  ",
		"takeover     this supervisor is active, term 4",
	} {
		if got := read(); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	// Test runs any action with a sample failover of its first pair, and answers with the result.
	res, err := r.sys.Root.RequestFuture(r.pid, &Test{Action: "events", By: "alice"}, 10*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	tr := res.(*TestReply)
	if tr.Err != nil || tr.Result.Result != ResultOK || !tr.Result.Test {
		t.Fatalf("%+v", tr)
	}
	if got := read(); got != "test cam1 b1  b1 test run by alice" {
		t.Fatalf("test sent %q", got)
	}
	res, _ = r.sys.Root.RequestFuture(r.pid, &Test{Action: "nope"}, 10*time.Second).Result()
	if tr := res.(*TestReply); tr.Err == nil || !strings.Contains(tr.Err.Error(), `unknown action "nope"`) {
		t.Fatalf("%+v", tr)
	}
}

// Two supervisors see the same machines: only the active one runs actions for them.
func TestStandbyRunsOnlyRoleEvents(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	cfg, err := conf.Parse([]byte(studio + `
[[action]]
name = "events"
on = ["machine_down", "takeover", "standby"]
kind = "udp"
address = "` + pc.LocalAddr().String() + `"
data = "{{.Event}} {{.Machine}}"
`))
	if err != nil {
		t.Fatal(err)
	}
	results := make(chan *Result, 10)
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	defer sys.Shutdown()
	pid := sys.Root.Spawn(Props(Options{Config: cfg, Standby: true, Logger: zerolog.New(zerolog.NewTestWriter(t)),
		Publish: func(r *Result) { results <- r }}))
	down := func(m string) {
		sys.Root.Send(pid, &machine.Changed{Machine: m, Condition: failover.Condition{Known: true, Failure: failover.TriggerNetwork}})
	}
	down("m1") // standby: not run
	sys.Root.Send(pid, &RoleChanged{Active: true, Term: 2})
	down("m2")
	sys.Root.Send(pid, &RoleChanged{Active: false, Term: 3})
	down("b1") // standby again: not run
	var got []string
	for len(got) < 3 {
		select {
		case r := <-results:
			got = append(got, r.Event.Event+" "+r.Event.Machine)
		case <-time.After(10 * time.Second):
			t.Fatalf("results %v", got)
		}
	}
	if want := []string{"takeover ", "machine_down m2", "standby "}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	// Runs of one action are in order: had b1's machine_down run, it would come before the test.
	if _, err := sys.Root.RequestFuture(pid, &Test{Action: "events"}, 10*time.Second).Result(); err != nil {
		t.Fatal(err)
	}
	if r := <-results; r.Event.Event != "test" {
		t.Fatalf("after standby: %+v", r.Event)
	}
}

// A reload keeps an action that stays (its queue and counts), drops the queue of one removed
// (reported), and starts one added.
func TestReconfigure(t *testing.T) {
	entered, srv, pc := hungPeers(t)
	stays := `
[[action]]
name = "stays"
on = ["failover"]
kind = "udp"
address = "` + pc.LocalAddr().String() + `"
data = "{{.Pair}}"
`
	r := newRig(t, stays+`
[[action]]
name = "goes"
on = ["failover"]
kind = "http"
url = "`+srv.URL+`/goes"
timeout = "1m"
`, nil)
	r.failover("cam1", "m1", "b1")
	<-entered
	r.failover("cam2", "m2", "b2") // waits behind the hung run of goes
	for range 2 {
		if res := r.result("stays"); res.Result != ResultOK {
			t.Fatalf("%+v", res)
		}
	}
	cfg, err := conf.Parse([]byte(studio + stays + `
[[action]]
name = "added"
on = ["failback"]
kind = "udp"
address = "` + pc.LocalAddr().String() + `"
data = "added {{.Pair}}"
`))
	if err != nil {
		t.Fatal(err)
	}
	r.sys.Root.Send(r.pid, &Reconfigure{Config: cfg})
	// Its waiting event is dropped and its run in flight cancelled (both reported).
	for _, want := range []string{ResultDropped, ResultFailed} {
		if res := r.result("goes"); res.Result != want || !strings.Contains(res.Detail, "removed from the config") {
			t.Fatalf("goes: %+v, want %s", res, want)
		}
	}
	r.sys.Root.Send(r.pid, &pool.Event{Pool: "cam1", Action: failover.Transition{Main: "m1", From: failover.OnBackup, To: failover.SwitchingToMain, Machine: "m1"}})
	r.sys.Root.Send(r.pid, &pool.Event{Pool: "cam1", Action: failover.Transition{Main: "m1", From: failover.SwitchingToMain, To: failover.OnMain, Machine: "m1"}})
	if res := r.result("added"); res.Result != ResultOK || res.Event.Event != "failback" {
		t.Fatalf("added: %+v", res)
	}
	st := r.status()
	if len(st) != 2 || st[0].Name != "stays" || st[0].Counts[ResultOK] != 2 || st[1].Name != "added" {
		t.Fatalf("status %+v", st)
	}
}

// hungPeers starts an HTTP server whose requests hang (each path is sent on entered first) until
// the test ends or the client gives up, and a UDP listener for an action that always answers.
func hungPeers(t *testing.T) (entered chan string, srv *httptest.Server, pc net.PacketConn) {
	t.Helper()
	entered, release := make(chan string, 10), make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		entered <- req.URL.Path
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs before srv.Close: hung handlers return first
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	return entered, srv, pc
}
