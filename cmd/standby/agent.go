package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"standby/actors/agent"
	"standby/conf"
)

func init() {
	register("agent", "run a machine's agent: watch services and health, report to the supervisors", cmdAgent)
}

func cmdAgent(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	path := fs.String("config", "", "agent config file (TOML); required")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: standby agent --config agent.toml [--log-level info]")
		return 2
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby agent:", err)
		return 2
	}
	cfg, err := conf.LoadAgent(*path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standby agent: %s:\n%v\n", *path, err)
		return 1
	}
	if err := agent.Run(ctx, agent.Options{Config: cfg, Logger: log}); err != nil {
		log.Error().Err(err).Msg("standby agent failed")
		return 1
	}
	return 0
}
