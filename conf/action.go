package conf

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"text/template"
	"text/template/parse"
	"time"
)

// Action kinds.
const (
	ActionExec  = "exec"  // run a local program (argv, no shell) with STANDBY_* environment
	ActionHTTP  = "http"  // send an HTTP request
	ActionTCP   = "tcp"   // connect, write data, close (e.g. Bitfocus Companion's TCP remote)
	ActionUDP   = "udp"   // send data as one datagram
	ActionOSC   = "osc"   // send one OSC 1.0 message over UDP
	ActionAgent = "agent" // ask a machine's agent to run one of its declared [[command]]s
)

const actionKinds = ActionExec + " " + ActionHTTP + " " + ActionTCP + " " + ActionUDP + " " + ActionOSC + " " + ActionAgent

// Events an action can be fired by.
const (
	EventFailover     = "failover"      // a confirmed switch onto a backup (automatic or operator)
	EventFailback     = "failback"      // a confirmed switch back onto the main
	EventSwitch       = "switch"        // any confirmed switch, operators' included
	EventSwitchFailed = "switch_failed" // the router refused or did not confirm a switch
	EventAlarm        = "alarm"         // an alarm of a pair, pool or machine was raised
	EventAlarmCleared = "alarm_cleared" // its cause went away
	EventMachineDown  = "machine_down"  // a machine failed (service down, silent)
	EventMachineUp    = "machine_up"    // a failed machine works again
	EventTakeover     = "takeover"      // this supervisor became the active one of its pair
	EventStandby      = "standby"       // this supervisor stopped being the active one
	EventTest         = "test"          // an operator's Test (standby ctl action test); fires any action
)

// ActionEvents are the events [[action]] on may list.
var ActionEvents = []string{EventFailover, EventFailback, EventSwitch, EventSwitchFailed, EventAlarm, EventAlarmCleared,
	EventMachineDown, EventMachineUp, EventTakeover, EventStandby}

// ActionFields are the fields an action's templates may use ({{.Pair}}); the action runner's
// event has exactly these (actors/action tests check it).
var ActionFields = []string{"Event", "Pair", "Main", "Machine", "From", "To", "Trigger", "Detail", "Alarm", "Time",
	"SwitchMs", "Supervisor"}

// ActionEnvName is the environment variable an exec action or agent command gets a field in:
// SwitchMs → STANDBY_SWITCH_MS.
func ActionEnvName(field string) string {
	var b strings.Builder
	b.WriteString("STANDBY_")
	for i, r := range field {
		if i > 0 && r >= 'A' && r <= 'Z' {
			b.WriteByte('_')
		}
		b.WriteRune(r)
	}
	return strings.ToUpper(b.String())
}

// Action defaults and limits, as documented on the fields.
const (
	DefaultActionTimeout     = 2 * time.Second
	DefaultActionConcurrency = 1
	DefaultActionQueue       = 16
	DefaultActionsTotal      = 8
	DefaultHTTPMethod        = http.MethodPost
	maxActionTimeout         = 10 * time.Minute
	maxActionRetries         = 10
	maxActionQueue           = 1024
)

// Actions is the [actions] table: limits shared by every [[action]].
type Actions struct {
	// Concurrency is how many action runs may be in flight at once, over all actions; runs beyond
	// it wait in their action's queue. Default 8.
	Concurrency int `toml:"concurrency"`
}

