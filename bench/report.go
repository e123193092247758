package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of Run.
type Report struct {
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	Host     Host      `json:"host"`
	Settings Settings  `json:"settings"`
	// Mode is how machines were driven; Machines says it for people.
	Mode      Mode             `json:"mode"`
	Machines  string           `json:"machines"`
	Method    string           `json:"method"`
	Scenarios []ScenarioResult `json:"scenarios"`
	Sweep     []SweepPoint     `json:"sweep,omitempty"`
	// PoolVsCrash compares the pool scenario's p99 with the pair crash p99 of the same run, when
	// both ran.
	PoolVsCrash *PoolRatio `json:"pool_vs_crash,omitempty"`
	// TLS says whether the links were mutual TLS; TLSCost compares the crash p99 with TLS and on
	// plaintext links in the same run (when TLS was on and the crash scenario ran).
	TLS     bool     `json:"tls"`
	TLSCost *TLSCost `json:"tls_cost,omitempty"`
	// ActionCost compares the crash p99 with and without a slow [[action]] in the same run.
	ActionCost *ActionCost `json:"action_cost,omitempty"`
	// Overload is the overload scenario's outcome, when it ran.
	Overload *OverloadResult `json:"overload,omitempty"`
	Anchors  []Anchor        `json:"anchors"`
	Notes    []string        `json:"notes,omitempty"`
}

// PoolRatio is the pool scenario's p99 against the pair crash p99 of the same run.
type PoolRatio struct {
	PoolP99MS  float64 `json:"pool_p99_ms"`
	CrashP99MS float64 `json:"crash_p99_ms"`
	Ratio      float64 `json:"ratio"` // pool p99 ÷ crash p99
	Goal       float64 `json:"goal"`  // PoolGoalRatio
	Met        bool    `json:"met"`
}

// TLSCost is the crash p99 with mutual TLS against the same scenario on plaintext links.
type TLSCost struct {
	TLSP99MS       float64 `json:"tls_p99_ms"`
	PlaintextP99MS float64 `json:"plaintext_p99_ms"`
	PlaintextP50MS float64 `json:"plaintext_p50_ms"`
	TLSP50MS       float64 `json:"tls_p50_ms"`
	Runs           int     `json:"runs"`
	DeltaMS        float64 `json:"delta_ms"` // TLS p99 − plaintext p99
	LimitMS        float64 `json:"limit_ms"` // the most TLS may add (TLSCostGoal)
	Met            bool    `json:"met"`
	Error          string  `json:"error,omitempty"`
}

func newTLSCost(tls, plain ScenarioResult) *TLSCost {
	c := &TLSCost{TLSP99MS: tls.Stats.P99, TLSP50MS: tls.Stats.P50, PlaintextP99MS: plain.Stats.P99, PlaintextP50MS: plain.Stats.P50,
		Runs: plain.Stats.Runs, Error: plain.Error}
	c.DeltaMS = c.TLSP99MS - c.PlaintextP99MS
	c.LimitMS = max(TLSCostGoalRatio*c.PlaintextP99MS, TLSCostGoalMS)
	c.Met = plain.Error == "" && plain.Stats.Runs > 0 && c.DeltaMS <= c.LimitMS
	return c
}

// applyPoolGoal sets the pool scenario's goal (PoolGoalRatio × the crash p99 of the same run)
// and the report's ratio, when both scenarios have runs.
func applyPoolGoal(r *Report) {
	var crash, pool *ScenarioResult
	for i := range r.Scenarios {
		switch s := &r.Scenarios[i]; s.Name {
		case Crash:
			crash = s
		case Pool:
			pool = s
		}
	}
	if crash == nil || pool == nil || crash.Stats.Runs == 0 || pool.Stats.Runs == 0 || crash.Stats.P99 <= 0 {
		return
	}
	limit := PoolGoalRatio * crash.Stats.P99
	met := pool.Stats.P99 <= limit
	pool.Goal = &Goal{P99: time.Duration(limit * float64(time.Millisecond)), P99MS: limit,
		Text: fmt.Sprintf("p99 <= %g x crash p99 = %.3f ms", PoolGoalRatio, limit)}
	pool.GoalMet = &met
	r.PoolVsCrash = &PoolRatio{PoolP99MS: pool.Stats.P99, CrashP99MS: crash.Stats.P99, Ratio: pool.Stats.P99 / crash.Stats.P99,
		Goal: PoolGoalRatio, Met: met}
}

