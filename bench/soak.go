package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/rs/zerolog"
)

// Variant is a kind of soak.
type Variant string

// Soak variants.
const (
	// VariantPlain runs the pairs as they are.
	VariantPlain Variant = "plain"
	// VariantJitter delays heartbeats randomly: each agent process is frozen (SIGSTOP) for a
	// random time up to MaxJitter at random moments, as a starved or descheduled agent would be.
	VariantJitter Variant = "jitter"
)

// Soak defaults.
const (
	DefaultSoakDuration = 10 * time.Minute
	DefaultSoakPairs    = 8
	DefaultMaxJitter    = 100 * time.Millisecond
)

// SoakOptions configure Soak. Pairs run with the default heartbeat interval and timeout.
type SoakOptions struct {
	Binary string
	// Duration of each variant. Default 10m.
	Duration time.Duration
	// Pairs in the soak. Default 8.
	Pairs int
	// CPULoad runs one busy process per core meanwhile.
	CPULoad bool
	// Variants to run, in order. Default plain, then jitter.
	Variants []Variant
	// MaxJitter is the longest freeze of an agent in the jitter variant. Default 100ms: with the
	// default 50 ms beat and 250 ms timeout a machine is then at most 150 ms silent.
	MaxJitter time.Duration
	Mode      Mode
	Dir       string
	Keep      bool
	Logger    zerolog.Logger
	Progress  io.Writer
}

// SoakReport is the result of Soak.
type SoakReport struct {
	Started time.Time     `json:"started"`
	Host    Host          `json:"host"`
	Results []SoakVariant `json:"results"`
	Notes   []string      `json:"notes,omitempty"`
}

// SoakVariant is the result of one variant.
type SoakVariant struct {
	Variant             Variant `json:"variant"`
	Seconds             float64 `json:"seconds"`
	Pairs               int     `json:"pairs"`
	Machines            string  `json:"machines"`
	CPULoadProcs        int     `json:"cpu_load_processes"`
	MaxJitterMS         float64 `json:"max_jitter_ms,omitempty"`
	Freezes             int     `json:"agent_freezes,omitempty"`
	HeartbeatIntervalMS float64 `json:"heartbeat_interval_ms"`
	HeartbeatTimeoutMS  float64 `json:"heartbeat_timeout_ms"`
	// FalseFailovers are routing changes the independent observer saw; nothing was failed on
	// purpose, so every one is false.
	FalseFailovers uint64        `json:"false_failovers"`
	Changes        []RouteChange `json:"route_changes,omitempty"`
	// AutomaticSwitches are the supervisor's own automatic switches (its log), a cross-check,
	// and Switches the first of them with their trigger and detail.
	AutomaticSwitches int          `json:"automatic_switches"`
	Switches          []SoakSwitch `json:"switches,omitempty"`
	// MachinesDeclaredFailed counts machine conditions the supervisor turned to failed (near
	// misses show here before they become switches).
	MachinesDeclaredFailed int     `json:"machines_declared_failed"`
	SupervisorCPUPercent   float64 `json:"supervisor_cpu_percent"`
	SupervisorRSSMB        float64 `json:"supervisor_rss_mb"`
	Skipped                string  `json:"skipped,omitempty"`
	Error                  string  `json:"error,omitempty"`
}

// SoakSwitch is one automatic switch of a soak, as the supervisor logged it.
type SoakSwitch struct {
	At      time.Time `json:"at"`
	Pair    string    `json:"pair"`
	Trigger string    `json:"trigger"`
	Detail  string    `json:"detail"`
}

// FalseFailovers is the total over the variants.
func (r *SoakReport) FalseFailovers() uint64 {
	var n uint64
	for _, v := range r.Results {
		n += v.FalseFailovers + uint64(v.AutomaticSwitches)
	}
	return n
}