// Action is one [[action]] entry: something to do when an event happens (tell Companion, load
// the main's show on the backup that takes over, set a multiviewer label). Actions run in an
// actor of their own after the router has confirmed (or refused) a switch, never on the switch
// path, each run bounded by its timeout.
type Action struct {
	// Name identifies the action in logs, status, metrics and `standby ctl action test`. Required,
	// unique.
	Name string `toml:"name"`
	// On lists the events that fire it: failover, failback, switch, switch_failed, alarm,
	// alarm_cleared, machine_down, machine_up, takeover, standby. Required.
	On []string `toml:"on"`
	// Pairs limits it to events of these pairs or pools. Default: any (and events of no pair, such
	// as takeover, pass only when this is empty).
	Pairs []string `toml:"pairs"`
	// Machines limits it to events naming one of these machines (as Machine, Main, From or To).
	// Default: any.
	Machines []string `toml:"machines"`
	// Triggers limits it to events with one of these triggers (engine, videoio, network, service,
	// critical, operator, failback, router). Default: any.
	Triggers []string `toml:"triggers"`
	// Kind is exec, http, tcp, udp, osc or agent. Required.
	Kind string `toml:"kind"`

	// URL is the request's URL, a template (http). Required for http.
	URL string `toml:"url"`
	// Method is the HTTP method (http). Default "POST".
	Method string `toml:"method"`
	// Headers are extra request headers; values are templates (http). Default none.
	Headers map[string]string `toml:"headers"`
	// Body is the request body, a template (http). Default empty.
	Body string `toml:"body"`

	// Address is where to send: host:port (tcp, udp, osc). Required for those.
	Address string `toml:"address"`
	// Data is what to send, a template; the escapes \r \n \t \\ and \xHH are decoded after
	// templating, so literal TOML strings work too (tcp, udp). Required for those.
	Data string `toml:"data"`
	// Path is the OSC address pattern, a template, e.g. "/standby/{{.Pair}}/onair" (osc). Required.
	Path string `toml:"path"`
	// Args are the OSC message's arguments, each a template sent as an OSC string (osc). Default none.
	Args []string `toml:"args"`

	// Command is, for exec, the program and its arguments (argv, no shell; each a template; the
	// environment gets STANDBY_EVENT, STANDBY_PAIR, ... for every field); for agent, the name of a
	// [[command]] the machine's agent config declares. Required for exec and agent.
	Command CommandKey `toml:"command"`
	// Machine is the machine whose agent runs the command, a template, e.g. "{{.Machine}}" (the
	// machine now on air) or "{{.Main}}" (agent). Required for agent.
	Machine string `toml:"machine"`

	// Timeout bounds one run (a retry included); a run past it is cancelled and reported as timed
	// out. Default "2s".
	Timeout Duration `toml:"timeout"`
	// Retries is how many times a run that could not connect (connection refused, agent
	// unreachable) is tried again, with backoff (100ms, 200ms, ...) within the timeout. Other
	// failures are not retried. Default 0.
	Retries int `toml:"retries"`
	// Concurrency is how many runs of this action may be in flight at once. Default 1.
	Concurrency int `toml:"concurrency"`
	// Queue is how many events may wait for a run of this action; a full queue drops the oldest
	// waiting event, reported as a "dropped" result. Default 16.
	Queue int `toml:"queue"`
}

// CommandKey is an action's command: an argv list (exec) or a declared command's name (agent).
type CommandKey struct {
	Argv []string
	Name string
	bad  string
}

// UnmarshalTOML implements toml.Unmarshaler.
func (k *CommandKey) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case string:
		k.Name = x
	case []any:
		for _, a := range x {
			s, ok := a.(string)
			if !ok {
				k.bad = fmt.Sprintf("%v", v)
				return nil
			}
			k.Argv = append(k.Argv, s)
		}
	default:
		k.bad = fmt.Sprintf("%v", v)
	}
	return nil
}

// MarshalTOML writes the command as it is read.
func (k CommandKey) MarshalTOML() ([]byte, error) {
	if k.Argv != nil {
		q := make([]string, len(k.Argv))
		for i, a := range k.Argv {
			q[i] = fmt.Sprintf("%q", a)
		}
		return []byte("[" + strings.Join(q, ", ") + "]"), nil
	}
	return []byte(fmt.Sprintf("%q", k.Name)), nil
}

// Action returns the [[action]] named name, or nil.
func (c *Config) Action(name string) *Action {
	for i := range c.Actions {
		if c.Actions[i].Name == name {
			return &c.Actions[i]
		}
	}
	return nil
}