// Host describes the machine the bench ran on.
type Host struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	OS        string `json:"os"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	// LoadAvg is /proc/loadavg when the run started: the machine may be shared.
	LoadAvg string `json:"load_avg"`
}

// Settings are the bench's parameters.
type Settings struct {
	Pairs               int     `json:"pairs"`
	HeartbeatIntervalMS float64 `json:"heartbeat_interval_ms"`
	HeartbeatTimeoutMS  float64 `json:"heartbeat_timeout_ms"`
	FailbackAfterMS     float64 `json:"failback_after_ms"`
	PingIntervalMS      float64 `json:"router_ping_interval_ms"`
	Runs                int     `json:"runs"`
	// PoolMains and PoolBackups size the pool scenario's pool (zero when it did not run).
	PoolMains   int `json:"pool_mains,omitempty"`
	PoolBackups int `json:"pool_backups,omitempty"`
}

// ScenarioResult is one scenario's figures.
type ScenarioResult struct {
	Name    string `json:"name"`
	Stats   Stats  `json:"stats"`
	Goal    *Goal  `json:"goal,omitempty"`
	GoalMet *bool  `json:"goal_met,omitempty"`
	// VsAnchors is anchor ÷ p99 for each anchor the scenario is compared with (> 1: faster).
	VsAnchors []AnchorRatio `json:"vs_anchors"`
	// Stages break the latency down by the supervisor's own log times (medians over the runs
	// where every step was logged after the injection). Indicative: they come from log lines.
	Stages []StageStats `json:"stages,omitempty"`
	// How says how the failure was injected in this build.
	How       string    `json:"how"`
	SamplesMS []float64 `json:"samples_ms"`
	Skipped   string    `json:"skipped,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// StageStats is one step of the switch path.
type StageStats struct {
	Name string  `json:"name"`
	Runs int     `json:"runs"`
	P50  float64 `json:"p50_ms"`
	P99  float64 `json:"p99_ms"`
}

// Stage names.
const (
	stageDetect  = "injection -> machine actor logs the failure"
	stageAgent   = "  of which: injection -> agent logs the exit (pidfd)"
	stageHop     = "  of which: agent logged -> machine actor logs (report over remote)"
	stageDecide  = "failure logged -> pair logs switching"
	stageTrigger = "injection -> pair logs switching"
	stageRoute   = "pair switching -> router actor confirms (ACK + routing push)"
	stageObserve = "router confirmed -> observer read the push"
)

// stages computes the breakdown of samples.
func stages(samples []sample) []StageStats {
	byName := map[string][]time.Duration{}
	var order []string
	add := func(name string, d time.Duration) {
		if _, ok := byName[name]; !ok {
			order = append(order, name)
		}
		byName[name] = append(byName[name], d)
	}
	for _, s := range samples {
		m := s.marks
		if m.switching.Before(s.t0) || m.confirmed.Before(m.switching) {
			continue
		}
		if !m.failed.Before(s.t0) && !m.switching.Before(m.failed) {
			add(stageDetect, m.failed.Sub(s.t0))
			if !m.agentSaw.IsZero() && !m.failed.Before(m.agentSaw) {
				add(stageAgent, m.agentSaw.Sub(s.t0))
				add(stageHop, m.failed.Sub(m.agentSaw))
			}
			add(stageDecide, m.switching.Sub(m.failed))
		} else {
			add(stageTrigger, m.switching.Sub(s.t0))
		}
		add(stageRoute, m.confirmed.Sub(m.switching))
		add(stageObserve, s.seen.Sub(m.confirmed))
	}
	var out []StageStats
	for _, name := range order {
		st := Summarize(byName[name])
		out = append(out, StageStats{Name: name, Runs: st.Runs, P50: st.P50, P99: st.P99})
	}
	return out
}

// AnchorRatio compares a p99 with one anchor.
type AnchorRatio struct {
	Key   string  `json:"key"`
	Ratio float64 `json:"ratio"`
}

