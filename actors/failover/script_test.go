package failover

import (
	"flag"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"standby/actors/script"
	"standby/conf"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata/*.txt")

// TestScripts runs the scenario scripts in testdata. Each block is commands, a "----" line, and
// the actions expected from the last command; blank lines separate blocks. Run
// `go test ./actors/failover -rewrite` after a deliberate change and read the diff.
//
// Commands are listed on scenario.run.
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

// scenario is a script's engine and clock. Pair scripts (config) use render-1 (main, pgm from
// input 1 on outputs 1 and 5) and render-1b (backup, pgm on input 2); "main" and "backup" name them.
type scenario struct {
	t     *testing.T
	p     *Pool
	now   time.Time
	feeds map[string][]Feed // declared with feed, for the next pool
	alias map[string]string
}

func runScript(t *testing.T, path string) {
	sc := &scenario{t: t, now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC), feeds: map[string][]Feed{}}
	sc.pair(nil)
	script.Run(t, path, *rewrite, sc.run)
}

// policy reads the options shared by config and pool.
func (sc *scenario) policy(cfg *Config, opts []string) []string {
	var rest []string
	for _, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "manual":
			cfg.Automatic = false
		case "critical":
			cfg.SwitchOnCritical = true
		case "failback":
			cfg.AutoFailback, cfg.FailbackAfter = true, dur(sc.t, v)
		case "flap":
			n, w, _ := strings.Cut(v, "/")
			cfg.FlapMax, _ = strconv.Atoi(n)
			cfg.FlapWindow = dur(sc.t, w)
		case "timeout":
			cfg.SwitchTimeout = dur(sc.t, v)
		case "retry":
			cfg.RetryAfter = dur(sc.t, v)
		case "force":
			cfg.ForceUnlock = true
		case "roles":
			cfg.Roles = strings.Split(v, ",")
		default:
			rest = append(rest, o)
		}
	}
	return rest
}

func (sc *scenario) pair(opts []string) {
	cfg := Config{Automatic: true,
		Mains:   []Machine{{Name: "render-1", Feeds: []Feed{{Role: "pgm", Input: conf.N(1), Outputs: []conf.Port{conf.N(1), conf.N(5)}}}}},
		Backups: []Machine{{Name: "render-1b", Feeds: []Feed{{Role: "pgm", Input: conf.N(2)}}}}}
	rest := sc.policy(&cfg, opts)
	routed := !slices.Contains(rest, "unrouted")
	if rest = slices.DeleteFunc(rest, func(o string) bool { return o == "unrouted" }); len(rest) > 0 {
		sc.t.Fatalf("config: unknown options %q", rest)
	}
	sc.p, sc.alias = New(cfg), map[string]string{"main": "render-1", "backup": "render-1b"}
	if routed {
		sc.showMains()
	}
}

// showMains has the router show every main on air, as a connected router does before the first
// report: scripts start there unless they say "unrouted".
func (sc *scenario) showMains() {
	var rs RouterShows
	for _, s := range sc.p.slots {
		xs, _ := sc.p.crosspoints(s.main, s.main)
		for _, x := range xs {
			rs.Outputs = append(rs.Outputs, Shown{Output: x.Output, Input: x.Input, Text: fmt.Sprintf("output %s ← input %s", x.Output, x.Input)})
		}
	}
	if acts, err := sc.p.Step(sc.now, rs); err != nil || len(acts) > 0 {
		sc.t.Fatalf("the router showing every main on air at the start: %v %v", formatActions(acts), err)
	}
}

// pool mains=A,B backups=X,Y [policy options]: machines without a feed line get role pgm on
// input = their position in the pool (mains first), mains airing it on output = that position.
func (sc *scenario) pool(opts []string) {
	cfg := Config{Automatic: true}
	pos, routed := 0, true
	member := func(name string, main bool) Machine {
		pos++
		if fs, ok := sc.feeds[name]; ok {
			return Machine{Name: name, Feeds: fs}
		}
		f := Feed{Role: "pgm", Input: conf.N(pos)}
		if main {
			f.Outputs = []conf.Port{conf.N(pos)}
		}
		return Machine{Name: name, Feeds: []Feed{f}}
	}
	for _, o := range sc.policy(&cfg, opts) {
		k, v, _ := strings.Cut(o, "=")
		switch k {
		case "mains":
			for _, n := range strings.Split(v, ",") {
				cfg.Mains = append(cfg.Mains, member(n, true))
			}
		case "backups":
			for _, n := range strings.Split(v, ",") {
				cfg.Backups = append(cfg.Backups, member(n, false))
			}
		case "unrouted":
			routed = false
		default:
			sc.t.Fatalf("pool: unknown option %q", o)
		}
	}
	sc.p, sc.alias, sc.feeds = New(cfg), map[string]string{}, map[string][]Feed{}
	if routed {
		sc.showMains()
	}
}

func (sc *scenario) machine(name string) string {
	if n, ok := sc.alias[name]; ok {
		return n
	}
	return name
}

// run runs one command and returns what it printed.
//
// Commands:
//
//	config [manual] [critical] [failback=DUR] [flap=N/DUR] [timeout=DUR] [retry=DUR] [force] [unrouted]
//	                     (a pair; the router shows the main on air unless unrouted)
//	feed MACHINE ROLE INPUT [OUTPUT...]    (declares a feed for the next pool)
//	pool mains=A,B,... backups=X,... [roles=R,...] [unrouted] [the config options]
//	reconfigure [the config/pool options]  (a new config, same state)
//	MACHINE up [warning|critical DETAIL] | down TRIGGER [DETAIL] | unknown   (main/backup in pairs)
//	advance DUR          (moves the clock and ticks; a tick before the pool's Wake time must do nothing)
//	wake                 (when the pool next needs a tick, from now)
//	switch [MAIN] TO     (operator; TO a machine, main/backup in pairs, or "any")
//	mode automatic|manual, failback automatic|manual, ack [MAIN] KIND
//	result EPOCH ok [LATENCY] | result EPOCH fail REASON
//	router-ready
//	router-shows MACHINE (a pair: that machine on every output) | router-shows OUT=IN ...
//	locked OUT... | locked none
//	router-lacks in:PORT|out:PORT ... | router-lacks none   (ports the router does not have)
//	role active|standby TERM   (this supervisor's role in its pair)
//	quorum ok|lost
//	adopt [manual] [nofailback] MAIN:ONAIR[:failedover][:latched][:alarm=KIND[/acked][/cleared]]...
//	                     (the active peer's view)
//	resume MAIN:ONAIR[:failedover][:latched]...   (what this supervisor persisted before a restart)
//	status
func (sc *scenario) run(cmd string) []string {
	t := sc.t
	t.Helper()
	f := strings.Fields(cmd)
	p := sc.p
	var ev Event
	switch f[0] {
	case "config":
		sc.pair(f[1:])
		return nil
	case "pool":
		sc.pool(f[1:])
		return nil
	case "feed":
		fd := Feed{Role: f[2], Input: port(t, f[3])}
		for _, o := range f[4:] {
			fd.Outputs = append(fd.Outputs, port(t, o))
		}
		sc.feeds[f[1]] = append(sc.feeds[f[1]], fd)
		return nil
	case "reconfigure":
		cfg := p.cfg
		if rest := sc.policy(&cfg, f[1:]); len(rest) > 0 {
			t.Fatalf("reconfigure: unknown options %q", rest)
		}
		return formatActions(p.Reconfigure(sc.now, cfg))
	case "advance":
		wake := p.Wake(sc.now)
		sc.now = sc.now.Add(dur(t, f[1]))
		acts, err := p.Step(sc.now, Tick{})
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		if len(acts) > 0 && (wake.IsZero() || sc.now.Before(wake)) {
			t.Errorf("%q: a tick before the pool's wake time (%v) acted: %v", cmd, wake, formatActions(acts))
		}
		return formatActions(acts)
	case "wake":
		if w := p.Wake(sc.now); !w.IsZero() {
			return []string{"wake in " + w.Sub(sc.now).String()}
		}
		return []string{"wake never"}
	case "switch":
		sw := Switch{By: "op"}
		if len(f) == 3 {
			sw.Main, f = f[1], f[1:]
		}
		if f[1] != "any" {
			sw.To = sc.machine(f[1])
		}
		ev = sw
	case "mode":
		ev = SetMode{Automatic: f[1] == "automatic", By: "op"}
	case "failback":
		ev = SetFailback{Automatic: f[1] == "automatic", By: "op"}
	case "ack":
		a := Acknowledge{Kind: ParseAlarmKind(f[len(f)-1]), By: "op"}
		if len(f) == 3 {
			a.Main = f[1]
		}
		ev = a
	case "result":
		epoch, _ := strconv.ParseUint(f[1], 10, 64)
		r := RouteResult{Epoch: epoch, OK: f[2] == "ok"}
		if r.OK && len(f) > 3 {
			r.Latency = dur(t, f[3])
		}
		if !r.OK {
			r.Reason = strings.Join(f[3:], " ")
		}
		ev = r
	case "router-ready":
		ev = RouterReady{}
	case "router-shows":
		ev = sc.shows(f[1:])
	case "router-lacks":
		var l RouterLacks
		for _, o := range f[1:] {
			if o == "none" {
				continue
			}
			kind, num, _ := strings.Cut(o, ":")
			what := map[string]string{"in": "input", "out": "output"}[kind]
			l.Ports = append(l.Ports, LackedPort{Port: port(t, num), Input: kind == "in",
				Reason: fmt.Sprintf("%s %s: the router has 12 %ss (1..12)", what, num, what)})
		}
		ev = l
	case "locked":
		var l OutputsLocked
		for _, o := range f[1:] {
			if o != "none" {
				l.Outputs = append(l.Outputs, LockedOutput{Output: port(t, o), Name: o})
			}
		}
		ev = l
	case "adopt":
		a := Adopt{Automatic: true, AutoFailback: true}
		for _, o := range f[1:] {
			switch o {
			case "manual":
				a.Automatic = false
			case "nofailback":
				a.AutoFailback = false
			default:
				a.Slots = append(a.Slots, adoptSlot(o))
			}
		}
		ev = a
	case "resume":
		var r Resume
		for _, o := range f[1:] {
			r.Slots = append(r.Slots, adoptSlot(o))
		}
		ev = r
	case "quorum":
		ev = SetQuorum{OK: f[1] == "ok"}
	case "role":
		term, _ := strconv.ParseUint(f[2], 10, 64)
		ev = SetRole{Active: f[1] == "active", Term: term}
	case "status":
		return statusLines(p.Status())
	default:
		if len(f) < 2 {
			t.Fatalf("unknown command %q", cmd)
		}
		c := Condition{Known: true}
		switch f[1] {
		case "up":
			if len(f) > 2 {
				c.Level = map[string]Level{"warning": Warning, "critical": Critical}[f[2]]
				c.Detail = strings.Join(f[3:], " ")
			}
		case "down":
			c.Failure, c.Detail = Trigger(f[2]), strings.Join(f[3:], " ")
		case "unknown":
			c = Condition{}
		default:
			t.Fatalf("unknown command %q", cmd)
		}
		ev = MachineChanged{Machine: sc.machine(f[0]), Condition: c}
	}
	acts, err := p.Step(sc.now, ev)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return formatActions(acts)
}

// shows builds a RouterShows: every output of the only main showing one machine, or OUT=IN pairs.
func (sc *scenario) shows(args []string) RouterShows {
	var rs RouterShows
	if len(args) == 1 && !strings.Contains(args[0], "=") {
		xs, _ := sc.p.crosspoints(sc.p.slots[0].main, sc.machine(args[0]))
		for _, x := range xs {
			rs.Outputs = append(rs.Outputs, Shown{Output: x.Output, Input: x.Input, Text: fmt.Sprintf("output %s ← input %s", x.Output, x.Input)})
		}
		return rs
	}
	for _, a := range args {
		o, i, _ := strings.Cut(a, "=")
		rs.Outputs = append(rs.Outputs, Shown{Output: port(sc.t, o), Input: port(sc.t, i), Text: fmt.Sprintf("output %s ← input %s", o, i)})
	}
	return rs
}

func formatActions(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case Transition:
			s := fmt.Sprintf("%s: transition %s -> %s (%s)", a.Main, a.From, a.To, a.Machine)
			if a.Trigger != "" {
				s += " trigger=" + string(a.Trigger)
			}
			if a.Detail != "" {
				s += fmt.Sprintf(" (%s)", a.Detail)
			}
			if a.Latency > 0 {
				s += " in " + a.Latency.String()
			}
			out = append(out, s)
		case Route:
			xs := make([]string, len(a.Crosspoints))
			for i, x := range a.Crosspoints {
				xs[i] = x.Output.String() + "←" + x.Input.String()
			}
			s := fmt.Sprintf("route epoch=%d main=%s %s→%s trigger=%s force=%v: %s", a.Epoch, a.Main, a.From, a.To, a.Trigger, a.Force, strings.Join(xs, " "))
			if a.Term > 0 {
				s += fmt.Sprintf(" term=%d", a.Term)
			}
			if len(a.Stay) > 0 {
				s += " stay=" + ports(a.Stay)
			}
			out = append(out, s)
		case AlarmRaised:
			out = append(out, fmt.Sprintf("%s: alarm+ %s: %s", a.Main, a.Kind, a.Message))
		case AlarmCleared:
			out = append(out, fmt.Sprintf("%s: alarm- %s", a.Main, a.Kind))
		case Note:
			if a.Main != "" {
				out = append(out, a.Main+": note: "+a.Message)
			} else {
				out = append(out, "note: "+a.Message)
			}
		default:
			out = append(out, fmt.Sprintf("%T %+v", a, a))
		}
	}
	return out
}

func statusLines(s Status) []string {
	head := fmt.Sprintf("automatic=%v failback=%v epoch=%d", s.Automatic, s.Failback, s.Epoch)
	if s.Standby || s.Term > 0 {
		head += fmt.Sprintf(" standby=%v term=%d", s.Standby, s.Term)
	}
	out := []string{head}
	for _, sl := range s.Slots {
		l := fmt.Sprintf("%s: state=%s on-air=%s latched=%v", sl.Main, sl.State, sl.OnAir, sl.Latched)
		if sl.Target != "" {
			l += " target=" + sl.Target
		}
		if len(sl.Stay) > 0 {
			l += " stay=" + ports(sl.Stay)
		}
		if !sl.FailbackAt.IsZero() {
			l += " failback-at=" + sl.FailbackAt.Format("15:04:05.000")
		}
		out = append(out, l)
		for _, a := range sl.Alarms {
			out = append(out, fmt.Sprintf("  alarm %s active=%v acked=%v", a.Kind, a.Active, a.Acked))
		}
	}
	var bs []string
	for _, b := range s.Backups {
		c := b.Covering
		if c == "" {
			c = "free"
		}
		bs = append(bs, b.Name+"→"+c)
	}
	out = append(out, "backups: "+strings.Join(bs, " "))
	if len(s.Queue) > 0 {
		out = append(out, "queue: "+strings.Join(s.Queue, " "))
	}
	return out
}

func port(t *testing.T, s string) conf.Port {
	if n, err := strconv.Atoi(s); err == nil {
		return conf.N(n)
	}
	return conf.Port{Label: s}
}

func dur(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("bad duration %q", s)
	}
	return d
}

// adoptSlot reads MAIN:ONAIR[:failedover][:latched].
func adoptSlot(o string) AdoptSlot {
	parts := strings.Split(o+":", ":")
	sl := AdoptSlot{Main: parts[0], OnAir: parts[1]}
	for _, p := range parts[2:] {
		sl.FailedOver = sl.FailedOver || p == "failedover"
		sl.Latched = sl.Latched || p == "latched"
		if kind, ok := strings.CutPrefix(p, "alarm="); ok {
			// alarm=KIND[/acked][/cleared]
			f := strings.Split(kind, "/")
			a := Alarm{Kind: AlarmKind(f[0]), Message: "as its writer had it", Active: !slices.Contains(f, "cleared"), Acked: slices.Contains(f, "acked")}
			sl.Alarms = append(sl.Alarms, a)
		}
	}
	return sl
}