func (c *Config) applyActionDefaults() {
	if c.ActionLimits.Concurrency == 0 {
		c.ActionLimits.Concurrency = DefaultActionsTotal
	}
	for i := range c.Actions {
		a := &c.Actions[i]
		setDur(&a.Timeout, DefaultActionTimeout)
		if a.Kind == ActionHTTP {
			setStr(&a.Method, DefaultHTTPMethod)
		}
		if a.Concurrency == 0 {
			a.Concurrency = DefaultActionConcurrency
		}
		if a.Queue == 0 {
			a.Queue = DefaultActionQueue
		}
	}
}

// ParseActionTemplate parses one template of an action and checks that it uses only
// ActionFields; name is used in the template's errors.
func ParseActionTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, err
	}
	var bad []string
	for _, tt := range t.Templates() {
		if tt.Tree != nil {
			walkFields(tt.Tree.Root, func(f string) {
				if !slices.Contains(ActionFields, f) && !slices.Contains(bad, f) {
					bad = append(bad, f)
				}
			})
		}
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("unknown field .%s (fields: .%s)", strings.Join(bad, ", ."), strings.Join(ActionFields, " ."))
	}
	return t, nil
}

// walkFields calls fn with the first name of every field reference in a template (.Pair, $.Pair).
func walkFields(n parse.Node, fn func(string)) {
	switch x := n.(type) {
	case *parse.ListNode:
		if x == nil {
			return
		}
		for _, c := range x.Nodes {
			walkFields(c, fn)
		}
	case *parse.ActionNode:
		walkFields(x.Pipe, fn)
	case *parse.PipeNode:
		if x == nil {
			return
		}
		for _, c := range x.Cmds {
			walkFields(c, fn)
		}
	case *parse.CommandNode:
		for _, a := range x.Args {
			walkFields(a, fn)
		}
	case *parse.FieldNode:
		fn(x.Ident[0])
	case *parse.VariableNode:
		if len(x.Ident) > 1 && x.Ident[0] == "$" {
			fn(x.Ident[1])
		}
	case *parse.ChainNode:
		walkFields(x.Node, fn)
	case *parse.IfNode:
		walkFields(x.Pipe, fn)
		walkFields(x.List, fn)
		walkFields(x.ElseList, fn)
	case *parse.RangeNode:
		walkFields(x.Pipe, fn)
		walkFields(x.List, fn)
		walkFields(x.ElseList, fn)
	case *parse.WithNode:
		walkFields(x.Pipe, fn)
		walkFields(x.List, fn)
		walkFields(x.ElseList, fn)
	case *parse.TemplateNode:
		walkFields(x.Pipe, fn)
	}
}

func (c *Config) validateActions(e *errs) {
	pools := map[string]bool{}
	for _, p := range c.Pairs {
		pools[p.Name] = true
	}
	for _, p := range c.Pools {
		pools[p.Name] = true
	}
	if c.ActionLimits.Concurrency < 1 {
		e.add("actions.concurrency", "%d: at least 1", c.ActionLimits.Concurrency)
	}
	seen := map[string]bool{}
	for i := range c.Actions {
		c.validateAction(e, i, seen, pools)
	}
}