// SweepPoint is one size of the scale sweep.
type SweepPoint struct {
	Pairs      int     `json:"pairs"`
	Machines   string  `json:"machines"`
	Crash      Stats   `json:"crash"`
	CPUPercent float64 `json:"supervisor_cpu_percent"`
	RSSMB      float64 `json:"supervisor_rss_mb"`
	PeakRSSMB  float64 `json:"supervisor_peak_rss_mb"`
	// LoadCPUPercent is the load-agents process's CPU (percent of one core) and HostBusyPercent
	// the whole machine's (percent of all cores) in the idle window: the load shares the machine.
	LoadCPUPercent  float64 `json:"load_agents_cpu_percent"`
	HostBusyPercent float64 `json:"host_busy_percent"`
	// ReportsPerSecond is the heartbeat load offered: machines ÷ heartbeat interval.
	ReportsPerSecond float64 `json:"reports_per_second"`
	// IdleFailovers and IdleMachineFailures are what happened in the idle window, when nothing
	// was failed on purpose: routing changes seen by the observer and machines the supervisor
	// declared failed (an overloaded supervisor misses heartbeats).
	IdleFailovers       uint64 `json:"idle_failovers"`
	IdleMachineFailures int    `json:"idle_machine_failures"`
	// Stages split the crash latency by the supervisor's and the agent's log times (as a
	// scenario's: where the time goes under this load).
	Stages []StageStats `json:"stages,omitempty"`
	Error  string       `json:"error,omitempty"`
}

func hostInfo() Host {
	h := Host{CPUs: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, GoVersion: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				h.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		h.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		if f := strings.Fields(string(b)); len(f) >= 3 {
			h.LoadAvg = strings.Join(f[:3], " ")
		}
	}
	return h
}

// scenarioResult builds a scenario's figures from its samples.
func scenarioResult(sc string, samples []sample, heartbeatTimeout time.Duration) ScenarioResult {
	lat := make([]time.Duration, len(samples))
	r := ScenarioResult{Name: sc}
	for i, s := range samples {
		lat[i] = s.latency
		r.SamplesMS = append(r.SamplesMS, ms(s.latency))
	}
	r.Stats = Summarize(lat)
	r.Stages = stages(samples)
	if sc == Pool { // the pool, not a pair, logs the switching
		for i := range r.Stages {
			r.Stages[i].Name = strings.ReplaceAll(r.Stages[i].Name, "pair ", "pool ")
		}
	}
	if g, ok := goalFor(sc, heartbeatTimeout); ok {
		r.Goal = &g
		if r.Stats.Runs > 0 {
			met := r.Stats.P99 <= g.P99MS
			r.GoalMet = &met
		}
	}
	if r.Stats.Runs > 0 && r.Stats.P99 > 0 {
		for _, a := range anchorsFor(sc) {
			r.VsAnchors = append(r.VsAnchors, AnchorRatio{Key: a.Key, Ratio: a.ValueMS / r.Stats.P99})
		}
	}
	return r
}

