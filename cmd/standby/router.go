package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"standby/actors/router"
)

func init() {
	register("router", "talk to a Videohub: status, route OUT IN, lock/unlock/force-unlock OUT, watch", cmdRouter)
}

func cmdRouter(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("router", flag.ContinueOnError)
	addr := fs.String("address", "127.0.0.1:9990", "router host:port")
	timeout := fs.Duration("timeout", 5*time.Second, "how long to wait for the router")
	level := fs.String("log-level", "error", "log level: trace, debug, info, warn, error")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: standby router --address HOST:PORT status | route OUT IN | lock OUT | unlock OUT | force-unlock OUT | watch")
		fmt.Fprintln(os.Stderr, "ports are numbered from 1 as on the router's panel, or given by label")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby router:", err)
		return 2
	}
	err = router.RunCLI(ctx, router.CLIOptions{Address: *addr, Command: fs.Arg(0), Args: fs.Args()[1:], Out: os.Stdout, Log: log, Timeout: *timeout})
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby router:", err)
		return 1
	}
	return 0
}
