package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/proto"

	"standby/actors/control"
	"standby/actors/node"
	"standby/protocol/identity"
	"standby/protocol/pb"
)

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func init() {
	register("ctl", "control a running supervisor: status, switch, mode, failback, ack, simulate, watch", cmdCtl)
}

const ctlUsage = `usage: standby ctl [--supervisor HOST:PORT] [--token T] [--json] COMMAND

commands:
  status                                  pairs, machines, routers
  switch PAIR main|backup                 put a machine on air (answered once the router confirmed)
  switch POOL MAIN BACKUP|any|main        Move To: put a backup (or the main again) on air for MAIN
  mode PAIR manual|automatic              failover mode
  failback PAIR manual|automatic          failback policy
  ack PAIR ALARM                          acknowledge an alarm (e.g. flap_guard)
  ack POOL [MAIN] ALARM                   the same for a pool's main (every main without MAIN)
  ack machine MACHINE ALARM               a machine's own alarm (duplicate_agent: adopts the newer agent)
  set-pool POOL MAINS BACKUPS [ROLES]     create or change a pool (comma lists; level 3)
  remove-pool POOL                        dissolve a pool (level 3)
  make-primary                            make this supervisor the active one of its pair (level 3)
  reload [--force]                        read the config file again, like SIGHUP (level 3); a file that
                                          removes every pair or more than half is refused without --force
  resync                                  Resync now: send (active) or fetch (standby) the whole state again (level 2)
  action test NAME                        run an [[action]] once with a sample event (level 3)
  simulate MACHINE service NAME up|down   fail a simulated machine's service ...
  simulate MACHINE health NAME VALUE      ... set one of its health values ...
  simulate MACHINE silent on|off          ... or stop its heartbeats
  watch                                   stream events until Ctrl-C

A supervisor with [tls] answers only clients with a certificate of its studio CA:
  standby ctl --tls-dir DIR --as NAME status     (DIR/ca.crt, DIR/NAME.crt, DIR/NAME.key)

The token may also come from $STANDBY_TOKEN (keeps it out of the process list).
Exit status: 0 done, 1 refused or failed (the reason on stderr), 2 usage.

flags:`

