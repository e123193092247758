package agent

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/conf"
	"standby/protocol/pb"
)

// maxCommandsRunning bounds the [[command]] runs in flight on one agent; more are refused.
const maxCommandsRunning = 4

// maxCommandFields bounds the event fields of one request.
const maxCommandFields = 16

// commandDone is a command run's end, from its goroutine.
type commandDone struct{}

// handleCommand answers a CommandRequest: a refusal at once (wrong token or machine, a name the
// config does not declare, too many running), or the result once the declared program ended.
// The program runs on a goroutine of its own: the agent keeps reporting meanwhile.
func (a *agentActor) handleCommand(ctx actor.Context, m *pb.CommandRequest) {
	sender := ctx.Sender()
	refuse := func(format string, args ...any) {
		reason := truncate(fmt.Sprintf(format, args...), pb.MaxReasonLen)
		if ok, skipped := a.throttle.Allow("command|" + reason); ok {
			a.log.Warn().Str("command", truncate(m.Command, pb.MaxNameLen)).Str("action", truncate(m.Action, pb.MaxNameLen)).
				Str("reason", reason).Int("suppressed", skipped).Msg("refused command")
		}
		if sender != nil {
			ctx.Send(sender, &pb.CommandResult{Machine: a.machine, RunId: m.RunId, ExitCode: -1, Reason: reason})
		}
	}
	switch {
	case subtle.ConstantTimeCompare([]byte(m.Token), []byte(a.token)) != 1:
		refuse("wrong token")
		return
	case m.Machine != a.machine:
		refuse("this is the agent of %q, not of %q", a.machine, truncate(m.Machine, pb.MaxNameLen))
		return
	case len(m.Fields) > maxCommandFields:
		refuse("%d fields; at most %d", len(m.Fields), maxCommandFields)
		return
	}
	c := a.commands[m.Command]
	if c == nil {
		names := make([]string, 0, len(a.commands))
		for n := range a.commands {
			names = append(names, n)
		}
		slices.Sort(names)
		declared := "none"
		if len(names) > 0 {
			declared = strings.Join(names, ", ")
		}
		refuse("agent of %s declares no [[command]] %q (declared: %s)", a.machine, truncate(m.Command, pb.MaxNameLen), declared)
		return
	}
	if a.commandsRunning >= maxCommandsRunning {
		refuse("%d commands running already; try again later", a.commandsRunning)
		return
	}
	a.commandsRunning++
	env := os.Environ()
	for _, f := range conf.ActionFields {
		if v, ok := m.Fields[f]; ok {
			env = append(env, conf.ActionEnvName(f)+"="+truncate(strings.ReplaceAll(v, "\x00", ""), pb.MaxReasonLen))
		}
	}
	root, self, clk, log := ctx.ActorSystem().Root, ctx.Self(), a.clock, a.log
	machineName := a.machine
	go func() {
		begin := clk.Now()
		res := runDeclared(c, env)
		res.Machine, res.RunId = machineName, m.RunId
		res.DurationMs = float64(clk.Now().Sub(begin).Microseconds()) / 1000
		l := log.Info()
		if !res.Ok {
			l = log.Warn()
		}
		l.Str("command", c.Name).Str("action", truncate(m.Action, pb.MaxNameLen)).Uint64("run_id", m.RunId).Int32("exit_code", res.ExitCode).
			Bool("ok", res.Ok).Str("reason", res.Reason).Float64("duration_ms", res.DurationMs).Msg("command run")
		if sender != nil {
			root.Send(sender, res)
		}
		root.Send(self, &commandDone{})
	}()
}

// runDeclared runs a declared command to its end or its timeout.
func runDeclared(c *conf.Command, env []string) *pb.CommandResult {
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout.Duration)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.Exec[0], c.Exec[1:]...)
	cmd.Env = env
	var out outputTail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 100 * time.Millisecond
	err := cmd.Run()
	res := &pb.CommandResult{Output: truncateTail(strings.TrimSpace(string(out.b)), pb.MaxReasonLen)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		res.ExitCode, res.TimedOut, res.Reason = -1, true, fmt.Sprintf("killed after its timeout of %s", c.Timeout.Duration)
	case err == nil:
		res.Ok = true
	case errors.As(err, &ee):
		res.ExitCode, res.Reason = int32(ee.ExitCode()), ee.String()
	default:
		res.ExitCode, res.Reason = -1, truncate(err.Error(), pb.MaxReasonLen)
	}
	return res
}

// outputTail keeps the last bytes of a command's output.
type outputTail struct{ b []byte }

func (t *outputTail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4*pb.MaxReasonLen {
		t.b = append(t.b[:0], t.b[len(t.b)-pb.MaxReasonLen:]...)
	}
	return len(p), nil
}

func truncateTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
