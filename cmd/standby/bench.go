package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"standby/bench"
	"standby/conf"
)

func init() {
	register("bench", "switch-latency harness: scenarios against the anchors, scale sweep; 'bench soak' counts false failovers", cmdBench)
}

func cmdBench(ctx context.Context, args []string) int {
	if len(args) > 0 {
		switch args[0] {
		case "soak":
			return cmdBenchSoak(ctx, args[1:])
		case "supervisor":
			return cmdBenchSupervisor(ctx, args[1:])
		case "burn":
			return cmdBenchBurn(ctx, args[1:])
		case "agents":
			return cmdBenchAgents(ctx, args[1:])
		case "plot":
			return cmdBenchPlot(args[1:])
		}
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: standby bench [flags]          measure failover latency on loopback\n"+
			"       standby bench soak [flags]     count false failovers under CPU load (-h for flags)\n"+
			"       standby bench plot --from FILE.json --plot FILE.svg [--table]   redraw a saved report\n\nflags:")
		fs.PrintDefaults()
	}
	scen := fs.String("scenarios", strings.Join(bench.Scenarios, ","), "comma-separated scenarios: "+strings.Join(bench.Scenarios, ", ")+"; none for the sweep only")
	pairs := fs.Int("pairs", bench.DefaultPairs, "pairs in the setup; runs cycle through them")
	hbi := fs.Duration("heartbeat-interval", bench.DefaultHeartbeatInterval, "agents' heartbeat_interval")
	hbt := fs.Duration("heartbeat-timeout", bench.DefaultHeartbeatTimeout, "supervisor's heartbeat_timeout")
	runs := fs.Int("runs", bench.DefaultRuns, fmt.Sprintf("runs per scenario (router-loss: %d unless given)", bench.DefaultRouterLossRuns))
	jsonPath := fs.String("json", "", "also write the report as JSON to `FILE`")
	plot := fs.String("plot", "", "also write an SVG plot of the distributions and the sweep to `FILE.svg`")
	sweep := fs.String("sweep", "", "scale sweep: comma-separated pair counts, e.g. 1,10,100,1000 (crash at --sweep-heartbeat)")
	sweepRuns := fs.Int("sweep-runs", bench.DefaultSweepRuns, "crash runs at each sweep size")
	sweepHB := fs.Duration("sweep-heartbeat", bench.DefaultSweepHeartbeat, "heartbeat interval of the sweep")
	ovPairs := fs.Int("overload-pairs", bench.DefaultOverloadPairs, "pairs of the overload scenario (pair0's machines agent processes, the rest from the load process)")
	ovRate := fs.Float64("overload-rate", 0, "reports/s the supervisor serves, driven twice over by the overload scenario; 0: found by a ramp (×1.5 every 5 s until it falls behind)")
	ovFor := fs.Duration("overload-for", bench.DefaultOverloadFor, "how long the overload scenario drives the supervisor before the crash")
	profile := fs.String("profile", "", "save the supervisor's CPU profile over each sweep point's idle window and its heap after the runs in `DIR` (sweepN-cpu.pprof, sweepN-heap.pprof; go tool pprof)")
	mode := fs.String("machines", "auto", "how machines are driven: auto, agents (standby agent processes), simulated (the supervisor's own, stopgap)")
	dir := fs.String("dir", "", "work directory for configs and logs (default: a temporary one, removed unless --keep or a failure)")
	keep := fs.Bool("keep", false, "keep the work directory")
	level := fs.String("log-level", "warn", "log level of the bench's own log (stderr)")
	slowAction := fs.Bool("slow-action", true, "run the crash scenario once more on a setup whose pairs have a slow [[action]] (an HTTP endpoint taking 1s), alternating blocks, to show actions do not slow failovers")
	useTLS := fs.Bool("tls", true, "mutual TLS on every link (the setup's own studio CA), and the crash scenario once more on plaintext links to show what TLS costs; --tls=false: plaintext only")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "standby bench: unexpected arguments %q\n", fs.Args())
		return 2
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench:", err)
		return 2
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench: cannot find my own binary:", err)
		return 1
	}
	o := bench.Options{Binary: bin, Pairs: *pairs, HeartbeatInterval: *hbi, HeartbeatTimeout: *hbt, Runs: *runs,
		SweepRuns: *sweepRuns, SweepHeartbeat: *sweepHB, Dir: *dir, Keep: *keep, Logger: log, Progress: os.Stderr, Plaintext: !*useTLS, NoActionCost: !*slowAction, ProfileDir: *profile,
		OverloadPairs: *ovPairs, OverloadRate: *ovRate, OverloadFor: *ovFor}
	fs.Visit(func(f *flag.Flag) { o.RunsSet = o.RunsSet || f.Name == "runs" })
	if *scen != "" {
		o.Scenarios = strings.Split(*scen, ",")
	}
	if o.Sweep, err = parseInts(*sweep); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench: --sweep:", err)
		return 2
	}
	if o.Mode, err = parseMode(*mode); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench:", err)
		return 2
	}
	rep, err := bench.Run(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench:", err)
		return 1
	}
	fmt.Println()
	_ = rep.WriteTable(os.Stdout)
	if err := writeOutputs(*jsonPath, *plot, rep.WriteJSON, rep.WriteSVG); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench:", err)
		return 1
	}
	for _, s := range rep.Scenarios {
		if s.Error != "" {
			return 1
		}
	}
	if rep.Overload != nil && !rep.Overload.Met {
		return 1
	}
	return 0
}

