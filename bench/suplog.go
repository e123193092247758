package bench

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"time"
)

// supLog follows the supervisor's JSON log to know when pairs are armed and back on their main and
// machines healthy, so a run starts from a steady state. It is never used to measure: latencies
// come from the Observer only. It also counts automatic switches for the soak.
type supLog struct {
	mu       sync.Mutex
	remote   string               // the supervisor's remote endpoint, once running
	active   bool                 // of a pair of supervisors: this one drives the router
	pairs    map[string]string    // pair → state (e.g. "on-main")
	slots    map[string]slotState // pool main → its slot, from "pool transition"
	machines map[string]machState // machine → condition
	routers  map[string]string    // router → connection state
	switches []switchEvent        // automatic switches to backup seen (bounded)
	nswitch  int
	nfail    int      // machine conditions that turned to failed
	errors   []string // error-level lines (bounded), for the report when something fails
	// marks are the supervisor's own log times of the steps of each pair's latest failover, for
	// the breakdown of where the time goes (never for the measured latency itself).
	marks map[string]*pairMarks
	// overloads counts the supervisor's overload episodes (its "supervisor overloaded" lines);
	// overload is the first one's line, calm the last "no longer overloaded" one.
	overloads, calms int
	overload, calm   overloadLine
	changed          chan struct{}
}

// overloadLine is what the supervisor logged of an overload episode.
type overloadLine struct {
	At          time.Time
	WaitedMS    float64 `json:"waited_ms"`
	Backlog     int64   `json:"backlog"`
	Late        bool    `json:"late_wakeups"`
	Saturated   bool    `json:"cpu_saturated"`
	Shed        uint64  `json:"shed"`
	MaxWaitedMS float64 `json:"max_waited_ms"`
	ServedPerS  float64 `json:"served_per_s"`
}

// slotState is one pool main's slot as the pool last logged it.
type slotState struct {
	pool  string
	state string // e.g. "on-main"
	onAir string // the machine on air for the main after the transition
}

type machState struct {
	known   bool
	failure string
	level   string
}

// pairMarks are log times (the supervisor's wall clock) of a pair's latest failover steps.
type pairMarks struct {
	agentSaw  time.Time // the main's agent logged its service down (crash, agents only)
	failed    time.Time // the machine actor logged the main's failure
	switching time.Time // the pair logged switching-to-backup
	confirmed time.Time // the router actor logged the switch confirmed
}

type switchEvent struct {
	At      time.Time
	Pair    string
	Trigger string
	Detail  string
}

const maxKept = 1000

func newSupLog() *supLog {
	return &supLog{pairs: map[string]string{}, slots: map[string]slotState{}, machines: map[string]machState{}, routers: map[string]string{},
		marks: map[string]*pairMarks{}, changed: make(chan struct{})}
}

// logLine is the subset of the supervisor's log fields the bench reads.
type logLine struct {
	Level     string `json:"level"` // the last "level" key: a machine condition's health level
	Message   string `json:"message"`
	Pair      string `json:"pair"`
	Pool      string `json:"pool"` // router switch: the pool (or pair) that asked; pool transition: the pool
	Main      string `json:"main"` // pool transition: the main whose slot moved
	From      string `json:"from"`
	To        string `json:"to"`
	Trigger   string `json:"trigger"`
	Detail    string `json:"detail"`
	Machine   string `json:"machine"`
	Known     *bool  `json:"known"`
	Failure   string `json:"failure"`
	Router    string `json:"router"`
	State     string `json:"state"`
	Remote    string `json:"remote"`
	Error     string `json:"error"`
	Time      string `json:"time"`
	Confirmed *bool  `json:"confirmed"`
}

