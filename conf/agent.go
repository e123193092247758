package conf

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"standby/protocol/pb"
)

// Agent is a whole agent configuration file (`standby agent --config agent.toml`): which machine
// this is, where the supervisors are, and what to watch.
type Agent struct {
	// Name is this machine's name; it must match a [[machine]] in the supervisors' config. Required.
	Name string `toml:"name"`
	// Supervisors are the supervisors' remote endpoints (host:port), primary first. The agent reports
	// to all of them, always, and to no other address. Required; at most pb.MaxSupervisors.
	Supervisors []string `toml:"supervisors"`
	// Listen is the agent's own remote endpoint, where supervisors answer its reports and control
	// surfaces set simulated values. Supervisors must be able to reach it. Default "0.0.0.0:7401".
	Listen string `toml:"listen"`
	// Advertise is the host or host:port supervisors use to reach Listen. Default: Listen, or for a
	// wildcard Listen the local address of the route to the first supervisor.
	Advertise string `toml:"advertise"`
	// Token is the supervisors' agent_token. Required.
	Token string `toml:"token"`
	// HeartbeatInterval is how often a report is sent when nothing changes; changes are sent at once.
	// Keep it well below the supervisor's heartbeat_timeout. Default "50ms"; minimum "5ms".
	HeartbeatInterval Duration `toml:"heartbeat_interval"`
	// Services are the watched services, reported up or down.
	Services []Service `toml:"service"`
	// Health are the reported health values.
	Health []Health `toml:"health"`
	// TLS authenticates and encrypts the links to the supervisors (see TLS): ca, cert (an agent
	// certificate naming this machine) and key. Default: none (plaintext, with a warning).
	TLS TLS `toml:"tls"`
	// Commands are what supervisors may ask this agent to run, by name (see Command). Default none.
	Commands []Command `toml:"command"`
}

// Service kinds.
const (
	KindProcess = "process" // a local process, by pid, pidfile or name; its exit is seen at once
	KindTCP     = "tcp"     // a TCP port that accepts connections
	KindHTTP    = "http"    // a URL that answers 2xx
	KindExec    = "exec"    // a command that exits 0
	KindSim     = "sim"     // a simulated service, set at run time (demo studio, bench, tests)
)

const serviceKinds = KindProcess + " " + KindTCP + " " + KindHTTP + " " + KindExec + " " + KindSim

// Service is one [[service]] entry.
type Service struct {
	// Name is how the service is reported (e.g. "engine", "videoio"). Required, unique.
	Name string `toml:"name"`
	// Kind is process, tcp, http, exec or sim. Required.
	Kind string `toml:"kind"`
	// PID watches one process by id (process; for fixed setups and tests). Exactly one of pid, pidfile
	// and match is required for kind process.
	PID int `toml:"pid"`
	// PIDFile watches the process whose id the file holds, read again whenever no process is watched
	// (process).
	PIDFile string `toml:"pidfile"`
	// Match watches the process whose name (/proc/<pid>/comm) or argv[0] base name is this, the lowest
	// pid when several match (process).
	Match string `toml:"match"`
	// Target is the host:port that must accept a TCP connection (tcp).
	Target string `toml:"target"`
	// URL must answer a GET with a 2xx status (http).
	URL string `toml:"url"`
	// Command must exit 0; argv form, no shell (exec).
	Command []string `toml:"command"`
	// Up is the initial state of a sim service. Default true.
	Up *bool `toml:"up"`
	// Interval is the time between checks (tcp, http, exec; default "1s") or, for process, between
	// looks for a process that is not running yet (default "250ms"); a watched process's exit is
	// seen at once regardless. Minimum "10ms".
	Interval Duration `toml:"interval"`
	// Timeout bounds one check (tcp, http, exec); one that takes longer counts as down. Default "1s".
	Timeout Duration `toml:"timeout"`
}

// Health kinds. A [[health]] entry's kind is inferred from its keys when not given.
const (
	HealthBuiltin = "builtin" // name only: one of BuiltinHealth
	HealthCommand = "command" // a command printing a number
	HealthURL     = "url"     // a URL whose body is a number
	HealthSim     = "sim"     // a simulated value, set at run time
)

const healthKinds = HealthBuiltin + " " + HealthCommand + " " + HealthURL + " " + HealthSim

// BuiltinHealth are the health values the agent reads itself: percentages of CPU busy time, memory
// and root file system in use, and CPU and GPU temperatures in °C (not ok when the machine has no
// such sensor or no nvidia-smi).
var BuiltinHealth = []string{"cpu_load", "memory_used", "disk_used", "cpu_temp", "gpu_temp"}

