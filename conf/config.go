// Package conf loads and validates Standby's TOML configuration.
//
// Every key is documented on its struct field with its default. Decoding is strict (unknown keys
// are errors) and validation reports every problem at once, each with its key path, so
// `standby check` can list them all. Port numbers are 1-based as on a router's own panel; only the
// wire protocol is 0-based.
package conf

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultTOML is the embedded demo studio that `standby run` starts with no --config.
//
//go:embed default.toml
var DefaultTOML []byte

// MaxPort is the largest router port number accepted (the Universal Videohub 288 is 288×288).
const MaxPort = 288

// Config is a whole supervisor configuration file.
type Config struct {
	Supervisor Supervisor `toml:"supervisor"`
	Routers    []Router   `toml:"router"`
	Machines   []Machine  `toml:"machine"`
	Pairs      []Pair     `toml:"pair"`
	// Pools are backup pools: several mains sharing one or more backups.
	Pools []Pool `toml:"pool"`
	// Operators may use the control surfaces (remote API, HTTP, web panels).
	Operators []Operator `toml:"operator"`
	// Demo scripts simulated failures for the embedded demo studio; empty in production configs.
	Demo Demo `toml:"demo"`
	// TLS authenticates and encrypts the protoactor links (see TLS). Default: none (plaintext).
	TLS TLS `toml:"tls"`
	// Redundancy pairs this supervisor with another (see Redundancy). Default: mode "none".
	Redundancy Redundancy `toml:"redundancy"`
	// Actions are run when events happen (see Action, conf/action.go). Default none.
	Actions []Action `toml:"action"`
	// ActionLimits are the limits shared by every action. Default: concurrency 8.
	ActionLimits Actions `toml:"actions"`
}

// Supervisor is the [supervisor] table.
type Supervisor struct {
	// Name identifies this supervisor in logs and UIs. Default "standby".
	Name string `toml:"name"`
	// Listen is the protoactor remote endpoint for agents, control UIs and the peer supervisor.
	// Default "127.0.0.1:7400". Use "0.0.0.0:7400" to accept agents from other hosts.
	Listen string `toml:"listen"`
	// Advertise is the host:port other nodes use to reach Listen; required in practice when
	// Listen is a wildcard address. Default: Listen.
	Advertise string `toml:"advertise"`
	// HTTP is the web panel, JSON API and /metrics address. Default "127.0.0.1:7480".
	HTTP string `toml:"http"`
	// StateDir holds the supervisor's state document, state.json (operators' changes from the
	// control surfaces and the pools' durable state), and its term. Default "/var/lib/standby".
	StateDir string `toml:"state_dir"`
	// HeartbeatTimeout is how long a machine may stay silent before it counts as a network
	// failure; machines may override it. Default "250ms".
	HeartbeatTimeout Duration `toml:"heartbeat_timeout"`
	// AgentToken is the shared secret agents present. Default "" (agents are refused until set).
	AgentToken string `toml:"agent_token"`
	// Tick is how often the supervisor checks that it was not paused itself (GC, SIGSTOP, VM
	// pause, starved of CPU); silences are not held against machines across such a pause.
	// Silences and pair timers are checked at their exact deadlines, not on this tick. Default
	// "10ms"; read at start.
	Tick Duration `toml:"tick"`
	// FlapMax is how many automatic switches a pair may make within FlapWindow before the flap
	// guard latches (no more automatic switches, alarm raised). Default 3.
	FlapMax int `toml:"flap_max"`
	// FlapWindow is the flap guard's window. Default "1m".
	FlapWindow Duration `toml:"flap_window"`
}

// Router is one [[router]] entry.
type Router struct {
	// Name is how pairs refer to the router. Required.
	Name string `toml:"name"`
	// Kind is the router protocol. Only "videohub" (Blackmagic Videohub Ethernet Protocol). Default "videohub".
	Kind string `toml:"kind"`
	// Address is the router's host:port. Default port 9990 when only a host is given.
	Address string `toml:"address"`
	// Simulate makes `standby run` start an in-process Videohub simulator on Address and switch
	// through it (the demo studio). Default false.
	Simulate bool `toml:"simulate"`
	// Inputs and Outputs size the simulator when Simulate is set. Default 40 each.
	Inputs  int `toml:"inputs"`
	Outputs int `toml:"outputs"`
	// PingInterval is how often the connection is probed with PING:; a router silent for two
	// intervals is treated as lost and reconnected. Default "1s".
	PingInterval Duration `toml:"ping_interval"`
	// ConfirmTimeout bounds how long a switch waits for the router's ACK and routing state before
	// it counts as failed. Default "500ms".
	ConfirmTimeout Duration `toml:"confirm_timeout"`
}

