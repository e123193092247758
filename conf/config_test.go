package conf

import (
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	if len(c.Pairs) < 2 || !c.Routers[0].Simulate {
		t.Fatalf("demo studio: %d pairs, simulate=%v", len(c.Pairs), c.Routers[0].Simulate)
	}
	if got := c.Supervisor.HeartbeatTimeout.Duration; got != 250*time.Millisecond {
		t.Fatalf("heartbeat_timeout = %s", got)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse([]byte(`
[[router]]
name = "hub1"
address = "10.0.0.50"
[[machine]]
name = "a"
[[machine]]
name = "b"
heartbeat_timeout = "100ms"
[[pair]]
name = "p"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = "Render A"
backup_input = 2
outputs = [1]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pairs[0]
	for _, tc := range []struct{ key, got, want string }{
		{"supervisor.listen", c.Supervisor.Listen, "127.0.0.1:7400"},
		{"supervisor.http", c.Supervisor.HTTP, "127.0.0.1:7480"},
		{"router.address", c.Routers[0].Address, "10.0.0.50:9990"},
		{"router.kind", c.Routers[0].Kind, "videohub"},
		{"pair.mode", p.Mode, "automatic"},
		{"pair.failback", p.Failback, "manual"},
		{"pair.failback_after", p.FailbackAfter.String(), "30s"},
		{"pair.feed.main_input", p.Feeds[0].MainInput.Label, "Render A"},
		{"machine a timeout", c.MachineTimeout(c.Machine("a")).String(), "250ms"},
		{"machine b timeout", c.MachineTimeout(c.Machine("b")).String(), "100ms"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
}

// Every mistake is reported at once, each with its key path.
func TestAllErrorsWithKeyPaths(t *testing.T) {
	b, err := os.ReadFile("testdata/bad.toml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(b)
	var list Errors
	if !errors.As(err, &list) {
		t.Fatalf("err = %v, want Errors", err)
	}
	want := []string{
		`supervisor.colour: unknown key`,
		`supervisor.heartbeat_timeout: "fast" is not a duration`,
		`router "hub1".kind: "atem" is not a router kind`,
		`machine "render-1".health.gpu_temp: warning and critical are both 90`,
		`pair "cam1".backup: "render-9" is not a [[machine]]`,
		`pair "cam1".mode: "sometimes" is not automatic or manual`,
		`pair "cam1".feed[0]: main_input and backup_input are both 1`,
		`pair "cam2".router: "hub2" is not a [[router]]`,
		`pair "cam2": main and backup are both "render-1"`,
		`pair "cam2".main: "render-1" is already the main of pair "cam1"`,
		`pair "cam2".failback_after: "later" is not a duration`,
		`pair "cam2".feed[0].main_input: 0 is not a router port`,
		`pair "cam2".feed[0].outputs[1]: 300 is not a router port`,
	}
	text := err.Error()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("missing error %q", w)
		}
	}
	if len(list) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(list), len(want), text)
	}
}

func TestOutputClaimedTwice(t *testing.T) {
	_, err := Parse([]byte(`
[[router]]
name = "hub1"
address = "10.0.0.50:9990"
[[machine]]
name = "a"
[[machine]]
name = "b"
[[machine]]
name = "c"
[[machine]]
name = "d"
[[pair]]
name = "p1"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]
[[pair]]
name = "p2"
router = "hub1"
main = "c"
backup = "d"
[[pair.feed]]
main_input = 3
backup_input = 4
outputs = [1]
`))
	if err == nil || !strings.Contains(err.Error(), `pair "p2".feed[0].outputs[0]: output 1 of router "hub1" is already claimed by pair "p1"`) {
		t.Fatalf("err = %v", err)
	}
}

func TestSyntaxErrorNamesLine(t *testing.T) {
	_, err := Parse([]byte("[supervisor]\nname = \n"))
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v", err)
	}
}

func TestFeatureMismatchWarns(t *testing.T) {
	c, err := Parse([]byte(`
[supervisor]
agent_token = "s3cret"
[[router]]
name = "hub1"
address = "10.0.0.50:9990"
[[machine]]
name = "a"
features = ["tracking", "ar"]
[[machine]]
name = "b"
features = ["tracking"]
[[pair]]
name = "p"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]
`))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Warnings()
	if len(w) != 2 || !strings.Contains(w[0], "not authenticated") || !strings.Contains(w[1], "different features") {
		t.Fatalf("warnings = %q", w)
	}
}

// FuzzParse: no input makes the loader panic.
func FuzzParse(f *testing.F) {
	f.Add(DefaultTOML)
	if b, err := os.ReadFile("testdata/bad.toml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = Parse(b)
	})
}

func TestEncodeRoundTrip(t *testing.T) {
	c := Default()
	c.Pairs[0].Feeds[0].MainInput = Port{Label: "Render A"}
	b, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip differs:\n%s", b)
	}
}

func TestOperators(t *testing.T) {
	_, err := Parse([]byte(`
[[operator]]
name = "alice"
token = "short"
level = 4
[[operator]]
name = "bob"
token = "0123456789"
level = 2
[[operator]]
name = "bob"
token = "0123456789"
level = 3
`))
	for _, w := range []string{`operator "alice".token: must be at least 8`, `operator "alice".level: 4 is not 1`,
		`operator "bob": defined twice`, `operator "bob".token: same token as operator "bob"`} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("missing %q in %v", w, err)
		}
	}
}

func TestNamesBecomeActorIDs(t *testing.T) {
	_, err := Parse([]byte("[[machine]]\nname = \"render 1/a\"\n"))
	if err == nil || !strings.Contains(err.Error(), `machine "render 1/a".name: "render 1/a" has spaces, slashes or control characters`) {
		t.Fatalf("err = %v", err)
	}
}

func TestExamplesAreValid(t *testing.T) {
	for _, p := range []string{"examples/studio.toml", "examples/studio-b.toml"} {
		if _, err := Load(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	if _, err := Load("examples/studio.toml"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"examples/render-1.toml", "examples/render-1b.toml"} {
		if _, err := LoadAgent(a); err != nil {
			t.Fatalf("%s: %v", a, err)
		}
	}
}

// TestSimulatedRouterSize: ports beyond a simulated router's declared size are errors with their
// key path (a real router's size is checked once it is connected).
func TestSimulatedRouterSize(t *testing.T) {
	_, err := Parse([]byte(`
[[router]]
name = "hub1"
address = "127.0.0.1:0"
simulate = true
inputs = 12
outputs = 12
[[machine]]
name = "a"
[[machine]]
name = "b"
[[machine]]
name = "x"
[machine.feed.pgm]
input = 40
outputs = [1]
[[machine]]
name = "y"
[machine.feed.pgm]
input = 3
[[pair]]
name = "p1"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = 99
backup_input = 2
outputs = [13]
[[pool]]
name = "q"
router = "hub1"
mains = ["x"]
backups = ["y"]
`))
	for _, want := range []string{
		`pair "p1".feed[0].main_input: input 99: router "hub1" is simulated with 12 inputs (1..12)`,
		`pair "p1".feed[0].outputs[0]: output 13: router "hub1" is simulated with 12 outputs (1..12)`,
		`machine "x".feed.pgm.input: input 40: router "hub1" is simulated with 12 inputs (1..12)`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want %s", err, want)
		}
	}
}

// TestProtectsNothingWarns: an empty file, or one cut before its [[pair]] tables, is valid but
// warned about; a secondary's file may leave the studio to its primary.
func TestProtectsNothingWarns(t *testing.T) {
	for _, c := range []struct {
		name, text string
		warn       bool
	}{
		{"empty", "", true},
		{"cut before the pairs", "[supervisor]\nname = \"s\"\n[[router]]\nname = \"hub1\"\naddress = \"127.0.0.1:9990\"\n[[machine]]\nname = \"m1\"\n", true},
		{"secondary", "[supervisor]\nname = \"b\"\n[redundancy]\nmode = \"secondary-failover\"\npeer = \"127.0.0.2:7400\"\n", false},
	} {
		cfg, err := Parse([]byte(c.text))
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := strings.Contains(strings.Join(cfg.Warnings(), "\n"), "protects nothing")
		if got != c.warn {
			t.Errorf("%s: warned %v, want %v: %q", c.name, got, c.warn, cfg.Warnings())
		}
	}
	cfg, err := Parse(DefaultTOML)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ProtectsNothing() {
		t.Error("the demo studio protects nothing?")
	}
}
