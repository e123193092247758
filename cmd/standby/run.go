package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/rs/zerolog"

	"standby/actors/control"
	"standby/actors/supervisor"
	"standby/actors/systemd"
	"standby/conf"
)

func init() {
	register("run", "run the supervisor on a config FILE (the embedded demo studio without one)", cmdRun)
}

func cmdRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: standby run [--config] [FILE] [--log-level info]\n\n"+
			"Runs the supervisor on FILE; naming no file runs the embedded demo studio.\n\nflags:")
		fs.PrintDefaults()
	}
	flagPath := fs.String("config", "", "config file (TOML), also as the one positional argument; without either the embedded demo studio runs")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	if err := parseInterspersed(fs, args); err != nil {
		return parseExit(err)
	}
	file, err := configFile(*flagPath, fs.Args())
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby run:", err)
		return 2
	}
	path := &file
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby run:", err)
		return 2
	}
	cfg, raw, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standby run: %s:\n%v\n", configName(*path), err)
		return 1
	}
	if *path == "" {
		log.Info().Msg("no --config: starting the embedded demo studio (conf/default.toml)")
	}
	cs := control.NewConfigState(nil)
	cs.Loaded(raw)
	// SIGHUP (systemd's ExecReload) and `standby ctl reload` read the file again; an invalid
	// file, or one that would remove most pairs unconfirmed, is reported and the running config kept.
	reload := make(chan *conf.Config, 1)
	rl := &reloader{path: *path, log: log, cs: cs, file: cfg, applied: make(chan error, 1),
		apply: func(next *conf.Config) error {
			select {
			case reload <- next:
			case <-ctx.Done():
				return ctx.Err()
			}
			return nil
		}}
	defer onSIGHUP(ctx, func() { _, _ = rl.reload(ctx, "SIGHUP", false) })()
	if *path == "" {
		log.Info().Msgf("web panel: http://%s (demo tokens: demo-view, demo-operate, demo-configure)", cfg.Supervisor.HTTP)
	}
	attach := control.Attach(control.Options{Logger: log, Config: cs, Version: versionString(),
		Reload: func(by string, force bool) (string, error) { return rl.reload(ctx, "operator "+by, force) }})
	opts := supervisor.Options{Config: cfg, Logger: log, AgentBinary: agentBinary(log),
		// Ready for systemd once the actors, routers and control surfaces are up; from then on the
		// watchdog is fed while the supervision tree answers.
		OnStart: func(s *supervisor.Supervisor) (func(), error) {
			stop, err := attach(s)
			if err != nil {
				return nil, err
			}
			stopWatchdog := startWatchdog(ctx, log, s)
			notifyErr(log, systemd.Ready(runningStatus(s)))
			return func() {
				notifyErr(log, systemd.Stopping("stopping"))
				stopWatchdog()
				if stop != nil {
					stop()
				}
			}, nil
		},
		OnReload: rl.outcome,
	}
	if err := supervisor.Run(ctx, opts, reload); err != nil {
		log.Error().Err(err).Msg("standby run failed")
		return 1
	}
	return 0
}

// startWatchdog feeds systemd's watchdog (WatchdogSec=) while the supervisor answers within a
// quarter of the watchdog's timeout; it returns the stop. Without a watchdog it does nothing.
func startWatchdog(ctx context.Context, log zerolog.Logger, s *supervisor.Supervisor) func() {
	timeout, err := systemd.WatchdogTimeout()
	if err != nil {
		log.Error().Err(err).Msg("systemd watchdog not fed")
		return func() {}
	}
	if timeout == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = systemd.Watchdog(ctx, systemd.WatchdogOptions{Timeout: timeout, Logger: log,
			Alive: func() error { return s.Alive(timeout / 4) }})
	}()
	return func() { cancel(); <-done }
}

// runningStatus is systemd's status line for a running supervisor.
func runningStatus(s *supervisor.Supervisor) string {
	cfg := s.Config()
	return fmt.Sprintf("supervising %d pools/pairs, %d machines, %d routers; http %s", len(s.PoolEntries()), len(cfg.Machines),
		len(cfg.Routers), cfg.Supervisor.HTTP)
}

// notifyErr logs a failed sd_notify (the service keeps running; systemd may time it out).
func notifyErr(log zerolog.Logger, err error) {
	if err != nil {
		log.Warn().Err(err).Msg("cannot tell systemd")
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// loadConfig reads path, or the embedded demo studio when path is empty, with the bytes read
// (their hash is the config_info metric's).
func loadConfig(path string) (*conf.Config, []byte, error) {
	raw := conf.DefaultTOML
	if path != "" {
		var err error
		if raw, err = os.ReadFile(path); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) { // the path is said by the caller
				err = fmt.Errorf("cannot read it: %w", pe.Err)
			}
			return nil, nil, err
		}
	}
	cfg, err := conf.Parse(raw)
	return cfg, raw, err
}

func configName(path string) string {
	if path == "" {
		return "embedded default.toml"
	}
	return path
}

// agentBinary is this executable, which the demo studio runs as `standby agent` for its
// simulated machines; empty (in-process simulation) if it cannot be found.
func agentBinary(log zerolog.Logger) string {
	exe, err := os.Executable()
	if err != nil {
		log.Warn().Err(err).Msg("cannot find the standby executable; simulated machines run in-process")
		return ""
	}
	return exe
}

// onSIGHUP runs fn on every SIGHUP until ctx ends or the returned stop is called.
func onSIGHUP(ctx context.Context, fn func()) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-done:
				return
			case <-hup:
				fn()
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}