func cmdCtl(ctx context.Context, args []string) int {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(os.Stderr, ctlUsage); fs.PrintDefaults() }
	addr := fs.String("supervisor", "127.0.0.1:7400", "the supervisor's remote endpoint ([supervisor] listen/advertise)")
	token := fs.String("token", os.Getenv("STANDBY_TOKEN"), "operator token ([[operator]] token)")
	asJSON := fs.Bool("json", false, "print JSON (the HTTP API's shapes) instead of tables")
	timeout := fs.Duration("timeout", 15*time.Second, "how long to wait for an answer")
	listen := fs.String("listen", "", "this client's own remote endpoint, which the supervisor dials to answer (default: the local address that routes to the supervisor, port 0)")
	level := fs.String("log-level", "warn", "log level: trace, debug, info, warn, error")
	tlsDir := fs.String("tls-dir", os.Getenv("STANDBY_TLS_DIR"), "directory with ca.crt and NAME.crt/NAME.key (standby certs); a supervisor with [tls] requires it (also $STANDBY_TLS_DIR)")
	as := fs.String("as", envOr("STANDBY_AS", "operator"), "with --tls-dir: whose certificate to use, NAME of NAME.crt (also $STANDBY_AS)")
	caFile := fs.String("ca", "", "the studio CA certificate (instead of --tls-dir)")
	certFile := fs.String("cert", "", "this client's certificate (instead of --tls-dir)")
	keyFile := fs.String("key", "", "this client's key (instead of --tls-dir)")
	force := fs.Bool("force", false, "reload: apply a config file that removes every pair or more than half of them")
	// Flags may come before, between or after the words.
	var words []string
	for rest := args; ; {
		if err := fs.Parse(rest); err != nil {
			return parseExit(err)
		}
		rest = fs.Args()
		if len(rest) == 0 {
			break
		}
		words, rest = append(words, rest[0]), rest[1:]
	}
	if len(words) > 0 && isHelp(words[0]) {
		fs.Usage()
		return 0
	}
	req, err := ctlRequest(words)
	if err == nil && *force {
		if req.GetReload() == nil {
			err = errors.New("--force goes with reload only")
		} else {
			req.GetReload().Force = true
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "standby ctl: %v\n\n", err)
		fs.Usage()
		return 2
	}
	log, err := newLogger(*level)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby ctl:", err)
		return 2
	}
	if *listen == "" {
		host := node.RouteIPv4(*addr)
		if host == "" {
			host = "127.0.0.1"
		}
		*listen = net.JoinHostPort(host, "0")
	}
	// protoactor's own lines (a closing connection at exit is an "error" to it) only when debugging.
	lib := zerolog.FatalLevel
	if *level == "debug" || *level == "trace" {
		lib = zerolog.TraceLevel
	}
	files := identity.Files{CA: *caFile, Cert: *certFile, Key: *keyFile}
	if *tlsDir != "" {
		crt, key := identity.CertFiles(*tlsDir, *as)
		files = identity.Files{CA: filepath.Join(*tlsDir, identity.CAFile), Cert: crt, Key: key}
	}
	var creds *identity.Credentials
	if files != (identity.Files{}) {
		if creds, err = identity.Load(files, time.Now()); err != nil {
			fmt.Fprintln(os.Stderr, "standby ctl:", err)
			return 2
		}
	}
	// The supervisor's answers and events are believed only from a supervisor's certificate.
	n, err := node.Start(node.Options{Listen: *listen, Logger: log, LibLevel: lib, TLS: creds, Dials: []identity.Role{identity.RoleSupervisor}})
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby ctl:", err)
		return 1
	}
	hint := func(err error) error {
		if creds == nil && (errors.Is(err, actor.ErrTimeout) || errors.Is(err, actor.ErrDeadLetter)) {
			return fmt.Errorf("%w (a supervisor with [tls] accepts only clients with a certificate: pass --tls-dir DIR --as NAME)", err)
		}
		return err
	}
	defer n.Stop()
	var tlsConf *tls.Config
	if creds != nil {
		tlsConf = creds.ClientConfig(identity.RoleSupervisor)
	}
	if err := control.Probe(ctx, *addr, tlsConf, control.ProbeTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "standby ctl:", err)
		return 1
	}
	client := control.NewClient(n.System, *addr, *token, *timeout)

	if req == nil { // watch
		err := client.Watch(ctx, func(e *pb.ControlEvent) {
			if *asJSON {
				printJSON(os.Stdout, e)
				return
			}
			fmt.Println(control.FormatEvent(e))
		})
		if err != nil {
			fmt.Fprintln(os.Stderr, "standby ctl watch:", hint(err))
			return 1
		}
		return 0
	}
	reply, err := client.Do(req)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby ctl:", hint(err))
		return 1
	}
	switch {
	case *asJSON:
		printJSON(os.Stdout, reply)
	case reply.GetOk() && reply.GetStatus() != nil:
		if err := control.WriteStatus(os.Stdout, reply.GetStatus()); err != nil {
			fmt.Fprintln(os.Stderr, "standby ctl:", err)
			return 1
		}
	case reply.GetOk():
		fmt.Println(reply.GetReason())
		for _, w := range reply.GetWarnings() {
			fmt.Println("warning:", w)
		}
	}
	if !reply.GetOk() {
		fmt.Fprintf(os.Stderr, "standby ctl: refused (%s): %s\n", control.CodeName(reply.GetCode()), reply.GetReason())
		for _, e := range reply.GetErrors() {
			fmt.Fprintln(os.Stderr, "  "+e)
		}
		return 1
	}
	return 0
}