// Health is one [[health]] entry.
type Health struct {
	// Name is how the value is reported; the supervisor's [machine.health.<name>] thresholds apply
	// to it. Required, unique.
	Name string `toml:"name"`
	// Kind is builtin, command, url or sim. Default: command when command is set, url when url is
	// set, sim when sim is set, otherwise builtin.
	Kind string `toml:"kind"`
	// Command prints the value (the first field of its output) and exits 0; argv form, no shell.
	Command []string `toml:"command"`
	// URL answers a GET with a 2xx status and the value as its body.
	URL string `toml:"url"`
	// Sim is the initial value of a simulated reading.
	Sim *float64 `toml:"sim"`
	// Interval is the time between readings (builtin, command, url). Default "1s"; minimum "10ms".
	Interval Duration `toml:"interval"`
	// Timeout bounds one reading (builtin gpu_temp, command, url). Default "1s".
	Timeout Duration `toml:"timeout"`
}

// Agent defaults, as documented on the fields.
const (
	DefaultAgentListen         = "0.0.0.0:7401"
	DefaultHeartbeatInterval   = 50 * time.Millisecond
	DefaultCheckInterval       = time.Second
	DefaultProcessLookInterval = 250 * time.Millisecond
	DefaultCheckTimeout        = time.Second
	DefaultHealthInterval      = time.Second
	minHeartbeatInterval       = 5 * time.Millisecond
	minCheckInterval           = 10 * time.Millisecond
	defaultSimServiceUp        = true
	maxCommandArgs             = 64
)

// LoadAgent reads and validates the agent config file at path.
func LoadAgent(path string) (*Agent, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParseAgent(b)
}

// ParseAgent decodes and validates an agent config. The returned error is an Errors listing every
// problem, each with its key path.
func ParseAgent(b []byte) (*Agent, error) {
	var a Agent
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&a)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{&KeyError{Msg: fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)}}
		}
		return nil, Errors{&KeyError{Msg: err.Error()}}
	}
	var e errs
	a.unknownKeys(&e, md, b)
	a.applyDefaults()
	a.validate(&e)
	if err := e.err(); err != nil {
		return nil, err
	}
	return &a, nil
}

// unknownKeys reports keys no field takes. The decoder names them without the entry's index
// ("service.targt"), so keys of [[service]] and [[health]] entries are found in the raw tables.
func (a *Agent) unknownKeys(e *errs, md toml.MetaData, b []byte) {
	for _, k := range md.Undecoded() {
		if len(k) > 0 && (k[0] == "service" || k[0] == "health" || k[0] == "command") {
			continue
		}
		e.add(k.String(), "unknown key")
	}
	var raw struct {
		Service []map[string]any `toml:"service"`
		Health  []map[string]any `toml:"health"`
		Command []map[string]any `toml:"command"`
	}
	if _, err := toml.Decode(string(b), &raw); err != nil {
		return // the typed decode succeeded, so this cannot fail in practice
	}
	check := func(entries []map[string]any, known map[string]bool, path func(i int) string) {
		for i, m := range entries {
			for _, key := range slices.Sorted(maps.Keys(m)) {
				if !known[key] {
					e.add(path(i)+"."+key, "unknown key")
				}
			}
		}
	}
	check(raw.Service, tomlKeys(Service{}), func(i int) string { return a.servicePath(i) })
	check(raw.Health, tomlKeys(Health{}), func(i int) string { return a.healthPath(i) })
	check(raw.Command, tomlKeys(Command{}), func(i int) string { return a.commandPath(i) })
}

// tomlKeys are the keys a struct takes, from its toml tags.
func tomlKeys(v any) map[string]bool {
	keys := map[string]bool{}
	t := reflect.TypeOf(v)
	for i := range t.NumField() {
		if k, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ","); k != "" && k != "-" {
			keys[k] = true
		}
	}
	return keys
}

// servicePath is how errors name service i: `service[1] "videoio"`.
func (a *Agent) servicePath(i int) string {
	if i < len(a.Services) && a.Services[i].Name != "" {
		return fmt.Sprintf("service[%d] %q", i, a.Services[i].Name)
	}
	return fmt.Sprintf("service[%d]", i)
}

// healthPath is how errors name health entry i: `health[0] "cpu_temp"`.
func (a *Agent) healthPath(i int) string {
	if i < len(a.Health) && a.Health[i].Name != "" {
		return fmt.Sprintf("health[%d] %q", i, a.Health[i].Name)
	}
	return fmt.Sprintf("health[%d]", i)
}

// HealthKind is the kind of h: its kind key, or the one its other keys imply.
func (h *Health) HealthKind() string {
	switch {
	case h.Kind != "":
		return h.Kind
	case len(h.Command) > 0:
		return HealthCommand
	case h.URL != "":
		return HealthURL
	case h.Sim != nil:
		return HealthSim
	}
	return HealthBuiltin
}

// SimUp is the initial state of a sim service.
func (s *Service) SimUp() bool {
	if s.Up == nil {
		return defaultSimServiceUp
	}
	return *s.Up
}

