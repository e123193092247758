package conf

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const actionBase = `
[[router]]
name = "hub1"
address = "10.0.0.50"
[[machine]]
name = "a"
[[machine]]
name = "b"
[[pair]]
name = "cam1"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]
`

func TestActionDefaults(t *testing.T) {
	c, err := Parse([]byte(actionBase + `
[[action]]
name = "tell-companion"
on = ["failover", "failback"]
pairs = ["cam1"]
kind = "http"
url = "http://127.0.0.1:8000/press/{{.Pair}}"
headers = { "X-Machine" = "{{.Machine}}" }
body = '{"to":"{{.To}}"}'
[[action]]
name = "load-show"
on = ["failover"]
kind = "agent"
machine = "{{.Machine}}"
command = "load-show"
[[action]]
name = "log"
on = ["switch"]
kind = "exec"
command = ["/bin/echo", "{{.Main}}"]
timeout = "5s"
retries = 2
`))
	if err != nil {
		t.Fatal(err)
	}
	h, ag, ex := c.Actions[0], c.Actions[1], c.Actions[2]
	for _, tc := range []struct{ key, got, want string }{
		{"http method", h.Method, "POST"},
		{"http timeout", h.Timeout.String(), "2s"},
		{"http concurrency", itoa(h.Concurrency), "1"},
		{"http queue", itoa(h.Queue), "16"},
		{"agent command", ag.Command.Name, "load-show"},
		{"exec command", strings.Join(ex.Command.Argv, " "), "/bin/echo {{.Main}}"},
		{"exec timeout", ex.Timeout.String(), "5s"},
		{"actions.concurrency", itoa(c.ActionLimits.Concurrency), "8"},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %q, want %q", tc.key, tc.got, tc.want)
		}
	}
	if c.Action("load-show") == nil || c.Action("nope") != nil {
		t.Fatal("Action lookup")
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestActionErrors(t *testing.T) {
	_, err := Parse([]byte(actionBase + `
[[action]]
name = "bad-event"
on = ["failovr"]
kind = "http"
url = "http://x/{{.Pear}}"
[[action]]
name = "no-address"
on = ["failover"]
kind = "tcp"
data = "{{.Pair}}"
[[action]]
name = "osc"
on = ["alarm"]
kind = "osc"
address = "127.0.0.1:9000"
path = "standby"
args = ["{{.Machine}}", "{{if .Alarm}}{{.Nope}}{{end}}"]
[[action]]
name = "agent"
on = ["failover"]
kind = "agent"
machine = "zz"
command = ["/bin/sh", "-c", "rm -rf /"]
[[action]]
name = "kindless"
on = ["takeover"]
pairs = ["cam9"]
url = "http://x"
timeout = "soon"
colour = "red"
[[action]]
name = "exec"
on = ["switch"]
kind = "exec"
command = ["/bin/echo", "{{.Main"]
body = "x"
`))
	if err == nil {
		t.Fatal("no error")
	}
	got := err.Error()
	for _, want := range []string{
		`action "bad-event".on[0]: "failovr" is not an event`,
		`action "bad-event".url: template: unknown field .Pear`,
		`action "no-address".address: missing: host:port to send to (kind tcp)`,
		`action "osc".path: "standby": an OSC address starts with '/'`,
		`action "osc".args[1]: template: unknown field .Nope`,
		`action "agent".command: agent wants the name of a [[command]]`,
		`action "agent".machine: "zz" is not a [[machine]]`,
		`action "kindless".kind: missing`,
		`action "kindless".pairs[0]: "cam9" is not a [[pair]] or [[pool]]`,
		`action "kindless".timeout: "soon" is not a duration`,
		`action.colour: unknown key`,
		`action "exec".command[1]: template:`,
		`action "exec".body: not used by kind "exec"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

func TestActionTemplateFields(t *testing.T) {
	for _, ok := range []string{"{{.Pair}}", "{{$.Main}}", "{{with .Alarm}}{{.}}{{end}}", "{{printf \"%.1f\" .SwitchMs}}", "{{.Time.Unix}}"} {
		if _, err := ParseActionTemplate("t", ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"{{.pair}}", "{{if .X}}{{end}}", "{{range .Y}}{{end}}", "{{template \"z\" .W}}{{define \"z\"}}{{end}}"} {
		if _, err := ParseActionTemplate("t", bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

func TestAgentCommands(t *testing.T) {
	a, err := ParseAgent([]byte(`
name = "render-1"
supervisors = ["127.0.0.1:7400"]
token = "t"
[[command]]
name = "load-show"
exec = ["/usr/local/bin/load-show", "--fast"]
`))
	if err != nil {
		t.Fatal(err)
	}
	c := a.CommandNamed("load-show")
	if c == nil || c.Timeout.Duration != DefaultCommandTimeout || !reflect.DeepEqual(c.Exec, []string{"/usr/local/bin/load-show", "--fast"}) {
		t.Fatalf("command = %+v", c)
	}
	_, err = ParseAgent([]byte(`
name = "render-1"
supervisors = ["127.0.0.1:7400"]
token = "t"
[[command]]
name = "load-show"
exec = []
shell = "sh"
[[command]]
name = "load-show"
exec = ["/bin/true"]
timeout = "1h"
`))
	got := ""
	if err != nil {
		got = err.Error()
	}
	for _, want := range []string{
		`command[0] "load-show".exec: missing`,
		`command[0] "load-show".shell: unknown key`,
		`command[1] "load-show": defined twice`,
		`command[1] "load-show".timeout: 1h0m0s is too long`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in\n%s", want, got)
		}
	}
}

// Mapping edits go through Encode and Parse: actions must come back unchanged.
func TestActionEncodeRoundTrip(t *testing.T) {
	c, err := Parse([]byte(actionBase + `
[[action]]
name = "h"
on = ["failover"]
kind = "http"
url = "http://127.0.0.1:8000/{{.Pair}}"
[[action]]
name = "a"
on = ["failover"]
kind = "agent"
machine = "{{.Machine}}"
command = "load-show"
[[action]]
name = "e"
on = ["switch"]
kind = "exec"
command = ["/bin/echo", "{{.Main}}"]
`))
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(b)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	if !reflect.DeepEqual(c.Actions, c2.Actions) {
		t.Fatalf("actions changed:\n%+v\n%+v", c.Actions, c2.Actions)
	}
}
