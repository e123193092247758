package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/rs/zerolog"
	"os"
	"os/signal"
	"syscall"

	"standby/actors/control"
	"standby/actors/supervisor"
	"standby/conf"
)

func init() {
	register("run", "run the supervisor (the embedded demo studio without --config)", cmdRun)
}

func cmdRun(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	path := fs.String("config", "", "config file (TOML); without it the embedded demo studio runs")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby run:", err)
		return 2
	}
	cfg, err := loadConfig(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standby run: %s:\n%v\n", configName(*path), err)
		return 1
	}
	if *path == "" {
		log.Info().Msg("no --config: starting the embedded demo studio (conf/default.toml)")
	}
	// SIGHUP reloads; an invalid file is reported and the running config kept.
	reload := make(chan *conf.Config, 1)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				next, err := loadConfig(*path)
				if err != nil {
					log.Error().Str("config", configName(*path)).Msgf("reload rejected, running config kept:\n%v", err)
					continue
				}
				reload <- next
			}
		}
	}()
	if *path == "" {
		log.Info().Msgf("web panel: http://%s (demo tokens: demo-view, demo-operate, demo-configure)", cfg.Supervisor.HTTP)
	}
	if err := supervisor.Run(ctx, supervisor.Options{Config: cfg, Logger: log, AgentBinary: agentBinary(log), OnStart: control.Attach(control.Options{Logger: log})},
		reload); err != nil {
		log.Error().Err(err).Msg("standby run failed")
		return 1
	}
	return 0
}

// loadConfig reads path, or the embedded demo studio when path is empty.
func loadConfig(path string) (*conf.Config, error) {
	if path == "" {
		return conf.Parse(conf.DefaultTOML)
	}
	return conf.Load(path)
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