// line takes one stderr line of the supervisor.
func (l *supLog) line(s string) {
	if !strings.HasPrefix(s, "{") {
		return
	}
	interesting := strings.Contains(s, `"pair transition"`) || strings.Contains(s, `"pool transition"`) || strings.Contains(s, `"machine condition"`) ||
		strings.Contains(s, `"router state"`) || strings.Contains(s, `"router switch"`) || strings.Contains(s, `"standby running"`) || strings.Contains(s, `"level":"error"`)
	if strings.Contains(s, `"message":"supervisor overloaded`) || strings.Contains(s, `"message":"supervisor no longer overloaded"`) {
		var m struct {
			overloadLine
			Message, Time string
		}
		if json.Unmarshal([]byte(s), &m) != nil {
			return
		}
		o := m.overloadLine
		o.At, _ = time.Parse(time.RFC3339Nano, m.Time)
		l.mu.Lock()
		if strings.HasPrefix(m.Message, "supervisor overloaded") {
			if l.overloads == 0 {
				l.overload = o
			}
			l.overloads++
		} else {
			l.calm = o
			l.calms++
		}
		close(l.changed)
		l.changed = make(chan struct{})
		l.mu.Unlock()
		return
	}
	if !interesting {
		return
	}
	var m logLine
	if json.Unmarshal([]byte(s), &m) != nil {
		return
	}
	at, _ := time.Parse(time.RFC3339Nano, m.Time)
	l.mu.Lock()
	defer l.mu.Unlock()
	switch m.Message {
	case "pair transition":
		l.pairs[m.Pair] = m.To
		if m.To == "switching-to-backup" {
			l.mark(m.Pair).switching = at
		}
		if m.To == "switching-to-backup" && m.Trigger != "operator" {
			l.nswitch++
			if len(l.switches) < maxKept {
				l.switches = append(l.switches, switchEvent{At: time.Now(), Pair: m.Pair, Trigger: m.Trigger, Detail: m.Detail})
			}
		}
	case "pool transition":
		// A pool's marks are keyed by the pool's name: the bench fails one of its mains at a time.
		l.slots[m.Main] = slotState{pool: m.Pool, state: m.To, onAir: m.Machine}
		if m.To == "switching-to-backup" {
			l.mark(m.Pool).switching = at
		}
		if m.To == "switching-to-backup" && m.Trigger != "operator" {
			l.nswitch++
			if len(l.switches) < maxKept {
				l.switches = append(l.switches, switchEvent{At: time.Now(), Pair: m.Pool + "/" + m.Main, Trigger: m.Trigger, Detail: m.Detail})
			}
		}
	case "machine condition":
		// A condition line carries "level" twice: the log level first, the health level last (the
		// one json keeps).
		if prev := l.machines[m.Machine]; m.Failure != "" && prev.failure == "" {
			l.nfail++
		}
		l.machines[m.Machine] = machState{known: m.Known != nil && *m.Known, failure: m.Failure, level: m.Level}
		if p, ok := strings.CutSuffix(m.Machine, "-main"); ok && (m.Failure != "" || m.Level == "critical") {
			l.mark(p).failed = at
		}
		if sl, ok := l.slots[m.Machine]; ok && (m.Failure != "" || m.Level == "critical") {
			l.mark(sl.pool).failed = at
		}
	case "router switch":
		if m.Confirmed != nil && *m.Confirmed {
			l.mark(m.Pool).confirmed = at
		}
	case "router state":
		l.routers[m.Router] = m.State
	case "standby running":
		l.remote = m.Remote
	case "this supervisor is now ACTIVE":
		l.active = true
	case "this supervisor is now standby":
		l.active = false
	}
	if strings.HasPrefix(s, `{"level":"error"`) && len(l.errors) < maxKept {
		msg := m.Message
		if m.Error != "" {
			msg += ": " + m.Error
		}
		l.errors = append(l.errors, msg)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

func (l *supLog) mark(pair string) *pairMarks {
	pm := l.marks[pair]
	if pm == nil {
		pm = &pairMarks{}
		l.marks[pair] = pm
	}
	return pm
}

// marksOf returns a copy of pair's marks.
func (l *supLog) marksOf(pair string) pairMarks {
	l.mu.Lock()
	defer l.mu.Unlock()
	if pm := l.marks[pair]; pm != nil {
		return *pm
	}
	return pairMarks{}
}

// wait waits until cond holds (called under the lock) or ctx ends.
func (l *supLog) wait(ctx context.Context, cond func(l *supLog) bool) error {
	for {
		l.mu.Lock()
		ok, ch := cond(l), l.changed
		l.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// slotOnMain reports whether pool main m's slot is on its main (under the lock).
func (l *supLog) slotOnMain(m string) bool {
	sl, ok := l.slots[m]
	return ok && sl.state == "on-main" && sl.onAir == m
}

// healthy reports whether machine m is known, working and not critical (under the lock).
func (l *supLog) healthy(m string) bool {
	s, ok := l.machines[m]
	return ok && s.known && s.failure == "" && s.level != "critical"
}

func (l *supLog) automaticSwitches() (int, []switchEvent) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nswitch, append([]switchEvent(nil), l.switches...)
}

func (l *supLog) failures() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nfail
}

func (l *supLog) errorLines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.errors...)
}

// resetRole forgets the role before a supervisor process is started again.
func (l *supLog) resetRole() {
	l.mu.Lock()
	l.active = false
	l.mu.Unlock()
}

// overloaded returns how many overload episodes the supervisor logged, the first one's line and
// the last "no longer overloaded" line.
func (l *supLog) overloaded() (int, overloadLine, overloadLine) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.overloads, l.overload, l.calm
}