func (c *Config) validateAction(e *errs, i int, seen, pools map[string]bool) {
	a := &c.Actions[i]
	path := entry(e, "action", i, a.Name, seen)
	if len(a.On) == 0 {
		e.add(path+".on", "missing: the events that fire it (%s)", strings.Join(ActionEvents, ", "))
	}
	for j, ev := range a.On {
		if !slices.Contains(ActionEvents, ev) {
			e.add(fmt.Sprintf("%s.on[%d]", path, j), "%q is not an event (%s)", ev, strings.Join(ActionEvents, ", "))
		}
	}
	for j, p := range a.Pairs {
		if !pools[p] {
			e.add(fmt.Sprintf("%s.pairs[%d]", path, j), "%q is not a [[pair]] or [[pool]]", p)
		}
	}
	for j, m := range a.Machines {
		if c.Machine(m) == nil {
			e.add(fmt.Sprintf("%s.machines[%d]", path, j), "%q is not a [[machine]]", m)
		}
	}
	triggers := []string{"engine", "videoio", "network", "service", "critical", "operator", "failback", "router"}
	for j, t := range a.Triggers {
		if !slices.Contains(triggers, t) {
			e.add(fmt.Sprintf("%s.triggers[%d]", path, j), "%q is not a trigger (%s)", t, strings.Join(triggers, ", "))
		}
	}
	a.Timeout.check(e, path+".timeout", time.Millisecond)
	if a.Timeout.bad == "" && a.Timeout.Duration > maxActionTimeout {
		e.add(path+".timeout", "%s is too long (maximum %s)", a.Timeout.Duration, maxActionTimeout)
	}
	if a.Retries < 0 || a.Retries > maxActionRetries {
		e.add(path+".retries", "%d: between 0 and %d", a.Retries, maxActionRetries)
	}
	if a.Concurrency < 1 {
		e.add(path+".concurrency", "%d: at least 1", a.Concurrency)
	}
	if a.Queue < 1 || a.Queue > maxActionQueue {
		e.add(path+".queue", "%d: between 1 and %d", a.Queue, maxActionQueue)
	}
	tmpl := func(key, text string) {
		if _, err := ParseActionTemplate(key, text); err != nil {
			e.add(path+"."+key, "template: %s", strings.TrimPrefix(err.Error(), "template: "))
		}
	}
	need := func(key string, set bool, what string) {
		if !set {
			e.add(path+"."+key, "missing: %s (kind %s)", what, a.Kind)
		}
	}
	if a.Command.bad != "" {
		e.add(path+".command", "%s is neither a list of strings (exec) nor a name (agent)", a.Command.bad)
	}
	onlyFor(e, path, a.Kind, actionKinds, []struct {
		key   string
		set   bool
		kinds string
	}{
		{"url", a.URL != "", ActionHTTP},
		{"method", a.Method != "", ActionHTTP},
		{"headers", len(a.Headers) > 0, ActionHTTP},
		{"body", a.Body != "", ActionHTTP},
		{"address", a.Address != "", ActionTCP + " " + ActionUDP + " " + ActionOSC},
		{"data", a.Data != "", ActionTCP + " " + ActionUDP},
		{"path", a.Path != "", ActionOSC},
		{"args", len(a.Args) > 0, ActionOSC},
		{"command", a.Command.Argv != nil || a.Command.Name != "", ActionExec + " " + ActionAgent},
		{"machine", a.Machine != "", ActionAgent},
	})
	switch a.Kind {
	case "":
		e.add(path+".kind", "missing: one of %s", strings.ReplaceAll(actionKinds, " ", ", "))
	case ActionHTTP:
		need("url", a.URL != "", "the URL to request, e.g. \"http://10.0.0.9:8000/press/1/0/5\"")
		tmpl("url", a.URL)
		tmpl("body", a.Body)
		for _, k := range slices.Sorted(maps.Keys(a.Headers)) {
			tmpl("headers."+k, a.Headers[k])
		}
		if a.Method != "" && (strings.ToUpper(a.Method) != a.Method || strings.ContainsAny(a.Method, " /\t")) {
			e.add(path+".method", "%q is not an HTTP method (GET, POST, PUT, ...)", a.Method)
		}
	case ActionTCP, ActionUDP:
		need("address", a.Address != "", "host:port to send to")
		if a.Address != "" {
			checkHostPort(e, path+".address", a.Address)
		}
		need("data", a.Data != "", "what to send, e.g. \"LOCATION 1/0/5 PRESS\\r\\n\"")
		tmpl("data", a.Data)
	case ActionOSC:
		need("address", a.Address != "", "host:port of the OSC receiver")
		if a.Address != "" {
			checkHostPort(e, path+".address", a.Address)
		}
		need("path", a.Path != "", "the OSC address, e.g. \"/standby/{{.Pair}}/onair\"")
		if a.Path != "" && !strings.HasPrefix(a.Path, "/") {
			e.add(path+".path", "%q: an OSC address starts with '/'", a.Path)
		}
		tmpl("path", a.Path)
		for j, arg := range a.Args {
			tmpl(fmt.Sprintf("args[%d]", j), arg)
		}
	case ActionExec:
		if a.Command.Name != "" {
			e.add(path+".command", "exec wants a list, e.g. [\"/usr/local/bin/load-show\", \"{{.Main}}\"]")
			break
		}
		if a.Command.bad == "" {
			checkCommand(e, path+".command", a.Command.Argv)
		}
		for j, arg := range a.Command.Argv {
			tmpl(fmt.Sprintf("command[%d]", j), arg)
		}
	case ActionAgent:
		need("machine", a.Machine != "", "the machine whose agent runs it, e.g. \"{{.Machine}}\"")
		tmpl("machine", a.Machine)
		switch {
		case a.Command.Argv != nil:
			e.add(path+".command", "agent wants the name of a [[command]] of the agent's config, not a command line")
		case a.Command.bad == "" && a.Command.Name == "":
			e.add(path+".command", "missing: the name of a [[command]] the agent's config declares (kind agent)")
		case a.Command.Name != "":
			checkName(e, path+".command", a.Command.Name)
		}
		if m := a.Machine; m != "" && !strings.Contains(m, "{{") && c.Machine(m) == nil {
			e.add(path+".machine", "%q is not a [[machine]]", m)
		}
	default:
		e.add(path+".kind", "%q is not a kind (%s)", a.Kind, strings.ReplaceAll(actionKinds, " ", ", "))
	}
}

