package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/conf"
	vh "standby/protocol/videohub"
)

// CLIOptions are the `standby router` command's options.
type CLIOptions struct {
	Address string
	// Command is status, route, lock, unlock, force-unlock or watch; Args its operands.
	Command string
	Args    []string
	Out     io.Writer
	Log     zerolog.Logger
	Timeout time.Duration
}

// RunCLI runs one `standby router` command through the same router actor the supervisor uses.
func RunCLI(ctx context.Context, o CLIOptions) error {
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	need := map[string]int{"status": 0, "watch": 0, "route": 2, "lock": 1, "unlock": 1, "force-unlock": 1}
	n, ok := need[o.Command]
	if !ok {
		return fmt.Errorf("unknown command %q: use status, route OUT IN, lock OUT, unlock OUT, force-unlock OUT or watch", o.Command)
	}
	if len(o.Args) != n {
		return fmt.Errorf("%s takes %d argument(s), got %d", o.Command, n, len(o.Args))
	}
	ports := make([]conf.Port, len(o.Args))
	for i, a := range o.Args {
		p, err := parsePort(a)
		if err != nil {
			return err
		}
		ports[i] = p
	}
	addr := o.Address
	if !strings.Contains(addr, ":") {
		addr += ":9990"
	}

	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	events := make(chan any, 256)
	sys.EventStream.Subscribe(func(evt interface{}) {
		switch evt.(type) {
		case *Status, *Change:
			select {
			case events <- evt:
			default:
			}
		}
	})
	rc := conf.Router{Name: addr, Kind: "videohub", Address: addr, PingInterval: conf.D(time.Second), ConfirmTimeout: conf.D(time.Second)}
	pid := sys.Root.Spawn(VideohubProps(VideohubOptions{Router: rc, Log: o.Log}))
	defer func() { _ = sys.Root.StopFuture(pid).Wait() }()

	// Wait for the router's state (or give up with the reason it is not there).
	deadline := time.After(o.Timeout)
	var last *Status
	for last == nil || last.Conn != Connected {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline:
			reason := "no answer"
			if last != nil {
				reason = last.Detail
			}
			return fmt.Errorf("router %s not reachable: %s", addr, reason)
		case e := <-events:
			if s, ok := e.(*Status); ok {
				last = s
			}
		}
	}
	snapshot := func() (*Snapshot, error) {
		res, err := sys.Root.RequestFuture(pid, &GetMirror{}, o.Timeout).Result()
		if err != nil {
			return nil, err
		}
		return res.(*Snapshot), nil
	}

	switch o.Command {
	case "status":
		s, err := snapshot()
		if err != nil {
			return err
		}
		printStatus(o.Out, s)
	case "route":
		res, err := sys.Root.RequestFuture(pid, &Switch{Pool: "cli", Epoch: 1, Sent: time.Now(),
			Crosspoints: []Crosspoint{{Output: ports[0], Input: ports[1]}}}, o.Timeout).Result()
		if err != nil {
			return err
		}
		r := res.(*Result)
		if !r.OK {
			return fmt.Errorf("%w: output %s ← input %s: %s: %s", ErrRefused, ports[0], ports[1], r.Reason, r.Detail)
		}
		fmt.Fprintf(o.Out, "output %s ← input %s: confirmed by the router in %s\n", ports[0], ports[1], Millis(r.Latency))
	case "lock", "unlock", "force-unlock":
		state := map[string]vh.LockState{"lock": vh.LockOwned, "unlock": vh.LockUnlocked, "force-unlock": vh.LockForce}[o.Command]
		res, err := sys.Root.RequestFuture(pid, &SetLock{Output: ports[0], State: state}, o.Timeout).Result()
		if err != nil {
			return err
		}
		r := res.(*Result)
		if !r.OK {
			return fmt.Errorf("%s output %s refused: %s %s", o.Command, ports[0], r.Reason, r.Detail)
		}
		fmt.Fprintf(o.Out, "%s output %s: ACK\n", o.Command, ports[0])
	case "watch":
		s, err := snapshot()
		if err != nil {
			return err
		}
		printStatus(o.Out, s)
		for {
			select {
			case <-ctx.Done():
				return nil
			case e := <-events:
				switch e := e.(type) {
				case *Status:
					fmt.Fprintf(o.Out, "%s router %s: %s\n", time.Now().Format("15:04:05.000"), e.Conn, e.Detail)
				case *Change:
					printChange(o.Out, e)
				}
			}
		}
	}
	return nil
}

// ErrRefused wraps a refused route so the command exits non-zero with the reason.
var ErrRefused = errors.New("route refused")

func parsePort(s string) (conf.Port, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > conf.MaxPort {
			return conf.Port{}, fmt.Errorf("port %d out of range 1..%d (ports are numbered from 1, as on the router's panel)", n, conf.MaxPort)
		}
		return conf.N(n), nil
	}
	if strings.TrimSpace(s) == "" {
		return conf.Port{}, errors.New("empty port: give a number from 1 or a label")
	}
	return conf.Port{Label: s}, nil
}

func printStatus(w io.Writer, s *Snapshot) {
	d := s.Mirror.Device
	fmt.Fprintf(w, "%s %q (%s), %d inputs × %d outputs\n", d.ModelName, d.FriendlyName, d.UniqueID, d.VideoInputs, d.VideoOutputs)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPUT\tLABEL\tINPUT\tLABEL\tLOCK")
	for out := 0; out < d.VideoOutputs; out++ {
		in, ok := s.Mirror.Routing[out]
		inNum, inLabel := "-", ""
		if ok {
			inNum, inLabel = strconv.Itoa(in+1), s.Mirror.InputLabels[in]
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", out+1, s.Mirror.OutputLabels[out], inNum, inLabel, lockWord(s.Mirror.Locks[out]))
	}
	tw.Flush()
}

func lockWord(l vh.LockState) string {
	switch l {
	case vh.LockOwned:
		return "locked by us"
	case vh.LockLocked:
		return "LOCKED by another client"
	}
	return "unlocked"
}

func printChange(w io.Writer, c *Change) {
	ts := time.Now().Format("15:04:05.000")
	m := c.Mirror
	switch c.Block.Kind {
	case vh.KindVideoOutputRouting:
		routes := append([]vh.Route(nil), c.Block.Routes...)
		sort.Slice(routes, func(i, j int) bool { return routes[i].Dest < routes[j].Dest })
		for _, r := range routes {
			fmt.Fprintf(w, "%s route  output %s ← input %s\n", ts, m.OutputName(r.Dest), m.InputName(r.Source))
		}
	case vh.KindVideoOutputLocks:
		for _, l := range c.Block.Locks {
			fmt.Fprintf(w, "%s lock   output %s: %s\n", ts, m.OutputName(l.Index), lockWord(l.State))
		}
	case vh.KindInputLabels, vh.KindOutputLabels:
		what := "input"
		if c.Block.Kind == vh.KindOutputLabels {
			what = "output"
		}
		for _, l := range c.Block.Labels {
			fmt.Fprintf(w, "%s label  %s %d: %q\n", ts, what, l.Index+1, l.Text)
		}
	}
}