// Machine is one [[machine]] entry: a render engine, media server or recorder.
type Machine struct {
	// Name must match the name its agent reports. Required.
	Name string `toml:"name"`
	// Features are licence features; a pair whose two machines differ gets a warning. Default none.
	Features []string `toml:"features"`
	// HeartbeatTimeout overrides [supervisor] heartbeat_timeout for this machine. Default: unset.
	HeartbeatTimeout Duration `toml:"heartbeat_timeout"`
	// Health maps a health parameter name (e.g. gpu_temp) to its thresholds.
	Health map[string]Threshold `toml:"health"`
	// Simulated machines are fed by the in-process demo driver instead of an agent. Default false.
	Simulated bool `toml:"simulated"`
	// Feeds are the signals the machine sends into the router, by role name ([machine.feed.pgm]);
	// used by [[pool]]. When a backup stands in for a main, each of the main's roles is routed to
	// the backup's input of the same role. Default none.
	Feeds map[string]MachineFeed `toml:"feed"`
}

// MachineFeed is one [machine.feed.ROLE] table.
type MachineFeed struct {
	// Input is the router input carrying this role of the machine: a 1-based number or a label.
	// Required.
	Input Port `toml:"input"`
	// Outputs are the router outputs the role airs on; mains only (backups declare only their
	// input). At least one for a main.
	Outputs []Port `toml:"outputs"`
}

// Pool is one [[pool]] entry: mains that share backups (N:1, or N:M with several backups).
type Pool struct {
	// Name identifies the pool; pools and pairs share one namespace. Required.
	Name string `toml:"name"`
	// Router is the [[router]] that switches this pool. Required.
	Router string `toml:"router"`
	// Mains are the machines normally on air. At least one.
	Mains []string `toml:"mains"`
	// Backups cover failed mains, in order of preference. At least one.
	Backups []string `toml:"backups"`
	// Mode "automatic" gives a failed main a free healthy backup; "manual" raises on_air_failed
	// (naming the backup that would take over) and waits for an operator. Default "automatic".
	Mode string `toml:"mode"`
	// SwitchOnCritical also switches when a health value of the machine on air is Critical.
	// Default false.
	SwitchOnCritical bool `toml:"switch_on_critical"`
	// Failback "automatic" returns a main to air after FailbackAfter of health, which frees its
	// backup for the next waiting main; "manual" waits for an operator's Move To. Default
	// "automatic".
	Failback string `toml:"failback"`
	// FailbackAfter is how long a main must be continuously healthy before an automatic
	// failback. Default "30s".
	FailbackAfter Duration `toml:"failback_after"`
	// Roles limits which roles move to a backup (partial coverage); the others stay on the
	// failed main. Default: every role of the mains.
	Roles []string `toml:"roles"`
	// ForceUnlock allows one force-unlock (F) and a retry when an output is locked by another
	// router client. Default false.
	ForceUnlock bool `toml:"force_unlock"`
	// LockOutputs makes Standby hold locks on the mains' outputs. Default false.
	LockOutputs bool `toml:"lock_outputs"`
}

// Threshold classifies a health value as Normal, Warning or Critical. When Critical is above
// Warning, higher values are worse (temperatures); when below, lower values are worse (fps).
type Threshold struct {
	// Warning is where the value turns Warning. Required.
	Warning *float64 `toml:"warning"`
	// Critical is where the value turns Critical. Required.
	Critical *float64 `toml:"critical"`
	// Hysteresis is how far back past a threshold a value must move before its level drops, so a
	// value hovering at a threshold does not flap. Default: 5% of |critical - warning|.
	Hysteresis *float64 `toml:"hysteresis"`
}

// Pair is one [[pair]] entry: a main machine, its backup, and the router feeds they drive.
type Pair struct {
	// Name identifies the pair (e.g. "cam1"). Required.
	Name string `toml:"name"`
	// Router is the [[router]] that switches this pair. Required.
	Router string `toml:"router"`
	// Main is the machine normally on air. Required.
	Main string `toml:"main"`
	// Backup is the machine that takes over. Required.
	Backup string `toml:"backup"`
	// Mode "automatic" switches on failure; "manual" raises an alarm and waits for an operator.
	// Default "automatic".
	Mode string `toml:"mode"`
	// SwitchOnCritical also switches when a health parameter of the on-air machine is Critical.
	// Default false.
	SwitchOnCritical bool `toml:"switch_on_critical"`
	// Failback "manual" stays on the backup until an operator switches back; "automatic" returns
	// to the main after it has been healthy for FailbackAfter. Default "manual".
	Failback string `toml:"failback"`
	// FailbackAfter is how long the main must be continuously healthy before an automatic
	// failback. Default "30s".
	FailbackAfter Duration `toml:"failback_after"`
	// ForceUnlock allows one force-unlock (F) and a retry when an output is locked by another
	// router client. Default false.
	ForceUnlock bool `toml:"force_unlock"`
	// LockOutputs makes Standby hold locks on this pair's outputs so panels cannot move them.
	// Default false.
	LockOutputs bool `toml:"lock_outputs"`
	// Feeds are the signals the machines send to the router; at least one.
	Feeds []Feed `toml:"feed"`
}