// DefaultCommandTimeout is a [[command]]'s timeout when it sets none.
const DefaultCommandTimeout = 10 * time.Second

// Command is one [[command]] of an agent's config: a program the supervisors may ask this agent
// to run by name (an [[action]] of kind agent). The supervisor sends only the name and the
// event's fields, never a command line.
type Command struct {
	// Name is what an [[action]]'s command asks for. Required, unique.
	Name string `toml:"name"`
	// Exec is the program and its arguments (argv, no shell). The environment gets the event's
	// fields as STANDBY_EVENT, STANDBY_PAIR, STANDBY_MAIN, STANDBY_MACHINE, ... Required.
	Exec []string `toml:"exec"`
	// Timeout bounds one run; the program is killed past it. Default "10s".
	Timeout Duration `toml:"timeout"`
}

func (a *Agent) commandPath(i int) string {
	if i < len(a.Commands) && a.Commands[i].Name != "" {
		return fmt.Sprintf("command[%d] %q", i, a.Commands[i].Name)
	}
	return fmt.Sprintf("command[%d]", i)
}

func (a *Agent) applyCommandDefaults() {
	for i := range a.Commands {
		setDur(&a.Commands[i].Timeout, DefaultCommandTimeout)
	}
}

func (a *Agent) validateCommands(e *errs) {
	names := map[string]bool{}
	for i := range a.Commands {
		c := &a.Commands[i]
		path := a.commandPath(i)
		checkName(e, path+".name", c.Name)
		if c.Name != "" && names[c.Name] {
			e.add(path, "defined twice")
		}
		names[c.Name] = true
		checkCommand(e, path+".exec", c.Exec)
		c.Timeout.check(e, path+".timeout", time.Millisecond)
		if c.Timeout.bad == "" && c.Timeout.Duration > maxActionTimeout {
			e.add(path+".timeout", "%s is too long (maximum %s)", c.Timeout.Duration, maxActionTimeout)
		}
	}
}

// CommandNamed returns the agent's [[command]] named name, or nil.
func (a *Agent) CommandNamed(name string) *Command {
	for i := range a.Commands {
		if a.Commands[i].Name == name {
			return &a.Commands[i]
		}
	}
	return nil
}
