package conf

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func loadAgent(t *testing.T, name string) *Agent {
	t.Helper()
	a, err := LoadAgent(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return a
}

func TestAgentExample(t *testing.T) {
	a := loadAgent(t, "agent-example.toml")
	if a.Name != "render-1" || len(a.Supervisors) != 2 || a.Supervisors[0] != "10.0.0.1:7400" ||
		a.Listen != "0.0.0.0:7401" || a.Token != "change-me" || a.HeartbeatInterval.Duration != 50*time.Millisecond {
		t.Fatalf("top level: %+v", a)
	}
	if len(a.Services) != 2 || len(a.Health) != 2 {
		t.Fatalf("services %d health %d", len(a.Services), len(a.Health))
	}
	engine, videoio := a.Services[0], a.Services[1]
	if engine.Kind != KindProcess || engine.PIDFile != "/run/engine.pid" || engine.Interval.Duration != DefaultProcessLookInterval {
		t.Errorf("engine: %+v", engine)
	}
	if videoio.Kind != KindTCP || videoio.Target != "127.0.0.1:5000" ||
		videoio.Interval.Duration != DefaultCheckInterval || videoio.Timeout.Duration != DefaultCheckTimeout {
		t.Errorf("videoio: %+v", videoio)
	}
	if h := a.Health[0]; h.HealthKind() != HealthBuiltin || h.Interval.Duration != DefaultHealthInterval {
		t.Errorf("cpu_temp: %+v kind %s", h, h.HealthKind())
	}
	if h := a.Health[1]; h.HealthKind() != HealthCommand || h.Command[0] != "/usr/local/bin/engine-fps" || h.Interval.Duration != time.Second {
		t.Errorf("fps: %+v kind %s", h, h.HealthKind())
	}
}

func TestAgentDefaults(t *testing.T) {
	a := loadAgent(t, "agent-minimal.toml")
	if a.Listen != DefaultAgentListen || a.HeartbeatInterval.Duration != DefaultHeartbeatInterval || a.Advertise != "" {
		t.Fatalf("defaults: listen %q heartbeat %s advertise %q", a.Listen, a.HeartbeatInterval.Duration, a.Advertise)
	}
}

func TestAgentSim(t *testing.T) {
	a := loadAgent(t, "agent-sim.toml")
	if !a.Services[0].SimUp() || a.Services[1].SimUp() {
		t.Errorf("sim up: engine %v videoio %v, want true false", a.Services[0].SimUp(), a.Services[1].SimUp())
	}
	for _, h := range a.Health {
		if h.HealthKind() != HealthSim || h.Sim == nil {
			t.Errorf("%s: kind %s sim %v", h.Name, h.HealthKind(), h.Sim)
		}
	}
	if *a.Health[0].Sim != 60 || *a.Health[1].Sim != 50 {
		t.Errorf("sim values %v %v", *a.Health[0].Sim, *a.Health[1].Sim)
	}
	// Sim entries take no interval or timeout.
	if a.Services[0].Interval != (Duration{}) || a.Health[0].Interval != (Duration{}) {
		t.Errorf("sim entries got check defaults")
	}
}

func TestAgentAllKinds(t *testing.T) {
	a := loadAgent(t, "agent-all-kinds.toml")
	want := map[string]struct {
		kind              string
		interval, timeout time.Duration
	}{
		"engine":  {KindProcess, DefaultProcessLookInterval, 0},
		"helper":  {KindProcess, 100 * time.Millisecond, 0},
		"web":     {KindHTTP, DefaultCheckInterval, 300 * time.Millisecond},
		"license": {KindExec, 5 * time.Second, DefaultCheckTimeout},
	}
	for _, s := range a.Services {
		w := want[s.Name]
		if s.Kind != w.kind || s.Interval.Duration != w.interval || s.Timeout.Duration != w.timeout {
			t.Errorf("%s: kind %s interval %s timeout %s; want %+v", s.Name, s.Kind, s.Interval.Duration, s.Timeout.Duration, w)
		}
	}
	if h := a.Health[3]; h.Name != "gpu_temp" || h.Timeout.Duration != 2*time.Second {
		t.Errorf("gpu_temp: %+v", h)
	}
	if h := a.Health[4]; h.HealthKind() != HealthURL || h.Interval.Duration != 500*time.Millisecond {
		t.Errorf("fps: %+v", h)
	}
}

// TestAgentErrors checks that every problem in a file is reported at once, each with its key path.
func TestAgentErrors(t *testing.T) {
	b, err := os.ReadFile("testdata/agent-bad.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ParseAgent(b)
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("ParseAgent: %v (%T), want Errors", err, err)
	}
	want := []string{
		`colour: unknown key`,
		`service[1] "videoio".targt: unknown key`,
		`name: "render 1" has spaces, slashes or control characters`,
		`supervisors[0]: "10.0.0.1" is not host:port`,
		`supervisors[2]: "10.0.0.2:7400" is listed twice`,
		`supervisors[3]: ":7400" is not host:port`,
		`listen: "0.0.0.0" is not host:port`,
		`token: missing: set it to the supervisors' agent_token`,
		`heartbeat_interval: "fast" is not a duration (use e.g. "250ms", "30s", "1m")`,
		`service[0] "engine": kind process needs exactly one of pid, pidfile or match`,
		`service[0] "engine".pidfile: "run/engine.pid" is not an absolute path`,
		`service[1] "videoio".url: not used by kind "tcp" (only by http)`,
		`service[1] "videoio".target: "x" is not host:port`,
		`service[2] "videoio": service name defined twice`,
		`service[2] "videoio".url: "ftp://host/file" is not an http:// or https:// URL`,
		`service[2] "videoio".interval: 1ms is too short (minimum 10ms)`,
		`service[3].name: missing`,
		`service[3].command: missing: the program and its arguments, e.g. ["/usr/local/bin/check", "-q"]`,
		`service[4] "thing".kind: "ssh" is not a service kind (process, tcp, http, exec or sim)`,
		`service[5] "sim1".timeout: not used by kind "sim" (only by tcp, http, exec)`,
		`health[0] "fps": "fps" is not a builtin (cpu_load, memory_used, disk_used, cpu_temp, gpu_temp); give command, url or sim`,
		`health[1] "temp": set at most one of command, url or sim`,
		`health[1] "temp".url: not used by kind "command" (only by url)`,
		`health[2] "gpu_temp".sim: missing: the initial value`,
		`health[3] "gpu_temp": health name defined twice`,
		`health[3] "gpu_temp".interval: not used by kind "sim" (only by builtin, command, url)`,
	}
	got := make([]string, len(list))
	for i, e := range list {
		got[i] = e.Error()
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors:\n%s\n\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestAgentSmallErrors(t *testing.T) {
	base := "name = \"m\"\nsupervisors = [\"127.0.0.1:7400\"]\ntoken = \"t\"\n"
	for _, c := range []struct{ name, toml, want string }{
		{"syntax", "name = ", "line 1"},
		{"wrong type", "name = 5", "name"},
		{"no supervisors", "name = \"m\"\ntoken = \"t\"", "supervisors: missing"},
		{"too many supervisors", "name = \"m\"\ntoken = \"t\"\nsupervisors = [\"a:1\",\"a:2\",\"a:3\",\"a:4\",\"a:5\",\"a:6\",\"a:7\",\"a:8\",\"a:9\"]", "at most 8"},
		{"short heartbeat", base + "heartbeat_interval = \"1ms\"", "heartbeat_interval: 1ms is too short"},
		{"long name", base + "[[service]]\nkind = \"sim\"\nname = \"" + strings.Repeat("x", 65) + "\"", "longer than 64"},
		{"bad advertise", base + "advertise = \"a b\"", "advertise"},
		{"bad advertise port", base + "advertise = \"a:0\"", "advertise"},
		{"no kind", base + "[[service]]\nname = \"s\"", `service[0] "s".kind: missing`},
		{"match path", base + "[[service]]\nname = \"s\"\nkind = \"process\"\nmatch = \"/usr/bin/x\"", "not a path"},
		{"tcp no target", base + "[[service]]\nname = \"s\"\nkind = \"tcp\"", "target: missing"},
		{"http no url", base + "[[service]]\nname = \"s\"\nkind = \"http\"", "url: missing"},
		{"empty argv0", base + "[[service]]\nname = \"s\"\nkind = \"exec\"\ncommand = [\"\"]", "command[0]: missing"},
		{"health kind", base + "[[health]]\nname = \"h\"\nkind = \"magic\"", `health[0] "h".kind: "magic" is not a health kind`},
		{"health url", base + "[[health]]\nname = \"h\"\nurl = \"nope\"", "is not an http"},
		{"unknown health key", base + "[[health]]\nname = \"cpu_load\"\nwarn = 3", `health[0] "cpu_load".warn: unknown key`},
		{"unknown table", base + "[extra]\nx = 1", "extra"},
	} {
		_, err := ParseAgent([]byte(c.toml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to contain %q", c.name, err, c.want)
		}
	}
}

func TestLoadAgentMissingFile(t *testing.T) {
	if _, err := LoadAgent("testdata/no-such-agent.toml"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("err = %v, want ErrNotExist", err)
	}
}

func FuzzParseAgent(f *testing.F) {
	for _, name := range []string{"agent-example.toml", "agent-sim.toml", "agent-all-kinds.toml", "agent-bad.toml"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAgent(b)
		if (a == nil) == (err == nil) {
			t.Fatalf("ParseAgent returned %v and %v", a, err)
		}
	})
}