// Feed is one [[pair.feed]] row.
type Feed struct {
	// MainInput is the router input fed by the main: a 1-based number or the input's label.
	MainInput Port `toml:"main_input"`
	// BackupInput is the router input fed by the backup.
	BackupInput Port `toml:"backup_input"`
	// Outputs are the router outputs (destinations) that carry this feed: numbers or labels.
	Outputs []Port `toml:"outputs"`
}

// Operator is one [[operator]] entry: who may view and change what from the control surfaces.
type Operator struct {
	// Name is logged with every change the operator makes. Required.
	Name string `toml:"name"`
	// Token is the operator's secret (HTTP bearer token, remote API token). Required, at least 8
	// characters; never logged.
	Token string `toml:"token"`
	// Level is 1 view, 2 operate (switch, mode, failback, acknowledge), 3 configure (add/remove
	// backup, edit feeds). Required.
	Level int `toml:"level"`
}

// Permission levels.
const (
	LevelView      = 1
	LevelOperate   = 2
	LevelConfigure = 3
)

// Demo is the [demo] table: a looping script of simulated failures for the demo studio.
type Demo struct {
	// Steps run in order, each after the previous one, and then the script starts again.
	Steps []DemoStep `toml:"step"`
}

// DemoStep sets one simulated service or health value.
type DemoStep struct {
	// After is the wait before this step. Required.
	After Duration `toml:"after"`
	// Machine is a simulated [[machine]]. Required.
	Machine string `toml:"machine"`
	// Service names a service to set up or down (e.g. "engine"); or
	Service string `toml:"service"`
	Up      bool   `toml:"up"`
	// Health names a health value to set to Value.
	Health string  `toml:"health"`
	Value  float64 `toml:"value"`
	// Silent stops (true) or resumes (false) the machine's heartbeats, as a network failure would.
	Silent *bool `toml:"silent"`
}

// Port is a router port: a 1-based number or a label to resolve against the router's labels.
type Port struct {
	Number int    // 1-based; 0 when Label is used
	Label  string // router label; "" when Number is used
	bad    string // raw text that is neither
}

// N returns a numbered port (for tests and defaults).
func N(n int) Port { return Port{Number: n} }

// UnmarshalTOML implements toml.Unmarshaler.
func (p *Port) UnmarshalTOML(v any) error {
	switch x := v.(type) {
	case int64:
		p.Number = int(x)
		if x < 1 || x > MaxPort {
			p.bad = strconv.FormatInt(x, 10)
		}
	case string:
		if strings.TrimSpace(x) == "" {
			p.bad = `""`
		}
		p.Label = x
	default:
		p.bad = fmt.Sprintf("%v", v)
	}
	return nil
}

// MarshalText writes the port as read (used by tests and the JSON API).
func (p Port) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// String is the port as a person reads it: its number or its quoted label.
func (p Port) String() string {
	if p.Label != "" {
		return strconv.Quote(p.Label)
	}
	return strconv.Itoa(p.Number)
}

// Modes and failback policies.
const (
	ModeAutomatic = "automatic"
	ModeManual    = "manual"
)