// Soak runs pairs with nothing failing, for Duration per variant, and counts false failovers.
func Soak(ctx context.Context, o SoakOptions) (*SoakReport, error) {
	if o.Binary == "" {
		return nil, fmt.Errorf("bench: no standby binary")
	}
	if o.Duration <= 0 {
		o.Duration = DefaultSoakDuration
	}
	if o.Pairs == 0 {
		o.Pairs = DefaultSoakPairs
	}
	if o.Pairs < 1 || o.Pairs > MaxPairs {
		return nil, fmt.Errorf("bench: soak pairs %d out of range 1..%d", o.Pairs, MaxPairs)
	}
	if len(o.Variants) == 0 {
		o.Variants = []Variant{VariantPlain, VariantJitter}
	}
	if o.MaxJitter <= 0 {
		o.MaxJitter = DefaultMaxJitter
	}
	dir, cleanup, err := workDir(o.Dir, o.Keep)
	if err != nil {
		return nil, err
	}
	failed := true
	defer func() { cleanup(failed) }()
	progress := progressFunc(Options{Logger: o.Logger, Progress: o.Progress})
	rep := &SoakReport{Started: time.Now(), Host: hostInfo()}
	mode, why := resolveMode(o.Binary, o.Mode)
	if why != "" {
		rep.Notes = append(rep.Notes, why)
	}
	progress("soak: %d variant(s) of %s each, %d pairs, cpu load %v", len(o.Variants), o.Duration, o.Pairs, o.CPULoad)
	for i, v := range o.Variants {
		res := SoakVariant{Variant: v, Pairs: o.Pairs, HeartbeatIntervalMS: ms(DefaultHeartbeatInterval), HeartbeatTimeoutMS: ms(DefaultHeartbeatTimeout)}
		if v == VariantJitter {
			res.MaxJitterMS = ms(o.MaxJitter)
			if mode != ModeAgents {
				res.Skipped = "needs agent processes to delay (the supervisor's simulated machines beat in-process)"
				rep.Results = append(rep.Results, res)
				progress("soak %s: skipped: %s", v, res.Skipped)
				continue
			}
		}
		so := studioOptions{bin: o.Binary, dir: filepath.Join(dir, fmt.Sprintf("soak%d-%s", i, v)), mode: mode, pairs: o.Pairs,
			heartbeatInterval: DefaultHeartbeatInterval, heartbeatTimeout: DefaultHeartbeatTimeout,
			failbackAfter: DefaultFailbackAfter, pingInterval: defaultPingInterval, log: o.Logger, progress: progress}
		if mode == ModeAgents {
			so.agentPairs = min(o.Pairs, MaxAgentPairs)
		}
		soakVariant(ctx, o, so, &res, progress)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		rep.Results = append(rep.Results, res)
	}
	failed = false
	for _, r := range rep.Results {
		failed = failed || r.Error != "" || r.FalseFailovers > 0 || r.AutomaticSwitches > 0 || r.MachinesDeclaredFailed > 0
	}
	if failed {
		rep.Notes = append(rep.Notes, "logs kept in "+dir)
	}
	return rep, nil
}

func soakVariant(ctx context.Context, o SoakOptions, so studioOptions, res *SoakVariant, progress func(string, ...any)) {
	st, err := startStudio(ctx, so)
	if err != nil {
		res.Error = err.Error()
		return
	}
	defer st.Close()
	res.Machines = st.machineKinds()
	var load procs
	defer load.close(time.Second)
	if o.CPULoad {
		for i := range runtime.NumCPU() {
			_, err := load.start(childSpec{name: fmt.Sprintf("burn%d", i), path: so.bin,
				args: []string{"bench", "burn", "--for", (o.Duration + time.Minute).String()}, env: []string{"GOMAXPROCS=1"}})
			if err != nil {
				res.Error = err.Error()
				return
			}
			res.CPULoadProcs++
		}
	}
	// The counts start now: everything is armed and on its main.
	obsBase := make([]uint64, len(st.observers))
	for i, ob := range st.observers {
		obsBase[i], _ = ob.Changes()
	}
	swBase, _ := st.supLog.automaticSwitches()
	failBase := st.supLog.failures()
	a, _ := sampleProc(st.supervisorPID())

	began := time.Now() // before the timeout starts, so the duration reported is never short of it
	sctx, cancel := context.WithTimeout(ctx, o.Duration)
	defer cancel()
	var wg sync.WaitGroup
	var freezes int
	var fmu sync.Mutex
	if res.Variant == VariantJitter {
		st.mu.Lock()
		agents := make([]*child, 0, len(st.agents))
		for _, c := range st.agents {
			agents = append(agents, c)
		}
		st.mu.Unlock()
		for _, c := range agents {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := jitterAgent(sctx, c, so.heartbeatInterval, o.MaxJitter)
				fmu.Lock()
				freezes += n
				fmu.Unlock()
			}()
		}
	}
	progress("soak %s: running %s (%s)", res.Variant, o.Duration, st.machineKinds())
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
wait:
	for {
		select {
		case <-sctx.Done():
			break wait
		case <-st.sup.done:
			res.Error = fmt.Sprintf("supervisor exited during the soak: %v", st.sup.err)
			break wait
		case <-tick.C:
			n, _ := st.supLog.automaticSwitches()
			progress("soak %s: %s, automatic switches so far %d", res.Variant, time.Since(began).Round(time.Second), n-swBase)
		}
	}
	wg.Wait()
	res.Seconds = time.Since(began).Round(time.Millisecond).Seconds()
	res.Freezes = freezes
	if b, err := sampleProc(st.supervisorPID()); err == nil {
		res.SupervisorCPUPercent = cpuPercent(a, b)
		res.SupervisorRSSMB = float64(b.rss) / (1 << 20)
	}
	for i, ob := range st.observers {
		n, log := ob.Changes()
		res.FalseFailovers += n - obsBase[i]
		for _, c := range log {
			if c.At.After(began) && len(res.Changes) < 100 {
				res.Changes = append(res.Changes, c)
			}
		}
	}
	sw, events := st.supLog.automaticSwitches()
	res.AutomaticSwitches = sw - swBase
	for _, e := range events {
		if e.At.After(began) && len(res.Switches) < 100 {
			res.Switches = append(res.Switches, SoakSwitch{At: e.At, Pair: e.Pair, Trigger: e.Trigger, Detail: e.Detail})
		}
	}
	res.MachinesDeclaredFailed = st.supLog.failures() - failBase
	progress("soak %s: %d false failovers, %d automatic switches, %d machine failures declared", res.Variant,
		res.FalseFailovers, res.AutomaticSwitches, res.MachinesDeclaredFailed)
}

