package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"standby/conf"
	"standby/protocol/identity"
)

func init() {
	register("check", "validate a config file and summarise it", cmdCheck)
}

func cmdCheck(_ context.Context, args []string) int { return checkMain(os.Stdout, os.Stderr, args) }

// checkMain is `standby check` on args.
func checkMain(stdout, stderr io.Writer, args []string) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: standby check [--config] [FILE] | --agent FILE\n\n"+
			"Validates a supervisor's config FILE (the embedded demo studio when none is named), or an agent's.\n\nflags:")
		fs.PrintDefaults()
	}
	flagPath := fs.String("config", "", "config file (TOML), also as the one positional argument; without either the embedded demo studio is checked")
	agent := fs.String("agent", "", "an agent's config file (TOML) to check instead")
	if err := parseInterspersed(fs, args); err != nil {
		return parseExit(err)
	}
	if *agent != "" {
		if fs.NArg() > 0 || *flagPath != "" {
			fmt.Fprintf(stderr, "standby check: --agent %s checks one agent config, not a supervisor's too\n", *agent)
			return 2
		}
		return checkAgent(stdout, stderr, *agent)
	}
	path, err := configFile(*flagPath, fs.Args())
	if err != nil {
		fmt.Fprintln(stderr, "standby check:", err)
		return 2
	}
	return check(stdout, stderr, path)
}

// printErrors writes a config's errors, each with its key path.
func printErrors(stderr io.Writer, name string, err error) {
	var list conf.Errors
	if errors.As(err, &list) {
		fmt.Fprintf(stderr, "%s: %d error(s):\n", name, len(list))
		for _, e := range list {
			fmt.Fprintf(stderr, "  %v\n", e)
		}
		return
	}
	fmt.Fprintf(stderr, "%s: %v\n", name, err)
}

// checkAgent validates an agent's config as `standby agent` loads it, and summarises it.
func checkAgent(stdout, stderr io.Writer, path string) int {
	a, err := conf.LoadAgent(path)
	if err != nil {
		printErrors(stderr, path, err)
		return 1
	}
	links := "links: plaintext (no [tls])"
	if a.TLS.Enabled() {
		links = "links: mutual TLS, certificate " + a.TLS.Cert
	}
	fmt.Fprintf(stdout, "%s: ok\nagent %q: reports to %s every %s, %d service(s), %d health value(s); %s\n", path, a.Name,
		strings.Join(a.Supervisors, ", "), a.HeartbeatInterval.Duration, len(a.Services), len(a.Health), links)
	return 0
}

func check(stdout, stderr io.Writer, path string) int {
	cfg, _, err := loadConfig(path)
	if err != nil {
		printErrors(stderr, configName(path), err)
		return 1
	}
	links := ""
	if t := cfg.TLS; t.Enabled() && !t.Generate {
		// The files are read at start; a missing or expired certificate is found now, not then.
		creds, err := identity.Load(t.Files(), time.Now())
		if err == nil && creds.Self.Role != identity.RoleSupervisor {
			err = fmt.Errorf("tls cert %s is a certificate of %s, not of a supervisor", t.Cert, creds.Self)
		}
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", configName(path), err)
			return 1
		}
		links = fmt.Sprintf("links: mutual TLS as %s, certificate valid until %s\n", creds.Self, creds.NotAfter.UTC().Format(time.DateOnly))
	} else if t.Generate {
		links = fmt.Sprintf("links: mutual TLS with a CA generated in %s (demo)\n", conf.GeneratedDir(cfg.Supervisor.StateDir))
	}
	fmt.Fprint(stdout, Summary(cfg, configName(path))+links)
	for _, w := range cfg.Warnings() {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	return 0
}

// Summary describes a valid config in a few lines.
func Summary(cfg *conf.Config, name string) string {
	var b strings.Builder
	s := cfg.Supervisor
	fmt.Fprintf(&b, "%s: ok\n", name)
	fmt.Fprintf(&b, "supervisor %q: remote %s, http %s, heartbeat timeout %s\n", s.Name, s.Listen, s.HTTP, s.HeartbeatTimeout.Duration)
	for _, r := range cfg.Routers {
		sim := ""
		if r.Simulate {
			sim = fmt.Sprintf(" (simulated %dx%d)", r.Inputs, r.Outputs)
		}
		fmt.Fprintf(&b, "router %q: %s at %s%s\n", r.Name, r.Kind, r.Address, sim)
	}
	fmt.Fprintf(&b, "%d machine(s)\n", len(cfg.Machines))
	for _, p := range cfg.Pairs {
		outs := 0
		for _, f := range p.Feeds {
			outs += len(f.Outputs)
		}
		crit := ""
		if p.SwitchOnCritical {
			crit = ", switch on critical"
		}
		fmt.Fprintf(&b, "pair %q: %s → %s via %q, %d feed(s) to %d output(s), %s%s, failback %s\n",
			p.Name, p.Main, p.Backup, p.Router, len(p.Feeds), outs, p.Mode, crit, p.Failback)
	}
	for _, p := range cfg.Pools {
		crit := ""
		if p.SwitchOnCritical {
			crit = ", switch on critical"
		}
		roles := "every role"
		if len(p.Roles) > 0 {
			roles = "roles " + strings.Join(p.Roles, ", ")
		}
		fmt.Fprintf(&b, "pool %q: mains %s covered by %s via %q (%s), %s%s, failback %s\n",
			p.Name, strings.Join(p.Mains, ", "), strings.Join(p.Backups, ", "), p.Router, roles, p.Mode, crit, p.Failback)
	}
	for _, a := range cfg.Actions {
		scope := ""
		if len(a.Pairs) > 0 {
			scope = " of " + strings.Join(a.Pairs, ", ")
		}
		fmt.Fprintf(&b, "action %q: %s on %s%s, timeout %s, concurrency %d, queue %d\n",
			a.Name, a.Kind, strings.Join(a.On, ", "), scope, a.Timeout.Duration, a.Concurrency, a.Queue)
	}
	return b.String()
}