func (a *Agent) applyDefaults() {
	a.applyCommandDefaults()
	setStr(&a.Listen, DefaultAgentListen)
	setDur(&a.HeartbeatInterval, DefaultHeartbeatInterval)
	for i := range a.Services {
		s := &a.Services[i]
		switch s.Kind {
		case KindProcess:
			setDur(&s.Interval, DefaultProcessLookInterval)
		case KindTCP, KindHTTP, KindExec:
			setDur(&s.Interval, DefaultCheckInterval)
			setDur(&s.Timeout, DefaultCheckTimeout)
		}
	}
	for i := range a.Health {
		h := &a.Health[i]
		switch h.HealthKind() {
		case HealthBuiltin, HealthCommand, HealthURL:
			setDur(&h.Interval, DefaultHealthInterval)
			setDur(&h.Timeout, DefaultCheckTimeout)
		}
	}
}

func (a *Agent) validate(e *errs) {
	checkName(e, "name", a.Name)
	switch {
	case len(a.Supervisors) == 0:
		e.add("supervisors", "missing: at least one supervisor host:port")
	case len(a.Supervisors) > pb.MaxSupervisors:
		e.add("supervisors", "%d addresses; at most %d", len(a.Supervisors), pb.MaxSupervisors)
	}
	seen := map[string]bool{}
	for i, s := range a.Supervisors {
		path := fmt.Sprintf("supervisors[%d]", i)
		checkHostPort(e, path, s)
		if seen[s] {
			e.add(path, "%q is listed twice", s)
		}
		seen[s] = true
	}
	checkAddr(e, "listen", a.Listen)
	a.TLS.validate(e, "tls", false)
	if a.Advertise != "" {
		if _, _, err := net.SplitHostPort(a.Advertise); err == nil {
			checkHostPort(e, "advertise", a.Advertise)
		} else if strings.ContainsAny(a.Advertise, " /") {
			e.add("advertise", "%q is not a host or host:port", a.Advertise)
		}
	}
	if a.Token == "" {
		e.add("token", "missing: set it to the supervisors' agent_token")
	}
	a.HeartbeatInterval.check(e, "heartbeat_interval", minHeartbeatInterval)

	if len(a.Services) > pb.MaxServices {
		e.add("service", "%d services; at most %d", len(a.Services), pb.MaxServices)
	}
	names := map[string]bool{}
	for i := range a.Services {
		a.validateService(e, i, names)
	}
	if len(a.Health) > pb.MaxHealth {
		e.add("health", "%d health values; at most %d", len(a.Health), pb.MaxHealth)
	}
	names = map[string]bool{}
	for i := range a.Health {
		a.validateHealth(e, i, names)
	}
	a.validateCommands(e)
}

// onlyFor reports each set key that kind does not use. An unknown kind is reported elsewhere.
func onlyFor(e *errs, path, kind, allKinds string, keys []struct {
	key   string
	set   bool
	kinds string // space-separated kinds using the key
}) {
	if kind == "" || !strings.Contains(" "+allKinds+" ", " "+kind+" ") {
		return
	}
	for _, k := range keys {
		if k.set && !strings.Contains(" "+k.kinds+" ", " "+kind+" ") {
			e.add(path+"."+k.key, "not used by kind %q (only by %s)", kind, strings.ReplaceAll(k.kinds, " ", ", "))
		}
	}
}

func (a *Agent) validateService(e *errs, i int, names map[string]bool) {
	s := &a.Services[i]
	path := a.servicePath(i)
	checkName(e, path+".name", s.Name)
	if s.Name != "" {
		if names[s.Name] {
			e.add(path, "service name defined twice")
		}
		names[s.Name] = true
	}
	onlyFor(e, path, s.Kind, serviceKinds, []struct {
		key   string
		set   bool
		kinds string
	}{
		{"pid", s.PID != 0, KindProcess},
		{"pidfile", s.PIDFile != "", KindProcess},
		{"match", s.Match != "", KindProcess},
		{"target", s.Target != "", KindTCP},
		{"url", s.URL != "", KindHTTP},
		{"command", len(s.Command) > 0, KindExec},
		{"up", s.Up != nil, KindSim},
		{"interval", s.Interval != (Duration{}), KindProcess + " " + KindTCP + " " + KindHTTP + " " + KindExec},
		{"timeout", s.Timeout != (Duration{}), KindTCP + " " + KindHTTP + " " + KindExec},
	})
	switch s.Kind {
	case KindProcess:
		n := 0
		for _, set := range []bool{s.PID != 0, s.PIDFile != "", s.Match != ""} {
			if set {
				n++
			}
		}
		if n != 1 {
			e.add(path, "kind process needs exactly one of pid, pidfile or match")
		}
		if s.PID < 0 {
			e.add(path+".pid", "%d is not a process id", s.PID)
		}
		if s.PIDFile != "" && !strings.HasPrefix(s.PIDFile, "/") {
			e.add(path+".pidfile", "%q is not an absolute path", s.PIDFile)
		}
		if strings.ContainsAny(s.Match, "/\x00") {
			e.add(path+".match", "%q is a process name, not a path (use the program's base name)", s.Match)
		}
	case KindTCP:
		if s.Target == "" {
			e.add(path+".target", "missing: the host:port to connect to")
		} else {
			checkHostPort(e, path+".target", s.Target)
		}
	case KindHTTP:
		if s.URL == "" {
			e.add(path+".url", "missing: the http:// or https:// URL to GET")
		} else {
			checkURL(e, path+".url", s.URL)
		}
	case KindExec:
		checkCommand(e, path+".command", s.Command)
	case KindSim:
	case "":
		e.add(path+".kind", "missing: process, tcp, http, exec or sim")
	default:
		e.add(path+".kind", "%q is not a service kind (process, tcp, http, exec or sim)", s.Kind)
	}
	switch s.Kind {
	case KindProcess, KindTCP, KindHTTP, KindExec:
		s.Interval.check(e, path+".interval", minCheckInterval)
	}
	switch s.Kind {
	case KindTCP, KindHTTP, KindExec:
		s.Timeout.check(e, path+".timeout", time.Millisecond)
	}
}