// Load reads and validates the config file at path.
func Load(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// Parse decodes and validates a config. The returned error is an Errors listing every problem.
func Parse(b []byte) (*Config, error) {
	var c Config
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(&c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, Errors{&KeyError{Msg: fmt.Sprintf("line %d: %s", pe.Position.Line, pe.Message)}}
		}
		return nil, Errors{&KeyError{Msg: err.Error()}}
	}
	var e errs
	for _, k := range md.Undecoded() {
		e.add(k.String(), "unknown key")
	}
	c.applyDefaults()
	c.validate(&e)
	if err := e.err(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Default returns the embedded demo studio config.
func Default() *Config {
	c, err := Parse(DefaultTOML)
	if err != nil {
		panic("embedded default.toml is invalid: " + err.Error())
	}
	return c
}

func (c *Config) applyDefaults() {
	s := &c.Supervisor
	setStr(&s.Name, "standby")
	setStr(&s.Listen, "127.0.0.1:7400")
	setStr(&s.HTTP, "127.0.0.1:7480")
	setStr(&s.StateDir, "/var/lib/standby")
	c.TLS.applyGenerated(s.StateDir, s.Name)
	c.Redundancy.applyDefaults()
	c.applyActionDefaults()
	setDur(&s.HeartbeatTimeout, 250*time.Millisecond)
	setDur(&s.Tick, 10*time.Millisecond)
	setDur(&s.FlapWindow, time.Minute)
	if s.FlapMax == 0 {
		s.FlapMax = 3
	}
	for i := range c.Routers {
		r := &c.Routers[i]
		setStr(&r.Kind, "videohub")
		if r.Address != "" && !strings.Contains(r.Address, ":") {
			r.Address += ":9990"
		}
		if r.Inputs == 0 {
			r.Inputs = 40
		}
		if r.Outputs == 0 {
			r.Outputs = 40
		}
		setDur(&r.PingInterval, time.Second)
		setDur(&r.ConfirmTimeout, 500*time.Millisecond)
	}
	for i := range c.Pairs {
		p := &c.Pairs[i]
		setStr(&p.Mode, ModeAutomatic)
		setStr(&p.Failback, ModeManual)
		setDur(&p.FailbackAfter, 30*time.Second)
	}
	for i := range c.Pools {
		p := &c.Pools[i]
		setStr(&p.Mode, ModeAutomatic)
		setStr(&p.Failback, ModeAutomatic)
		setDur(&p.FailbackAfter, 30*time.Second)
	}
}

func setStr(s *string, def string) {
	if *s == "" {
		*s = def
	}
}

func setDur(d *Duration, def time.Duration) {
	if d.Duration == 0 && d.bad == "" {
		d.Duration = def
	}
}

// MachineTimeout is the heartbeat timeout in force for machine m.
func (c *Config) MachineTimeout(m *Machine) time.Duration {
	if m.HeartbeatTimeout.Duration > 0 {
		return m.HeartbeatTimeout.Duration
	}
	return c.Supervisor.HeartbeatTimeout.Duration
}

// Machine returns the [[machine]] named name, or nil.
func (c *Config) Machine(name string) *Machine {
	for i := range c.Machines {
		if c.Machines[i].Name == name {
			return &c.Machines[i]
		}
	}
	return nil
}

// Router returns the [[router]] named name, or nil.
func (c *Config) Router(name string) *Router {
	for i := range c.Routers {
		if c.Routers[i].Name == name {
			return &c.Routers[i]
		}
	}
	return nil
}

// Pair returns the [[pair]] named name, or nil.
func (c *Config) Pair(name string) *Pair {
	for i := range c.Pairs {
		if c.Pairs[i].Name == name {
			return &c.Pairs[i]
		}
	}
	return nil
}

// Pool returns the [[pool]] named name, or nil.
func (c *Config) Pool(name string) *Pool {
	for i := range c.Pools {
		if c.Pools[i].Name == name {
			return &c.Pools[i]
		}
	}
	return nil
}

// Warnings lists what is allowed but probably wrong: licence feature mismatches, a missing
// agent token. They are printed by `standby check` and logged at start.
func (c *Config) Warnings() []string {
	ws := c.warnings()
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.text
	}
	return out
}

// WarningsAbout lists Warnings by the pair or pool they are about (those about the whole config
// are left out): a status names each pair's next to it.
func (c *Config) WarningsAbout() map[string][]string {
	out := map[string][]string{}
	for _, w := range c.warnings() {
		if w.about != "" {
			out[w.about] = append(out[w.about], w.text)
		}
	}
	return out
}

// warning is one of Warnings, with the pair or pool it is about ("" for the whole config).
type warning struct{ about, text string }

func (c *Config) warnings() []warning {
	var w []warning
	if c.ProtectsNothing() {
		w = append(w, warning{"", "pair, pool: none: this config protects nothing (no [[pair]] or [[pool]]; an empty file, or one cut short?)"})
	}
	if !c.TLS.Enabled() {
		w = append(w, warning{"", "tls: not set: links to agents, the peer supervisor and control clients are not authenticated; anyone on the network can forge a failover (set up [tls] with `standby certs`)"})
	}
	machines := make(map[string]*Machine, len(c.Machines))
	agents := false
	for i := range c.Machines {
		machines[c.Machines[i].Name] = &c.Machines[i]
		agents = agents || !c.Machines[i].Simulated
	}
	if (c.Supervisor.AgentToken == "" || c.Supervisor.AgentToken == "change-me") && agents {
		w = append(w, warning{"", fmt.Sprintf("supervisor.agent_token: %q is not a secret; agents can be impersonated", c.Supervisor.AgentToken)})
	}
	for _, p := range c.Pairs {
		m, b := machines[p.Main], machines[p.Backup]
		if m == nil || b == nil {
			continue
		}
		if !sameSet(m.Features, b.Features) {
			w = append(w, warning{p.Name, fmt.Sprintf("pair %q: main %q has features [%s] but backup %q has [%s]; different features can cause problems when failover occurs",
				p.Name, m.Name, strings.Join(m.Features, ", "), b.Name, strings.Join(b.Features, ", "))})
		}
	}
	for _, p := range c.Pools {
		for _, bn := range p.Backups {
			b := machines[bn]
			if b == nil {
				continue
			}
			for _, mn := range p.Mains {
				m := machines[mn]
				if m == nil {
					continue
				}
				if !sameSet(m.Features, b.Features) {
					w = append(w, warning{p.Name, fmt.Sprintf("pool %q: main %q has features [%s] but backup %q has [%s]; different features can cause problems when failover occurs",
						p.Name, m.Name, strings.Join(m.Features, ", "), b.Name, strings.Join(b.Features, ", "))})
				}
				for _, role := range sortedRoles(m.Feeds) {
					if len(p.Roles) > 0 && !contains(p.Roles, role) {
						continue
					}
					if _, ok := b.Feeds[role]; !ok {
						w = append(w, warning{p.Name, fmt.Sprintf("pool %q: %s has no '%s' feed; when it covers %s, %s's %s outputs %s stay on %s",
							p.Name, b.Name, role, m.Name, m.Name, role, portList(m.Feeds[role].Outputs), m.Name)})
					}
				}
			}
		}
	}
	return w
}

func sortedRoles(fs map[string]MachineFeed) []string {
	roles := make([]string, 0, len(fs))
	for r := range fs {
		roles = append(roles, r)
	}
	sort.Strings(roles)
	return roles
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func portList(ps []Port) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return "[" + strings.Join(s, ", ") + "]"
}

func sameSet(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return strings.Join(x, "\x00") == strings.Join(y, "\x00")
}

func (c *Config) validate(e *errs) {
	s := c.Supervisor
	checkAddr(e, "supervisor.listen", s.Listen)
	if s.Advertise != "" {
		checkAddr(e, "supervisor.advertise", s.Advertise)
	}
	checkAddr(e, "supervisor.http", s.HTTP)
	c.TLS.validate(e, "tls", true)
	c.validateRedundancy(e)
	c.validateActions(e)
	s.HeartbeatTimeout.check(e, "supervisor.heartbeat_timeout", time.Millisecond)
	s.Tick.check(e, "supervisor.tick", time.Millisecond)
	s.FlapWindow.check(e, "supervisor.flap_window", time.Second)
	if s.FlapMax < 1 {
		e.add("supervisor.flap_max", "%d must be at least 1", s.FlapMax)
	}
	if s.Tick.bad == "" && s.HeartbeatTimeout.bad == "" && s.Tick.Duration >= s.HeartbeatTimeout.Duration {
		e.add("supervisor.tick", "%s must be shorter than heartbeat_timeout (%s)", s.Tick.Duration, s.HeartbeatTimeout.Duration)
	}

	routers := map[string]bool{}
	for i, r := range c.Routers {
		path := entry(e, "router", i, r.Name, routers)
		if r.Kind != "videohub" {
			e.add(path+".kind", "%q is not a router kind (supported: videohub)", r.Kind)
		}
		if r.Address == "" {
			e.add(path+".address", "missing")
		} else {
			checkAddr(e, path+".address", r.Address)
		}
		if r.Inputs < 1 || r.Inputs > MaxPort {
			e.add(path+".inputs", "%d is out of range 1..%d", r.Inputs, MaxPort)
		}
		if r.Outputs < 1 || r.Outputs > MaxPort {
			e.add(path+".outputs", "%d is out of range 1..%d", r.Outputs, MaxPort)
		}
		r.PingInterval.check(e, path+".ping_interval", 10*time.Millisecond)
		r.ConfirmTimeout.check(e, path+".confirm_timeout", time.Millisecond)
	}

	machines := map[string]bool{}
	for i, m := range c.Machines {
		path := entry(e, "machine", i, m.Name, machines)
		if m.HeartbeatTimeout.bad != "" || m.HeartbeatTimeout.Duration != 0 {
			m.HeartbeatTimeout.check(e, path+".heartbeat_timeout", time.Millisecond)
		}
		names := make([]string, 0, len(m.Health))
		for n := range m.Health {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			t, hp := m.Health[n], path+".health."+n
			switch {
			case t.Warning == nil:
				e.add(hp+".warning", "missing")
			case t.Critical == nil:
				e.add(hp+".critical", "missing")
			case *t.Warning == *t.Critical:
				e.add(hp, "warning and critical are both %g; critical must be beyond warning", *t.Warning)
			}
			if t.Hysteresis != nil && *t.Hysteresis < 0 {
				e.add(hp+".hysteresis", "%g must not be negative", *t.Hysteresis)
			}
		}
	}

	pairs := map[string]bool{}
	mainOf := map[string]string{}   // machine → pair using it as main
	backupOf := map[string]string{} // machine → pair using it as backup
	outputOf := map[string]string{} // router/output → pair
	for i, p := range c.Pairs {
		path := entry(e, "pair", i, p.Name, pairs)
		switch {
		case p.Router == "":
			e.add(path+".router", "missing")
		case !routers[p.Router]:
			e.add(path+".router", "%q is not a [[router]]", p.Router)
		}
		for _, role := range []struct{ key, name string }{{"main", p.Main}, {"backup", p.Backup}} {
			switch {
			case role.name == "":
				e.add(path+"."+role.key, "missing")
			case !machines[role.name]:
				e.add(path+"."+role.key, "%q is not a [[machine]]", role.name)
			}
		}
		if p.Main != "" && p.Main == p.Backup {
			e.add(path, "main and backup are both %q", p.Main)
		}
		if p.Main != "" {
			if other, ok := mainOf[p.Main]; ok {
				e.add(path+".main", "%q is already the main of pair %q", p.Main, other)
			} else {
				mainOf[p.Main] = p.Name
			}
		}
		if p.Backup != "" {
			if other, ok := backupOf[p.Backup]; ok {
				e.add(path+".backup", "%q already backs up pair %q (to share a backup, use a [[pool]])", p.Backup, other)
			} else {
				backupOf[p.Backup] = p.Name
			}
		}
		if p.Mode != ModeAutomatic && p.Mode != ModeManual {
			e.add(path+".mode", "%q is not automatic or manual", p.Mode)
		}
		if p.Failback != ModeAutomatic && p.Failback != ModeManual {
			e.add(path+".failback", "%q is not automatic or manual", p.Failback)
		}
		p.FailbackAfter.check(e, path+".failback_after", 0)
		if len(p.Feeds) == 0 {
			e.add(path+".feed", "missing: at least one [[pair.feed]] with main_input, backup_input and outputs")
		}
		for j, f := range p.Feeds {
			fp := fmt.Sprintf("%s.feed[%d]", path, j)
			checkPort(e, fp+".main_input", f.MainInput)
			checkPort(e, fp+".backup_input", f.BackupInput)
			c.checkSimulated(e, fp+".main_input", p.Router, f.MainInput, true)
			c.checkSimulated(e, fp+".backup_input", p.Router, f.BackupInput, true)
			if f.MainInput != (Port{}) && f.MainInput == f.BackupInput {
				e.add(fp, "main_input and backup_input are both %s", f.MainInput)
			}
			if len(f.Outputs) == 0 {
				e.add(fp+".outputs", "missing: at least one router output")
			}
			for k, o := range f.Outputs {
				op := fmt.Sprintf("%s.outputs[%d]", fp, k)
				checkPort(e, op, o)
				c.checkSimulated(e, op, p.Router, o, false)
				if o.bad != "" {
					continue
				}
				key := p.Router + "\x00" + o.String()
				if other, ok := outputOf[key]; ok {
					if other == p.Name {
						e.add(op, "output %s is listed twice", o)
					} else {
						e.add(op, "output %s of router %q is already claimed by pair %q", o, p.Router, other)
					}
				} else {
					outputOf[key] = p.Name
				}
			}
		}
	}

	c.validatePools(e, routers, machines, pairs, outputOf, mainOf, backupOf)

	opNames, tokens := map[string]bool{}, map[string]string{}
	for i, o := range c.Operators {
		path := fmt.Sprintf("operator[%d]", i)
		if o.Name == "" {
			e.add(path+".name", "missing")
		} else {
			path = fmt.Sprintf("operator %q", o.Name)
			if opNames[o.Name] {
				e.add(path, "defined twice")
			}
			opNames[o.Name] = true
		}
		switch {
		case len(o.Token) < 8:
			e.add(path+".token", "must be at least 8 characters")
		case tokens[o.Token] != "":
			e.add(path+".token", "same token as operator %q: tokens must identify one operator", tokens[o.Token])
		default:
			tokens[o.Token] = o.Name
		}
		if o.Level < LevelView || o.Level > LevelConfigure {
			e.add(path+".level", "%d is not 1 (view), 2 (operate) or 3 (configure)", o.Level)
		}
	}

	for i, st := range c.Demo.Steps {
		path := fmt.Sprintf("demo.step[%d]", i)
		st.After.check(e, path+".after", 0)
		m := c.Machine(st.Machine)
		switch {
		case st.Machine == "":
			e.add(path+".machine", "missing")
		case m == nil:
			e.add(path+".machine", "%q is not a [[machine]]", st.Machine)
		case !m.Simulated:
			e.add(path+".machine", "%q is not simulated = true", st.Machine)
		}
		set := 0
		for _, b := range []bool{st.Service != "", st.Health != "", st.Silent != nil} {
			if b {
				set++
			}
		}
		if set != 1 {
			e.add(path, "set exactly one of service, health or silent")
		}
	}
}

// entry returns the key path of the i-th [[kind]] entry and checks its name: present, usable as
// an actor id, and not defined twice.
func entry(e *errs, kind string, i int, name string, seen map[string]bool) string {
	if name == "" {
		e.add(fmt.Sprintf("%s[%d].name", kind, i), "missing")
		return fmt.Sprintf("%s[%d]", kind, i)
	}
	path := fmt.Sprintf("%s %q", kind, name)
	checkName(e, path+".name", name)
	if seen[name] {
		e.add(path, "defined twice")
	}
	seen[name] = true
	return path
}

func checkAddr(e *errs, path, addr string) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		e.add(path, "%q is not host:port", addr)
		return
	}
	_ = host
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		e.add(path, "%q has no valid port number", addr)
	}
}