// ctlRequest builds the request the words ask for; nil for watch.
func ctlRequest(w []string) (*pb.ControlRequest, error) {
	need := func(n int, form string) error {
		if len(w) != n {
			return fmt.Errorf("usage: standby ctl %s", form)
		}
		return nil
	}
	if len(w) == 0 {
		return nil, errors.New("no command")
	}
	switch w[0] {
	case "status":
		if err := need(1, "status"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Status{Status: &pb.ControlRequest_StatusOp{}}}, nil
	case "watch":
		return nil, need(1, "watch")
	case "switch":
		// switch PAIR main|backup, or switch POOL MAIN BACKUP|any|main ("Move To").
		if len(w) == 4 {
			return &pb.ControlRequest{Op: &pb.ControlRequest_Switch{Switch: &pb.ControlRequest_SwitchOp{Pair: w[1], Main: w[2], To: w[3]}}}, nil
		}
		if err := need(3, "switch PAIR main|backup, or switch POOL MAIN BACKUP|any|main"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Switch{Switch: &pb.ControlRequest_SwitchOp{Pair: w[1], To: w[2]}}}, nil
	case "mode":
		if err := need(3, "mode PAIR manual|automatic"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetMode{SetMode: &pb.ControlRequest_SetModeOp{Pair: w[1], Mode: w[2]}}}, nil
	case "failback":
		if err := need(3, "failback PAIR manual|automatic"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetFailback{SetFailback: &pb.ControlRequest_SetFailbackOp{Pair: w[1], Failback: w[2]}}}, nil
	case "ack":
		// ack PAIR ALARM, ack POOL MAIN ALARM, or ack machine MACHINE ALARM.
		if len(w) == 4 && w[1] == "machine" {
			return &pb.ControlRequest{Op: &pb.ControlRequest_Acknowledge{Acknowledge: &pb.ControlRequest_AcknowledgeOp{Machine: w[2], Alarm: w[3]}}}, nil
		}
		if len(w) == 4 {
			return &pb.ControlRequest{Op: &pb.ControlRequest_Acknowledge{Acknowledge: &pb.ControlRequest_AcknowledgeOp{Pair: w[1], Main: w[2], Alarm: w[3]}}}, nil
		}
		if err := need(3, "ack PAIR ALARM, or ack POOL MAIN ALARM"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Acknowledge{Acknowledge: &pb.ControlRequest_AcknowledgeOp{Pair: w[1], Alarm: w[2]}}}, nil
	case "set-pool":
		if len(w) != 4 && len(w) != 5 {
			return nil, errors.New("usage: standby ctl set-pool POOL MAIN,MAIN,... BACKUP,... [ROLE,...]")
		}
		op := &pb.ControlRequest_SetPoolOp{Pool: w[1], Mains: strings.Split(w[2], ","), Backups: strings.Split(w[3], ",")}
		if len(w) == 5 {
			op.Roles = strings.Split(w[4], ",")
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_SetPool{SetPool: op}}, nil
	case "make-primary":
		return &pb.ControlRequest{Op: &pb.ControlRequest_MakePrimary{MakePrimary: &pb.ControlRequest_MakePrimaryOp{}}}, nil
	case "reload":
		if err := need(1, "reload [--force]"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_Reload{Reload: &pb.ControlRequest_ReloadOp{}}}, nil
	case "resync":
		return &pb.ControlRequest{Op: &pb.ControlRequest_Resync{Resync: &pb.ControlRequest_ResyncOp{}}}, nil
	case "remove-pool":
		if err := need(2, "remove-pool POOL"); err != nil {
			return nil, err
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_RemovePool{RemovePool: &pb.ControlRequest_RemovePoolOp{Pool: w[1]}}}, nil
	case "simulate":
		return simulateRequest(w)
	case "action":
		if len(w) != 3 || w[1] != "test" {
			return nil, errors.New("usage: standby ctl action test NAME")
		}
		return &pb.ControlRequest{Op: &pb.ControlRequest_TestAction{TestAction: &pb.ControlRequest_TestActionOp{Action: w[2]}}}, nil
	}
	return nil, fmt.Errorf("unknown command %q", w[0])
}

func simulateRequest(w []string) (*pb.ControlRequest, error) {
	form := errors.New("usage: standby ctl simulate MACHINE service NAME up|down | health NAME VALUE | silent on|off")
	if len(w) < 4 {
		return nil, form
	}
	op := &pb.ControlRequest_SimulateOp{Machine: w[1]}
	switch {
	case w[2] == "service" && len(w) == 5 && (w[4] == "up" || w[4] == "down"):
		op.Service, op.Up = w[3], w[4] == "up"
	case w[2] == "health" && len(w) == 5:
		v, err := strconv.ParseFloat(w[4], 64)
		if err != nil {
			return nil, fmt.Errorf("health value %q is not a number", w[4])
		}
		op.Health, op.Value = w[3], v
	case w[2] == "silent" && len(w) == 4:
		op.Silent = w[3]
	default:
		return nil, form
	}
	return &pb.ControlRequest{Op: &pb.ControlRequest_Simulate{Simulate: op}}, nil
}

func printJSON(w io.Writer, m proto.Message) {
	b, err := control.JSON(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, "standby ctl:", err)
		return
	}
	fmt.Fprintln(w, string(b))
}
