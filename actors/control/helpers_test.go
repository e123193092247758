package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"standby/actors/state"
	"standby/actors/supervisor"
	"standby/conf"
	"standby/protocol/pb"
)

// Operator tokens of the test studio.
const (
	tokView      = "view-token-1"
	tokOperate   = "operate-token-1"
	tokConfigure = "configure-token-1"
	tokBad       = "not-a-token-1"
)

// studio is a small studio: two pairs of simulated machines on an in-process Videohub simulator,
// two spare machines for mapping edits, no demo script (nothing changes unless a test says so).
func studio(stateDir string) string {
	return fmt.Sprintf(`
[supervisor]
name = "test-studio"
listen = "127.0.0.1:0"
http = "127.0.0.1:0"
state_dir = %q
# Generous: simulated machines must not look silent on a busy CI machine.
heartbeat_timeout = "1s"
tick = "100ms"
agent_token = "agent-token-1"

[[operator]]
name = "vera"
token = %q
level = 1
[[operator]]
name = "otto"
token = %q
level = 2
[[operator]]
name = "cora"
token = %q
level = 3

[[router]]
name = "hub1"
address = "127.0.0.1:0"
simulate = true
inputs = 12
outputs = 12

[[machine]]
name = "m1"
features = ["ar"]
simulated = true
[machine.health.gpu_temp]
warning = 80
critical = 90
[[machine]]
name = "b1"
features = ["ar"]
simulated = true
[machine.health.gpu_temp]
warning = 80
critical = 90
[[machine]]
name = "m2"
simulated = true
[[machine]]
name = "b2"
simulated = true
[[machine]]
name = "s1"
simulated = true
[[machine]]
name = "s2"
features = ["tracking"]
simulated = true

[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
mode = "automatic"
failback = "manual"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]

[[pair]]
name = "cam2"
router = "hub1"
main = "m2"
backup = "b2"
mode = "manual"
[[pair.feed]]
main_input = 3
backup_input = 4
outputs = [2]
`, stateDir, tokView, tokOperate, tokConfigure)
}

// env is a supervisor with its control surfaces, in this process (no remote endpoint: a test
// process runs at most one, see the cross-process test).
type env struct {
	t    *testing.T
	sup  *supervisor.Supervisor
	ctl  *Control
	logs *syncBuffer // every log line, to check what is never logged
	dir  string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, o Options) *env {
	t.Helper()
	return startIn(t, t.TempDir(), o)
}

// startIn starts the studio with state under dir, and waits until it can switch.
func startIn(t *testing.T, dir string, o Options) *env {
	t.Helper()
	return startConfig(t, dir, studio(dir), o)
}

// startConfig starts the supervisor of config text with its control surfaces, and waits until
// every pair and pool armed and the routers connected.
func startConfig(t *testing.T, dir, text string, o Options) *env {
	t.Helper()
	return startSupervisor(t, dir, text, supervisor.Options{}, o)
}

// startSupervisor is startConfig with supervisor options (hooks); Config and Logger are set here.
func startSupervisor(t *testing.T, dir, text string, so supervisor.Options, o Options) *env {
	t.Helper()
	cfg, err := conf.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, logs: &syncBuffer{}, dir: dir}
	log := zerolog.New(io.MultiWriter(zerolog.NewTestWriter(t), e.logs)).With().Timestamp().Logger()
	so.Config, so.Logger = cfg, log
	s, err := supervisor.Start(so)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Stop()
	})
	o.Logger = log
	if o.HTTP == "" {
		o.HTTP = "127.0.0.1:0"
	}
	c, err := Start(s, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	e.sup, e.ctl = s, c
	t.Cleanup(func() {
		for _, tok := range []string{tokView, tokOperate, tokConfigure, tokBad} {
			if strings.Contains(e.logs.String(), tok) {
				t.Errorf("a token was logged: %q", tok)
			}
		}
	})
	e.waitStatus("every pair armed and the router connected", 5*time.Second, func(st *pb.Status) bool {
		for _, p := range st.Pairs {
			if p.State == "unarmed" {
				return false
			}
		}
		for _, p := range st.Pools {
			for _, sl := range p.Slots {
				if sl.State == "unarmed" {
					return false
				}
			}
		}
		for _, r := range st.Routers {
			if r.Conn != "connected" {
				return false
			}
		}
		return true
	})
	return e
}

