package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"standby/protocol/videohub/vhsim"
)

func init() {
	register("sim", "run a simulated device: 'sim videohub' is a Blackmagic Videohub", cmdSim)
}

func cmdSim(ctx context.Context, args []string) int {
	if len(args) == 0 || args[0] != "videohub" {
		fmt.Fprintln(os.Stderr, "usage: standby sim videohub [flags]   (run 'standby sim videohub -h' for flags)")
		if len(args) > 0 && isHelp(args[0]) {
			return 0
		}
		return 2
	}
	fs := flag.NewFlagSet("sim videohub", flag.ContinueOnError)
	var o vhsim.Options
	fs.StringVar(&o.Listen, "listen", "127.0.0.1:9990", "TCP address to listen on")
	fs.IntVar(&o.Inputs, "inputs", vhsim.DefaultPorts, fmt.Sprintf("number of video inputs (1-%d)", vhsim.MaxPorts))
	fs.IntVar(&o.Outputs, "outputs", vhsim.DefaultPorts, fmt.Sprintf("number of video outputs (1-%d)", vhsim.MaxPorts))
	fs.StringVar(&o.Model, "model", "", `model name (default "Blackmagic Smart Videohub <inputs> x <outputs>")`)
	fs.StringVar(&o.FriendlyName, "name", vhsim.DefaultFriendlyName, "friendly name")
	fs.StringVar(&o.UniqueID, "unique-id", vhsim.DefaultUniqueID, "unique ID")
	fs.StringVar(&o.Version, "protocol-version", vhsim.DefaultVersion, "protocol version in the preamble")
	fs.Var(&o.Faults.LockedRoute, "locked-route", "reply to routing an output locked by another IP: `nak|ack` (default nak; ack = ACK without change)")
	fs.Var(&o.Faults.Routing, "routing", "multi-line routing with bad or locked lines: `partial|atomic` (default partial)")
	fs.BoolVar(&o.Faults.NoEndPrelude, "no-end-prelude", false, "leave END PRELUDE out of the prelude (pre-2.8 firmware)")
	fs.IntVar(&o.Faults.WriteChunk, "write-chunk", 0, "split every write into chunks of at most N bytes (1: one byte per write; 0: whole)")
	fs.BoolVar(&o.Faults.RandomChunks, "random-chunks", false, "split writes at random sizes up to -write-chunk (or 64)")
	fs.DurationVar(&o.Faults.AckDelay, "ack-delay", 0, "delay every reply by this long")
	fs.Uint64Var(&o.Seed, "seed", 0, "seed for -random-chunks")
	control := fs.Bool("control", false, "read control commands from stdin (blackhole, reset, reattach, route, ...; type 'help')")
	level := fs.String("log-level", "info", "log level: trace, debug, info, warn or error")
	if err := fs.Parse(args[1:]); err != nil {
		return parseExit(err)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "standby sim videohub: unexpected arguments %q\n", fs.Args())
		return 2
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintf(os.Stderr, "standby sim videohub: %v\n", err)
		return 2
	}
	o.Logger = log
	if *control {
		o.Control, o.ControlOut = os.Stdin, os.Stdout
	}
	if err := vhsim.Run(ctx, o); err != nil {
		fmt.Fprintf(os.Stderr, "standby sim videohub: %v\n", err)
		return 1
	}
	return 0
}