func (a *Agent) validateHealth(e *errs, i int, names map[string]bool) {
	h := &a.Health[i]
	path := a.healthPath(i)
	checkName(e, path+".name", h.Name)
	if h.Name != "" {
		if names[h.Name] {
			e.add(path, "health name defined twice")
		}
		names[h.Name] = true
	}
	sources := 0
	for _, set := range []bool{len(h.Command) > 0, h.URL != "", h.Sim != nil} {
		if set {
			sources++
		}
	}
	if sources > 1 {
		e.add(path, "set at most one of command, url or sim")
	}
	kind := h.HealthKind()
	onlyFor(e, path, kind, healthKinds, []struct {
		key   string
		set   bool
		kinds string
	}{
		{"command", len(h.Command) > 0, HealthCommand},
		{"url", h.URL != "", HealthURL},
		{"sim", h.Sim != nil, HealthSim},
		{"interval", h.Interval != (Duration{}), HealthBuiltin + " " + HealthCommand + " " + HealthURL},
		{"timeout", h.Timeout != (Duration{}), HealthBuiltin + " " + HealthCommand + " " + HealthURL},
	})
	switch kind {
	case HealthBuiltin:
		if h.Name != "" && !isBuiltin(h.Name) {
			e.add(path, "%q is not a builtin (%s); give command, url or sim", h.Name, strings.Join(BuiltinHealth, ", "))
		}
	case HealthCommand:
		checkCommand(e, path+".command", h.Command)
	case HealthURL:
		if h.URL == "" {
			e.add(path+".url", "missing: the http:// or https:// URL to GET")
		} else {
			checkURL(e, path+".url", h.URL)
		}
	case HealthSim:
		if h.Sim == nil {
			e.add(path+".sim", "missing: the initial value")
		}
	default:
		e.add(path+".kind", "%q is not a health kind (builtin, command, url or sim)", h.Kind)
	}
	switch kind {
	case HealthBuiltin, HealthCommand, HealthURL:
		h.Interval.check(e, path+".interval", minCheckInterval)
		h.Timeout.check(e, path+".timeout", time.Millisecond)
	}
}

func isBuiltin(name string) bool {
	return slices.Contains(BuiltinHealth, name)
}

// checkName checks a reported name: present, short, printable, no spaces or slashes (it becomes part
// of actor ids and log keys).
func checkName(e *errs, path, name string) {
	switch {
	case name == "":
		e.add(path, "missing")
	case len(name) > pb.MaxNameLen:
		e.add(path, "%q is longer than %d bytes", name, pb.MaxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == '/' || r == 0x7f }):
		e.add(path, "%q has spaces, slashes or control characters", name)
	}
}

// checkHostPort checks an address to dial: a host and a port 1..65535.
func checkHostPort(e *errs, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		e.add(path, "%q is not host:port", addr)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		e.add(path, "%q has no valid port number", addr)
	}
}

func checkURL(e *errs, path, raw string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		e.add(path, "%q is not an http:// or https:// URL", raw)
	}
}

func checkCommand(e *errs, path string, argv []string) {
	switch {
	case len(argv) == 0:
		e.add(path, "missing: the program and its arguments, e.g. [\"/usr/local/bin/check\", \"-q\"]")
	case argv[0] == "":
		e.add(path+"[0]", "missing: the program to run")
	case len(argv) > maxCommandArgs:
		e.add(path, "%d arguments; at most %d", len(argv), maxCommandArgs)
	}
}
