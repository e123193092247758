// Command standby is the failover supervisor for main/backup machine pairs behind a video router.
//
// Each subcommand lives in its own file and registers itself in init; main only dispatches.
// Subcommands parse flags into options and call Run(ctx, opts) in a package tests can embed.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

type command struct {
	summary string
	run     func(ctx context.Context, args []string) int
}

var commands = map[string]command{}

// register adds a subcommand; called from init in each subcommand's file.
func register(name, summary string, run func(ctx context.Context, args []string) int) {
	commands[name] = command{summary: summary, run: run}
}

func main() { os.Exit(run(os.Args[1:])) }

func run(args []string) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage()
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(os.Stderr, "standby: unknown command %q\n\n", args[0])
		usage()
		return 2
	}
	// SIGINT/SIGTERM cancel the context; subcommands that reload on SIGHUP install their own handler.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return cmd.run(ctx, args[1:])
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: standby <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(os.Stderr, "\nrun 'standby <command> -h' for a command's flags")
}

// parseExit is the exit status after a failed fs.Parse: 0 when -h/--help asked for the usage
// (flag has printed it), 2 for a bad flag.
func parseExit(err error) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	return 2
}

// isHelp tells whether a subcommand's first word asks for its usage.
func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

// configFile is the supervisor config a run or check names: --config FILE or one positional
// FILE (not both, not more). "" means the embedded demo studio, chosen only by naming nothing.
func configFile(flagValue string, args []string) (string, error) {
	switch {
	case len(args) > 1:
		return "", fmt.Errorf("one config file at most, got %d arguments: %q", len(args), args)
	case len(args) == 1 && flagValue != "" && args[0] != flagValue:
		return "", fmt.Errorf("two config files: --config %s and %s", flagValue, args[0])
	case len(args) == 1:
		return args[0], nil
	}
	return flagValue, nil
}

// parseInterspersed parses flags before, between and after positional arguments (flag stops
// at the first one), leaving the positional ones in fs.Args().
func parseInterspersed(fs *flag.FlagSet, args []string) error {
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		words, rest = append(words, rest[0]), rest[1:]
	}
	return fs.Parse(append([]string{"--"}, words...))
}