func checkPort(e *errs, path string, p Port) {
	switch {
	case p.bad != "":
		e.add(path, "%s is not a router port: use a number 1..%d (as on the router's panel) or a label", p.bad, MaxPort)
	case p == Port{}:
		e.add(path, "missing")
	}
}

// checkSimulated checks a numbered port against the declared size of a simulated router (a real
// router's size is known only once connected: the supervisor checks edits and raises
// mapping_invalid against it then).
func (c *Config) checkSimulated(e *errs, path, router string, p Port, input bool) {
	r := c.Router(router)
	if r == nil || !r.Simulate || p.Number == 0 || p.bad != "" {
		return
	}
	what, n := "output", r.Outputs
	if input {
		what, n = "input", r.Inputs
	}
	if n > 0 && p.Number > n {
		e.add(path, "%s %d: router %q is simulated with %d %ss (1..%d)", what, p.Number, router, n, what, n)
	}
}

// validatePools checks the [[pool]] entries and the machines' feeds. pairs, outputOf, mainOf and
// backupOf come from the [[pair]] checks, so a machine or output used by both is reported.
func (c *Config) validatePools(e *errs, routers, machines, pairs map[string]bool, outputOf, mainOf, backupOf map[string]string) {
	inPool := map[string]string{} // machine → pool using it
	for i, m := range c.Machines {
		path := fmt.Sprintf("machine %q", m.Name)
		if m.Name == "" {
			path = fmt.Sprintf("machine[%d]", i)
		}
		for _, role := range sortedRoles(m.Feeds) {
			fp := path + ".feed." + role
			checkName(e, fp, role)
			checkPort(e, fp+".input", m.Feeds[role].Input)
			for k, o := range m.Feeds[role].Outputs {
				checkPort(e, fmt.Sprintf("%s.outputs[%d]", fp, k), o)
			}
		}
		if len(m.Feeds) > 0 {
			if p, ok := mainOf[m.Name]; ok {
				e.add(path+".feed", "%q is in pair %q: pair machines declare feeds in [[pair.feed]]", m.Name, p)
			} else if p, ok := backupOf[m.Name]; ok {
				e.add(path+".feed", "%q is in pair %q: pair machines declare feeds in [[pair.feed]]", m.Name, p)
			}
		}
	}
	seen := map[string]bool{}
	for i, p := range c.Pools {
		path := entry(e, "pool", i, p.Name, seen)
		if p.Name != "" && pairs[p.Name] {
			e.add(path+".name", "%q is also a [[pair]]: pools and pairs share one namespace", p.Name)
		}
		switch {
		case p.Router == "":
			e.add(path+".router", "missing")
		case !routers[p.Router]:
			e.add(path+".router", "%q is not a [[router]]", p.Router)
		}
		if len(p.Mains) == 0 {
			e.add(path+".mains", "missing: at least one main")
		}
		if len(p.Backups) == 0 {
			e.add(path+".backups", "missing: at least one backup")
		}
		if p.Mode != ModeAutomatic && p.Mode != ModeManual {
			e.add(path+".mode", "%q is not automatic or manual", p.Mode)
		}
		if p.Failback != ModeAutomatic && p.Failback != ModeManual {
			e.add(path+".failback", "%q is not automatic or manual", p.Failback)
		}
		p.FailbackAfter.check(e, path+".failback_after", 0)
		inputOf := map[string]string{} // input → machine, within the pool's router
		mainRoles := map[string]bool{}
		member := func(key string, j int, name string, main bool) {
			mp := fmt.Sprintf("%s.%s[%d]", path, key, j)
			m := c.Machine(name)
			switch {
			case name == "":
				e.add(mp, "missing")
				return
			case !machines[name] || m == nil:
				e.add(mp, "%q is not a [[machine]]", name)
				return
			}
			if other, ok := inPool[name]; ok {
				if other == p.Name {
					e.add(mp, "%q is listed twice in the pool", name)
				} else {
					e.add(mp, "%q is already in pool %q", name, other)
				}
				return
			}
			inPool[name] = p.Name
			if pr, ok := mainOf[name]; ok {
				e.add(mp, "%q is already the main of pair %q", name, pr)
			} else if pr, ok := backupOf[name]; ok {
				e.add(mp, "%q is already the backup of pair %q", name, pr)
			}
			if main && len(m.Feeds) == 0 {
				e.add(mp, "%q has no [machine.feed.ROLE]: a main needs at least one feed with its input and outputs", name)
			}
			if !main && len(m.Feeds) == 0 {
				e.add(mp, "%q has no [machine.feed.ROLE]: a backup needs the input of each role it covers", name)
			}
			for _, role := range sortedRoles(m.Feeds) {
				f := m.Feeds[role]
				fp := fmt.Sprintf("machine %q.feed.%s", name, role)
				if main {
					mainRoles[role] = true
					if len(f.Outputs) == 0 {
						e.add(fp+".outputs", "missing: a main's role needs at least one router output")
					}
				} else if len(f.Outputs) > 0 {
					e.add(fp+".outputs", "a backup declares only its input; the outputs are its mains'")
				}
				c.checkSimulated(e, fp+".input", p.Router, f.Input, true)
				for k, o := range f.Outputs {
					c.checkSimulated(e, fmt.Sprintf("%s.outputs[%d]", fp, k), p.Router, o, false)
				}
				if f.Input.bad == "" && f.Input != (Port{}) {
					key := f.Input.String()
					if other, ok := inputOf[key]; ok && other != name+"."+role {
						e.add(fp+".input", "input %s of router %q is also %s's", f.Input, p.Router, other)
					} else {
						inputOf[key] = name + "." + role
					}
				}
				for k, o := range f.Outputs {
					if o.bad != "" || !main {
						continue
					}
					key := p.Router + "\x00" + o.String()
					if other, ok := outputOf[key]; ok {
						e.add(fmt.Sprintf("%s.outputs[%d]", fp, k), "output %s of router %q is already claimed by %q", o, p.Router, other)
					} else {
						outputOf[key] = p.Name
					}
				}
			}
		}
		for j, n := range p.Mains {
			member("mains", j, n, true)
		}
		for j, n := range p.Backups {
			member("backups", j, n, false)
		}
		for j, r := range p.Roles {
			if !mainRoles[r] {
				e.add(fmt.Sprintf("%s.roles[%d]", path, j), "%q is not a role of any main of the pool", r)
			}
		}
	}
}