func cmdBenchSoak(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench soak", flag.ContinueOnError)
	dur := fs.Duration("duration", bench.DefaultSoakDuration, "how long each soak runs")
	pairs := fs.Int("pairs", bench.DefaultSoakPairs, "pairs in the soak")
	load := fs.Bool("cpu-load", false, "saturate every core with busy processes meanwhile")
	jitter := fs.Bool("jitter", false, "only the jitter variant (heartbeats delayed randomly); default: plain, then jitter")
	noJitter := fs.Bool("no-jitter", false, "only the plain variant")
	maxJitter := fs.Duration("max-jitter", bench.DefaultMaxJitter, "largest random delay added to a heartbeat in the jitter variant")
	mode := fs.String("machines", "auto", "how machines are driven: auto, agents, simulated")
	jsonPath := fs.String("json", "", "also write the result as JSON to `FILE`")
	dir := fs.String("dir", "", "work directory (default: a temporary one)")
	keep := fs.Bool("keep", false, "keep the work directory")
	level := fs.String("log-level", "warn", "log level of the bench's own log (stderr)")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench soak:", err)
		return 2
	}
	bin, err := os.Executable()
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench soak: cannot find my own binary:", err)
		return 1
	}
	o := bench.SoakOptions{Binary: bin, Duration: *dur, Pairs: *pairs, CPULoad: *load, MaxJitter: *maxJitter,
		Dir: *dir, Keep: *keep, Logger: log, Progress: os.Stderr}
	switch {
	case *jitter && *noJitter:
		fmt.Fprintln(os.Stderr, "standby bench soak: --jitter and --no-jitter exclude each other")
		return 2
	case *jitter:
		o.Variants = []bench.Variant{bench.VariantJitter}
	case *noJitter:
		o.Variants = []bench.Variant{bench.VariantPlain}
	}
	if o.Mode, err = parseMode(*mode); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench soak:", err)
		return 2
	}
	rep, err := bench.Soak(ctx, o)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench soak:", err)
		return 1
	}
	fmt.Println()
	_ = rep.WriteTable(os.Stdout)
	if err := writeOutputs(*jsonPath, "", rep.WriteJSON, nil); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench soak:", err)
		return 1
	}
	if rep.FalseFailovers() > 0 {
		return 1
	}
	return 0
}