// WriteJSON writes the report as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people: the scenario table, the comparison with the anchors,
// the sweep and the notes.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "Standby bench, %s: %d CPUs (%s), %s, kernel %s, %s, load average %s at start\n", r.Started.Format("2006-01-02 15:04"),
		r.Host.CPUs, r.Host.CPUModel, r.Host.OS, r.Host.Kernel, r.Host.GoVersion, r.Host.LoadAvg)
	fmt.Fprintf(w, "machines: %s; %d pair(s); heartbeat %s, heartbeat_timeout %s, failback_after %s, router ping %s\n",
		r.Machines, r.Settings.Pairs, fmtMS(r.Settings.HeartbeatIntervalMS), fmtMS(r.Settings.HeartbeatTimeoutMS),
		fmtMS(r.Settings.FailbackAfterMS), fmtMS(r.Settings.PingIntervalMS))
	if r.Settings.PoolMains > 0 {
		fmt.Fprintf(w, "pool scenario: one pool of %d mains and %d backups on its own router (machines driven as the pairs')\n",
			r.Settings.PoolMains, r.Settings.PoolBackups)
	}
	links := "mutual TLS with the setup's own studio CA"
	if !r.TLS {
		links = "plaintext (--tls=false)"
	}
	fmt.Fprintf(w, "links: %s\n%s\n\n", links, r.Method)
	if len(r.Scenarios) > 0 {
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "scenario\truns\tp50 ms\tp90 ms\tp99 ms\tp99.9 ms\tmax ms\t goal\t met\t")
		for _, s := range r.Scenarios {
			goal, met := "-", "-"
			if s.Goal != nil {
				goal = s.Goal.Text
			}
			if s.GoalMet != nil {
				met = map[bool]string{true: "yes", false: "NO"}[*s.GoalMet]
			}
			if s.Stats.Runs == 0 {
				fmt.Fprintf(tw, "%s\t0\t-\t-\t-\t-\t-\t %s\t %s\t\n", s.Name, goal, met)
				continue
			}
			st := s.Stats
			fmt.Fprintf(tw, "%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t %s\t %s\t\n", s.Name, st.Runs, st.P50, st.P90, st.P99, st.P999, st.Max, goal, met)
		}
		tw.Flush()
		if pr := r.PoolVsCrash; pr != nil {
			fmt.Fprintf(w, "pool p99 ÷ crash p99 = %.3f ÷ %.3f ms = %.2f (goal <= %g: %s)\n", pr.PoolP99MS, pr.CrashP99MS, pr.Ratio, pr.Goal,
				map[bool]string{true: "met", false: "NOT met"}[pr.Met])
		}
		if c := r.TLSCost; c != nil {
			if c.Error != "" {
				fmt.Fprintf(w, "crash on plaintext links (TLS cost): FAILED: %s\n", c.Error)
			} else {
				fmt.Fprintf(w, "crash p99 with mutual TLS %.3f ms, on plaintext links %.3f ms (%d runs each; p50 %.3f / %.3f): TLS adds %+.3f ms (goal <= %.3f ms: %s)\n",
					c.TLSP99MS, c.PlaintextP99MS, c.Runs, c.TLSP50MS, c.PlaintextP50MS, c.DeltaMS, c.LimitMS, map[bool]string{true: "met", false: "NOT met"}[c.Met])
			}
		}
		if c := r.ActionCost; c != nil {
			if c.Error != "" {
				fmt.Fprintf(w, "crash with a slow action: FAILED: %s\n", c.Error)
			} else {
				fmt.Fprintf(w, "crash p99 without an action %.3f ms, with a slow action (HTTP %s, %d requests) %.3f ms (%d runs each; p50 %.3f / %.3f): %+.3f ms\n",
					c.WithoutP99MS, SlowActionDelay, c.Requests, c.WithP99MS, c.Runs, c.WithoutP50MS, c.WithP50MS, c.DeltaMS)
			}
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "anchor ÷ our p99 (above 1: that many times faster than the anchor):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		head := "scenario\t"
		for _, a := range Anchors {
			head += fmt.Sprintf("%s %s\t", a.Key, fmtMS(a.ValueMS))
		}
		fmt.Fprintln(tw, head)
		for _, s := range r.Scenarios {
			line := s.Name + "\t"
			for _, a := range Anchors {
				cell := "-"
				for _, v := range s.VsAnchors {
					if v.Key == a.Key {
						cell = fmtRatio(v.Ratio)
					}
				}
				line += cell + "\t"
			}
			fmt.Fprintln(tw, line)
		}
		tw.Flush()
		for _, a := range Anchors {
			fmt.Fprintf(w, "  %-10s %s: %s\n", a.Key, a.Name, a.Source)
		}
		for _, s := range r.Scenarios {
			switch {
			case s.Skipped != "":
				fmt.Fprintf(w, "  %s skipped: %s\n", s.Name, s.Skipped)
			case s.Error != "":
				fmt.Fprintf(w, "  %s FAILED: %s\n", s.Name, s.Error)
			}
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "how each failure was injected:")
		for _, s := range r.Scenarios {
			fmt.Fprintf(w, "  %-11s %s\n", s.Name, s.How)
		}
		fmt.Fprintln(w)
		fmt.Fprintln(w, "where the time goes (the supervisor's log times; p50 / p99 ms):")
		for _, s := range r.Scenarios {
			for _, st := range s.Stages {
				fmt.Fprintf(w, "  %-11s %-68s %8.3f %8.3f\n", s.Name, st.Name, st.P50, st.P99)
			}
		}
	}
	if len(r.Sweep) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "scale sweep (crash of pair0's main; CPU over an idle 3 s window from 2 s after every pair armed, % of one core except host busy = % of all cores; RSS after the runs):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "pairs\treports/s\truns\tp50 ms\tp99 ms\tmax ms\tsup CPU %\tsup RSS MB\tpeak RSS MB\tload CPU %\thost busy %\tidle failovers\tidle machine failures\t")
		for _, p := range r.Sweep {
			cell := func(format string, v float64, ok bool) string {
				if !ok {
					return "-"
				}
				return fmt.Sprintf(format, v)
			}
			lat, res := p.Crash.Runs > 0, p.RSSMB > 0
			fmt.Fprintf(tw, "%d\t%.0f\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t\n", p.Pairs, p.ReportsPerSecond, p.Crash.Runs,
				cell("%.3f", p.Crash.P50, lat), cell("%.3f", p.Crash.P99, lat), cell("%.3f", p.Crash.Max, lat),
				cell("%.1f", p.CPUPercent, res), cell("%.1f", p.RSSMB, res), cell("%.1f", p.PeakRSSMB, res),
				cell("%.1f", p.LoadCPUPercent, p.LoadCPUPercent > 0), cell("%.0f", p.HostBusyPercent, p.HostBusyPercent > 0),
				p.IdleFailovers, p.IdleMachineFailures)
		}
		tw.Flush()
		for _, p := range r.Sweep {
			fmt.Fprintf(w, "  %d pairs: %s\n", p.Pairs, p.Machines)
			if p.Error != "" {
				fmt.Fprintf(w, "  %d pairs FAILED: %s\n", p.Pairs, p.Error)
			}
		}
		fmt.Fprintln(w, "where the crash's time goes at each size (log times; p50 / p99 ms):")
		for _, p := range r.Sweep {
			for _, st := range p.Stages {
				fmt.Fprintf(w, "  %6d %-68s %8.3f %8.3f\n", p.Pairs, st.Name, st.P50, st.P99)
			}
		}
	}
	if o := r.Overload; o != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(w, "overload (%d pairs: %s):\n", o.Pairs, o.Machines)
		for _, st := range o.Ramp {
			verdict := "kept up"
			if st.Overloaded {
				verdict = "fell behind (overload episode)"
			}
			fmt.Fprintf(w, "  ramp %9.0f reports/s offered, %9.0f served: %s\n", st.PerS, st.ServedPerS, verdict)
		}
		if o.DrivenPerS > 0 {
			fmt.Fprintf(w, "  served %.0f reports/s; driven at %.0f for the phase, all machines healthy\n", o.ServedPerS, o.DrivenPerS)
			fmt.Fprintf(w, "  false failovers (observer) %d, automatic switches %d, machines declared failed %d\n", o.IdleFailovers, o.AutoSwitches, o.MachineFailures)
			fmt.Fprintf(w, "  overload episodes %d; first: waited %.3f ms, %d reports waiting, late wake-ups %v, cores saturated %v; last ended: served %.0f reports/s, %d heartbeats shed, waited up to %.3f ms\n",
				o.Episodes, o.Alarm.WaitedMS, o.Alarm.Backlog, o.Alarm.Late, o.Alarm.Saturated, o.Calm.ServedPerS, o.Calm.Shed, o.Calm.MaxWaitedMS)
			fmt.Fprintf(w, "  crash of pair0's main under overload switched in %.3f ms\n", o.CrashMS)
			if o.LoadSendsLate > 0 {
				fmt.Fprintf(w, "  the load process itself sent late %d times (at most %.3f ms): starved on this host\n", o.LoadSendsLate, o.LoadMaxLateMS)
			}
		}
		verdict := "met"
		if !o.Met {
			verdict = "NOT met"
		}
		fmt.Fprintf(w, "  goal (0 false failovers, the alarm raised, the crash switched): %s\n", verdict)
		if o.Error != "" {
			fmt.Fprintf(w, "  FAILED: %s\n", o.Error)
		}
	}
	if len(r.Notes) > 0 {
		fmt.Fprintln(w)
		for _, n := range r.Notes {
			fmt.Fprintf(w, "note: %s\n", n)
		}
	}
	return nil
}

func fmtMS(v float64) string {
	if v >= 1000 {
		return fmt.Sprintf("%gs", v/1000)
	}
	return fmt.Sprintf("%gms", v)
}

func fmtRatio(x float64) string {
	switch {
	case x >= 100:
		return fmt.Sprintf("%.0fx", x)
	case x >= 10:
		return fmt.Sprintf("%.1fx", x)
	default:
		return fmt.Sprintf("%.2fx", x)
	}
}