// jitterAgent freezes agent c (SIGSTOP) for a random time up to max at random moments (on
// average every four beats) until ctx ends, and returns how often it did. The agent is always
// left running.
func jitterAgent(ctx context.Context, c *child, beat, max time.Duration) int {
	n := 0
	for ctx.Err() == nil {
		pause := time.Duration(rand.Int64N(int64(8 * beat)))
		select {
		case <-time.After(pause):
		case <-ctx.Done():
			return n
		}
		if c.signal(syscall.SIGSTOP) != nil {
			return n
		}
		n++
		freeze := time.Duration(rand.Int64N(int64(max) + 1))
		t := time.NewTimer(freeze)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
		if c.signal(syscall.SIGCONT) != nil {
			return n
		}
	}
	return n
}

// Burn keeps one core busy until ctx ends or d passes (`standby bench burn`).
func Burn(ctx context.Context, d time.Duration) {
	deadline := time.Now().Add(d)
	x := 0
	for ctx.Err() == nil && time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i ^ x
		}
	}
	_ = strconv.Itoa(x)
}

// WriteJSON writes the soak report as indented JSON.
func (r *SoakReport) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the soak report for people.
func (r *SoakReport) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "Standby soak, %s: %d CPUs (%s), %s, load average %s at start\n", r.Started.Format("2006-01-02 15:04"),
		r.Host.CPUs, r.Host.CPUModel, r.Host.GoVersion, r.Host.LoadAvg)
	fmt.Fprintln(w, "false failover = a routing change seen by the independent observer while nothing was failed on purpose (goal 0)")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "variant\tminutes\tpairs\tcpu burners\tmax jitter\tfreezes\tfalse failovers\tauto switches\tmachines declared failed\tsup CPU %\tsup RSS MB\t machines\t")
	for _, v := range r.Results {
		if v.Skipped != "" {
			fmt.Fprintf(tw, "%s\t-\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t skipped: %s\t\n", v.Variant, v.Pairs, v.Skipped)
			continue
		}
		if v.Error != "" && v.Seconds == 0 {
			fmt.Fprintf(tw, "%s\t-\t%d\t-\t-\t-\t-\t-\t-\t-\t-\t FAILED: %s\t\n", v.Variant, v.Pairs, v.Error)
			continue
		}
		jit := "-"
		if v.MaxJitterMS > 0 {
			jit = fmtMS(v.MaxJitterMS)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%d\t%d\t%s\t%d\t%d\t%d\t%d\t%.1f\t%.1f\t %s\t\n", v.Variant, v.Seconds/60, v.Pairs, v.CPULoadProcs, jit,
			v.Freezes, v.FalseFailovers, v.AutomaticSwitches, v.MachinesDeclaredFailed, v.SupervisorCPUPercent, v.SupervisorRSSMB, v.Machines)
	}
	tw.Flush()
	for _, v := range r.Results {
		if v.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", v.Variant, v.Error)
		}
		for _, c := range v.Changes {
			fmt.Fprintf(w, "%s: %s output %d moved from input %d to %d\n", v.Variant, c.At.Format("15:04:05.000"), c.Output+1, c.From+1, c.Input+1)
		}
		for _, e := range v.Switches {
			fmt.Fprintf(w, "%s: %s %s switched automatically: %s (%s)\n", v.Variant, e.At.Format("15:04:05.000"), e.Pair, e.Trigger, e.Detail)
		}
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	return nil
}