// PoolSpec is a pool as the engine runs it: every [[pair]] (one main, one backup; feed row i is
// role "feed<i+1>") and every [[pool]].
type PoolSpec struct {
	Name, Router string
	// Pair is true for a [[pair]] entry.
	Pair                                      bool
	Mains, Backups                            []Member
	Automatic, SwitchOnCritical, AutoFailback bool
	FailbackAfter                             time.Duration
	Roles                                     []string
	ForceUnlock, LockOutputs                  bool
}

// Member is a machine of a pool and its feeds, sorted by role.
type Member struct {
	Name  string
	Feeds []RoleFeed
}

// RoleFeed is one feed of a member.
type RoleFeed struct {
	Role    string
	Input   Port
	Outputs []Port
}

// PoolSpecs lists every pair (in config order) then every pool (in config order).
func (c *Config) PoolSpecs() []PoolSpec {
	var out []PoolSpec
	for _, p := range c.Pairs {
		sp := PoolSpec{Name: p.Name, Router: p.Router, Pair: true, Automatic: p.Mode == ModeAutomatic,
			SwitchOnCritical: p.SwitchOnCritical, AutoFailback: p.Failback == ModeAutomatic, FailbackAfter: p.FailbackAfter.Duration,
			ForceUnlock: p.ForceUnlock, LockOutputs: p.LockOutputs}
		main, backup := Member{Name: p.Main}, Member{Name: p.Backup}
		for i, f := range p.Feeds {
			role := fmt.Sprintf("feed%d", i+1)
			main.Feeds = append(main.Feeds, RoleFeed{Role: role, Input: f.MainInput, Outputs: f.Outputs})
			backup.Feeds = append(backup.Feeds, RoleFeed{Role: role, Input: f.BackupInput})
		}
		sp.Mains, sp.Backups = []Member{main}, []Member{backup}
		out = append(out, sp)
	}
	member := func(name string) Member {
		m := Member{Name: name}
		if mc := c.Machine(name); mc != nil {
			for _, role := range sortedRoles(mc.Feeds) {
				f := mc.Feeds[role]
				m.Feeds = append(m.Feeds, RoleFeed{Role: role, Input: f.Input, Outputs: f.Outputs})
			}
		}
		return m
	}
	for _, p := range c.Pools {
		sp := PoolSpec{Name: p.Name, Router: p.Router, Automatic: p.Mode == ModeAutomatic, SwitchOnCritical: p.SwitchOnCritical,
			AutoFailback: p.Failback == ModeAutomatic, FailbackAfter: p.FailbackAfter.Duration, Roles: p.Roles,
			ForceUnlock: p.ForceUnlock, LockOutputs: p.LockOutputs}
		for _, n := range p.Mains {
			sp.Mains = append(sp.Mains, member(n))
		}
		for _, n := range p.Backups {
			sp.Backups = append(sp.Backups, member(n))
		}
		out = append(out, sp)
	}
	return out
}

// ProtectsNothing tells a config without a single pair or pool (an empty file, one cut before
// its [[pair]] tables). A secondary's file may leave the studio to its primary.
func (c *Config) ProtectsNothing() bool {
	secondary := c.Redundancy.Mode == RedundancySecondaryCopy || c.Redundancy.Mode == RedundancySecondaryFailover
	return len(c.Pairs) == 0 && len(c.Pools) == 0 && !secondary
}
