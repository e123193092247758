package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"standby/actors/control"
	"standby/actors/failover"
	"standby/actors/supervisor"
	"standby/conf"
)

// ServeSupervisor runs a supervisor like `standby run --config` (with the control surfaces) and,
// besides, executes control commands read from in, one per line, answering each on out. It is `standby bench supervisor`,
// the supervisor process of ModeSimulated: the bench drives the supervisor's simulated machines
// and operator switches through this pipe.
//
// A command is "<id> <verb> <args>"; the answer is "<id> ok" or "<id> error <message>":
//
//	<id> service MACHINE SERVICE up|down
//	<id> health MACHINE NAME VALUE
//	<id> silent MACHINE on|off
//	<id> switch PAIR main|backup
//	<id> ping
func ServeSupervisor(ctx context.Context, cfg *conf.Config, in io.Reader, out io.Writer, log zerolog.Logger) error {
	var mu sync.Mutex // out
	reply := func(id, err string) {
		mu.Lock()
		defer mu.Unlock()
		if err == "" {
			fmt.Fprintf(out, "%s ok\n", id)
		} else {
			fmt.Fprintf(out, "%s error %s\n", id, strings.ReplaceAll(err, "\n", " "))
		}
	}
	surfaces := control.Attach(control.Options{Logger: log})
	onStart := func(s *supervisor.Supervisor) (func(), error) {
		stop, err := surfaces(s)
		if err != nil {
			return nil, err
		}
		go func() {
			sc := bufio.NewScanner(in)
			for sc.Scan() {
				f := strings.Fields(sc.Text())
				if len(f) < 2 {
					continue
				}
				err := command(s, f[1:])
				msg := ""
				if err != nil {
					msg = err.Error()
				}
				reply(f[0], msg)
			}
		}()
		return stop, nil
	}
	return supervisor.Run(ctx, supervisor.Options{Config: cfg, Logger: log, OnStart: onStart}, nil)
}

func command(s *supervisor.Supervisor, f []string) error {
	arg := func(i int) string {
		if i < len(f) {
			return f[i]
		}
		return ""
	}
	switch f[0] {
	case "ping":
		return nil
	case "service":
		return s.SimulateService(arg(1), arg(2), arg(3) == "up")
	case "health":
		v, err := strconv.ParseFloat(arg(3), 64)
		if err != nil {
			return fmt.Errorf("health: %q is not a number", arg(3))
		}
		return s.SimulateHealth(arg(1), arg(2), v)
	case "silent":
		return s.SimulateSilence(arg(1), arg(2) == "on")
	case "switch":
		p := s.Config().Pair(arg(1))
		if p == nil {
			return fmt.Errorf("switch: unknown pair %q", arg(1))
		}
		to := p.Main
		if arg(2) == "backup" {
			to = p.Backup
		}
		return s.Command(arg(1), failover.Switch{To: to, By: "bench"})
	}
	return fmt.Errorf("unknown command %q", f[0])
}

// ctlPipe is the bench's end of ServeSupervisor's pipe.
type ctlPipe struct {
	c       *child
	mu      sync.Mutex
	next    int
	waiting map[string]chan string
}

func newCtlPipe() *ctlPipe { return &ctlPipe{waiting: map[string]chan string{}} }

// line takes one line of the child's stdout.
func (p *ctlPipe) line(s string) {
	id, rest, _ := strings.Cut(s, " ")
	p.mu.Lock()
	ch := p.waiting[id]
	delete(p.waiting, id)
	p.mu.Unlock()
	if ch != nil {
		ch <- rest
	}
}

// do sends a command and waits (at most 5 s) for its answer. at is when it was written.
func (p *ctlPipe) do(ctx context.Context, cmd string) (at time.Time, err error) {
	p.mu.Lock()
	p.next++
	id := strconv.Itoa(p.next)
	ch := make(chan string, 1)
	p.waiting[id] = ch
	p.mu.Unlock()
	at = time.Now()
	if err := p.c.send(id + " " + cmd); err != nil {
		return at, err
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	select {
	case ans := <-ch:
		if ans == "ok" {
			return at, nil
		}
		return at, fmt.Errorf("supervisor control %q: %s", cmd, strings.TrimPrefix(ans, "error "))
	case <-ctx.Done():
		p.mu.Lock()
		delete(p.waiting, id)
		p.mu.Unlock()
		return at, fmt.Errorf("supervisor control %q: no answer: %w", cmd, ctx.Err())
	}
}