// waitStatus waits until cond holds for the status, re-checking on every event (no polling).
func (e *env) waitStatus(what string, within time.Duration, cond func(*pb.Status) bool) *pb.Status {
	e.t.Helper()
	events, cancel := e.ctl.hub.Subscribe(1024)
	defer cancel()
	deadline := time.NewTimer(within)
	defer deadline.Stop()
	for {
		st, err := e.ctl.svc.Status()
		if err != nil {
			e.t.Fatal(err)
		}
		if cond(st) {
			return st
		}
		select {
		case <-events:
		case <-deadline.C:
			e.t.Fatalf("not within %s: %s; status: %s", within, what, mustJSON(st))
		}
	}
}

func (e *env) status() *pb.Status {
	e.t.Helper()
	st, err := e.ctl.svc.Status()
	if err != nil {
		e.t.Fatal(err)
	}
	return st
}

func pairOf(st *pb.Status, name string) *pb.Status_Pair {
	for _, p := range st.Pairs {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func machineOf(st *pb.Status, name string) *pb.Status_Machine {
	for _, m := range st.Machines {
		if m.Name == name {
			return m
		}
	}
	return nil
}

// fingerprint is what an operation may change: mapping, policies, who is on air, alarms, machine
// conditions (not heartbeat ages).
func fingerprint(st *pb.Status) string {
	var b strings.Builder
	for _, p := range st.Pairs {
		fmt.Fprintf(&b, "%s %s/%s %s %s %s %s", p.Name, p.Main, p.Backup, p.Mode, p.Failback, p.State, p.OnAir)
		for _, f := range p.Feeds {
			fmt.Fprintf(&b, " %s/%s>%v", f.MainInput, f.BackupInput, f.Outputs)
		}
		for _, a := range p.Alarms {
			fmt.Fprintf(&b, " alarm:%s:%v", a.Kind, a.Acked)
		}
		b.WriteString("\n")
	}
	for _, m := range st.Machines {
		fmt.Fprintf(&b, "%s %s %s", m.Name, m.Failure, m.Level)
		for _, h := range m.Health {
			fmt.Fprintf(&b, " %s=%g", h.Name, h.Value)
		}
		b.WriteString("\n")
	}
	return b.String()
}

func mustJSON(m proto.Message) string {
	b, _ := JSON(m)
	return string(b)
}

// httpDo sends one API request; it returns the status and the decoded reply.
func (e *env) httpDo(method, path, token, body string) (int, map[string]any) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.ctl.URL()+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	var reply map[string]any
	if err := json.Unmarshal(raw, &reply); err != nil {
		e.t.Fatalf("%s %s: not JSON (%d): %s", method, path, res.StatusCode, raw)
	}
	return res.StatusCode, reply
}

// saved is what a supervisor started again on dir would run: the test studio's file with the
// state document's overrides, and the document.
func saved(t *testing.T, dir string) (*conf.Config, *pb.StateDoc) {
	t.Helper()
	return savedWith(t, dir, studio(dir))
}

// savedWith is saved for a studio of config text.
func savedWith(t *testing.T, dir, text string) (*conf.Config, *pb.StateDoc) {
	t.Helper()
	file, err := conf.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	d, err := state.Load(dir)
	if err != nil {
		t.Fatalf("state document: %v", err)
	}
	return state.Apply(zerolog.New(zerolog.NewTestWriter(t)), file, d.GetOverrides()), d
}

// mappingEdits is how many pairs and pools operators' mapping edits changed in the state document
// under dir (0 without one); mode and failback alone do not count.
func mappingEdits(t *testing.T, dir string) int {
	t.Helper()
	d, err := state.Load(dir)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatalf("state document: %v", err)
	}
	n := 0
	for _, o := range d.GetOverrides() {
		if o.GetChange() != state.Edited || slices.ContainsFunc(o.GetFields(), func(f string) bool { return f != "mode" && f != "failback" }) {
			n++
		}
	}
	return n
}