// cmdBenchSupervisor is the supervisor process of the simulated-machines stopgap: `standby run`
// plus a control pipe on stdin/stdout (bench.ServeSupervisor). Internal to the bench.
func cmdBenchSupervisor(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench supervisor", flag.ContinueOnError)
	path := fs.String("config", "", "config file (TOML)")
	level := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench supervisor:", err)
		return 2
	}
	cfg, err := conf.Load(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standby bench supervisor: %s:\n%v\n", *path, err)
		return 1
	}
	if err := bench.ServeSupervisor(ctx, cfg, os.Stdin, os.Stdout, log); err != nil {
		log.Error().Err(err).Msg("standby bench supervisor failed")
		return 1
	}
	return 0
}

// cmdBenchPlot redraws a report saved with --json.
func cmdBenchPlot(args []string) int {
	fs := flag.NewFlagSet("bench plot", flag.ContinueOnError)
	from := fs.String("from", "", "report written by standby bench --json")
	plot := fs.String("plot", "", "SVG `FILE` to write")
	table := fs.Bool("table", false, "also print the table")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	b, err := os.ReadFile(*from)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench plot:", err)
		return 1
	}
	var rep bench.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		fmt.Fprintf(os.Stderr, "standby bench plot: %s: %v\n", *from, err)
		return 1
	}
	if *table {
		_ = rep.WriteTable(os.Stdout)
	}
	if err := writeOutputs("", *plot, nil, rep.WriteSVG); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench plot:", err)
		return 1
	}
	return 0
}

// cmdBenchAgents reports for many machines from one process (bench.LoadAgents), the sweep's load.
// Internal to the bench.
func cmdBenchAgents(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench agents", flag.ContinueOnError)
	path := fs.String("config", "", "load config (JSON, written by standby bench)")
	level := fs.String("log-level", "info", "log level")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench agents:", err)
		return 2
	}
	c, err := bench.LoadConfigFile(*path)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby bench agents:", err)
		return 1
	}
	// SIGHUP: the interval of the config file as it is now (the overload scenario's ramp).
	intervals := make(chan time.Duration, 1)
	defer onSIGHUP(ctx, func() {
		if n, err := bench.LoadConfigFile(*path); err != nil {
			log.Error().Err(err).Msg("load config not re-read")
		} else {
			select {
			case intervals <- n.Interval:
			case <-ctx.Done():
			}
		}
	})()
	c.Intervals = intervals
	if err := bench.LoadAgents(ctx, c, log); err != nil {
		fmt.Fprintln(os.Stderr, "standby bench agents:", err)
		return 1
	}
	return 0
}

// cmdBenchBurn keeps one core busy until killed or --for passes (the soak's CPU load). Internal.
func cmdBenchBurn(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("bench burn", flag.ContinueOnError)
	d := fs.Duration("for", time.Hour, "stop after this long")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	bench.Burn(ctx, *d)
	return 0
}

func parseInts(s string) ([]int, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func parseMode(s string) (bench.Mode, error) {
	switch s {
	case "auto", "":
		return bench.ModeAuto, nil
	case string(bench.ModeAgents):
		return bench.ModeAgents, nil
	case string(bench.ModeSimulated):
		return bench.ModeSimulated, nil
	}
	return "", fmt.Errorf("--machines %q: use auto, agents or simulated", s)
}

// writeOutputs writes the JSON and SVG files asked for.
func writeOutputs(jsonPath, svgPath string, writeJSON, writeSVG func(w io.Writer) error) error {
	for _, out := range []struct {
		path  string
		write func(w io.Writer) error
	}{{jsonPath, writeJSON}, {svgPath, writeSVG}} {
		if out.path == "" || out.write == nil {
			continue
		}
		f, err := os.Create(out.path)
		if err != nil {
			return err
		}
		err = out.write(f)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("%s: %w", out.path, err)
		}
		fmt.Fprintln(os.Stderr, "wrote", out.path)
	}
	return nil
}
