package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"standby/protocol/identity"
)

func init() {
	register("certs", "studio CA and certificates for mutual TLS: init, issue, show", cmdCerts)
}

const certsUsage = `usage:
  standby certs init  --dir DIR [--studio NAME]       create a studio CA: DIR/ca.crt, DIR/ca.key
  standby certs issue --dir DIR --supervisor NAME     a supervisor's certificate: DIR/NAME.crt, DIR/NAME.key
  standby certs issue --dir DIR --agent MACHINE[,MACHINE...]
                                                      an agent's, bound to its machine name(s); a name
                                                      ending in * covers a prefix (a host of many agents)
  standby certs issue --dir DIR --operator NAME       an operator's client (standby ctl --tls-dir DIR --as NAME)
  standby certs show FILE                             what a certificate says: role, names, validity

Copy ca.crt and the holder's NAME.crt and NAME.key to each machine and name them in its [tls]
table (ca, cert, key). Keep ca.key off the studio network.

flags:`

func cmdCerts(_ context.Context, args []string) int {
	if len(args) == 0 || isHelp(args[0]) {
		fmt.Fprintln(os.Stderr, certsUsage)
		if len(args) > 0 {
			return 0
		}
		return 2
	}
	sub, args := args[0], args[1:]
	fs := flag.NewFlagSet("certs "+sub, flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(os.Stderr, certsUsage); fs.PrintDefaults() }
	dir := fs.String("dir", "", "the CA's directory")
	studio := fs.String("studio", "studio", "init: the studio's name, put in the CA's subject")
	sup := fs.String("supervisor", "", "issue: a supervisor's name")
	agent := fs.String("agent", "", "issue: the machine name(s) of an agent, comma-separated")
	op := fs.String("operator", "", "issue: an operator's name")
	days := fs.Int("days", int(identity.CertValidity.Hours()/24), "issue: validity in days")
	force := fs.Bool("force", false, "issue: replace an existing certificate of that name")
	if err := fs.Parse(args); err != nil {
		return parseExit(err)
	}
	now := time.Now()
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "standby certs "+sub+":", err)
		return 1
	}
	switch sub {
	case "init":
		if *dir == "" {
			return usageErr(fs, "init needs --dir")
		}
		if err := identity.Init(*dir, *studio, now); err != nil {
			return fail(err)
		}
		fmt.Printf("studio CA created: %s/%s (give it to every machine), %s/%s (keep it safe)\n", *dir, identity.CAFile, *dir, identity.CAKeyFile)
	case "issue":
		if *dir == "" {
			return usageErr(fs, "issue needs --dir")
		}
		var o identity.IssueOptions
		n := 0
		for _, c := range []struct {
			v    string
			role identity.Role
		}{{*sup, identity.RoleSupervisor}, {*agent, identity.RoleAgent}, {*op, identity.RoleOperator}} {
			if c.v != "" {
				n++
				o.Role, o.Names = c.role, strings.Split(c.v, ",")
			}
		}
		if n != 1 {
			return usageErr(fs, "issue needs exactly one of --supervisor, --agent, --operator")
		}
		if *days < 1 {
			return usageErr(fs, "--days must be at least 1")
		}
		o.Validity, o.Overwrite = time.Duration(*days)*24*time.Hour, *force
		crt, key, err := identity.Issue(*dir, o, now)
		if err != nil {
			return fail(err)
		}
		fmt.Printf("%s: %s, %s\n", identity.Identity{Role: o.Role, Names: o.Names}, crt, key)
	case "show":
		if fs.NArg() != 1 {
			return usageErr(fs, "show needs one certificate file")
		}
		c, err := identity.ReadCert(fs.Arg(0))
		if err != nil {
			return fail(err)
		}
		fmt.Print(identity.Describe(c, now))
	default:
		return usageErr(fs, fmt.Sprintf("unknown subcommand %q", sub))
	}
	return 0
}

func usageErr(fs *flag.FlagSet, msg string) int {
	fmt.Fprintln(os.Stderr, "standby certs:", msg)
	fmt.Fprintln(os.Stderr)
	fs.Usage()
	return 2
}
