package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"standby/conf"
	"standby/protocol/pb"
)

// AgentCaller asks the agent of machine to run a declared command and waits for its result or
// ctx's end. An error wrapping ErrConnect is retried (the agent unreachable, not known yet).
type AgentCaller func(ctx context.Context, machine string, req *pb.CommandRequest) (*pb.CommandResult, error)

// ErrConnect marks a failure to reach the peer at all: the only failures that are retried.
var ErrConnect = errors.New("could not connect")

// outcome is what one attempt of a run found.
type outcome struct {
	ok     bool
	detail string
	err    error // failed: why (wraps ErrConnect when the peer was not reached)
}

// runner is one action's kind, its templates parsed.
type runner interface {
	run(ctx context.Context, ev Event) outcome
}

// tmpl is a parsed template of an action.
type tmpl struct{ t *template.Template }

func (t tmpl) render(ev Event) (string, error) {
	var b strings.Builder
	if err := t.t.Execute(&b, ev); err != nil {
		return "", err
	}
	return b.String(), nil
}

// compile parses an action's templates into its runner. The config was validated, so errors here
// are unexpected; they are returned, not panicked.
func compile(a *conf.Action, agent AgentCaller) (runner, error) {
	var err error
	parse := func(key, text string) tmpl {
		t, e := conf.ParseActionTemplate(key, text)
		if e != nil && err == nil {
			err = fmt.Errorf("action %q.%s: %w", a.Name, key, e)
		}
		return tmpl{t}
	}
	var r runner
	switch a.Kind {
	case conf.ActionExec:
		x := &execRunner{}
		for i, arg := range a.Command.Argv {
			x.argv = append(x.argv, parse(fmt.Sprintf("command[%d]", i), arg))
		}
		r = x
	case conf.ActionHTTP:
		x := &httpRunner{method: a.Method, url: parse("url", a.URL), body: parse("body", a.Body), headers: map[string]tmpl{},
			client: &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, DisableKeepAlives: true}}}
		for k, v := range a.Headers {
			x.headers[k] = parse("headers."+k, v)
		}
		r = x
	case conf.ActionTCP, conf.ActionUDP:
		r = &streamRunner{network: a.Kind, address: a.Address, data: parse("data", a.Data)}
	case conf.ActionOSC:
		x := &oscRunner{address: a.Address, path: parse("path", a.Path)}
		for i, arg := range a.Args {
			x.args = append(x.args, parse(fmt.Sprintf("args[%d]", i), arg))
		}
		r = x
	case conf.ActionAgent:
		r = &agentRunner{action: a.Name, command: a.Command.Name, machine: parse("machine", a.Machine), call: agent}
	default:
		return nil, fmt.Errorf("action %q: kind %q is not known", a.Name, a.Kind)
	}
	return r, err
}

// maxDetail caps a result's detail (output tails, response bodies), in bytes.
const maxDetail = 200

func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxDetail {
		return "…" + s[len(s)-maxDetail:]
	}
	return s
}

func failed(err error) outcome { return outcome{err: err} }

// connectErr wraps a dial failure as ErrConnect.
func connectErr(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("%w: %v", ErrConnect, err)
	}
	return err
}

type execRunner struct{ argv []tmpl }

func (x *execRunner) run(ctx context.Context, ev Event) outcome {
	argv := make([]string, len(x.argv))
	for i, t := range x.argv {
		s, err := t.render(ev)
		if err != nil {
			return failed(err)
		}
		argv[i] = s
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), ev.Environ()...)
	var out tail
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.WaitDelay = 100 * time.Millisecond // a grandchild holding the pipes does not hold the run
	err := cmd.Run()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() >= 0 {
			return failed(fmt.Errorf("exit code %d%s", ee.ExitCode(), withOutput(out.String())))
		}
		return failed(fmt.Errorf("%v%s", err, withOutput(out.String())))
	}
	return outcome{ok: true, detail: "exit code 0" + withOutput(out.String())}
}

func withOutput(s string) string {
	if s = clip(s); s != "" {
		return ": " + s
	}
	return ""
}

// tail keeps the last bytes written to it.
type tail struct{ b []byte }

func (t *tail) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4*maxDetail {
		t.b = append(t.b[:0], t.b[len(t.b)-2*maxDetail:]...)
	}
	return len(p), nil
}

func (t *tail) String() string { return string(t.b) }

type httpRunner struct {
	method    string
	url, body tmpl
	headers   map[string]tmpl
	client    *http.Client
}

func (x *httpRunner) run(ctx context.Context, ev Event) outcome {
	u, err := x.url.render(ev)
	if err != nil {
		return failed(err)
	}
	body, err := x.body.render(ev)
	if err != nil {
		return failed(err)
	}
	req, err := http.NewRequestWithContext(ctx, x.method, u, strings.NewReader(body))
	if err != nil {
		return failed(err)
	}
	keys := make([]string, 0, len(x.headers))
	for k := range x.headers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v, err := x.headers[k].render(ev)
		if err != nil {
			return failed(err)
		}
		req.Header.Set(k, v)
	}
	resp, err := x.client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return failed(ctx.Err())
		}
		return failed(connectErr(err))
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4*maxDetail))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return failed(fmt.Errorf("HTTP %d%s", resp.StatusCode, withOutput(string(b))))
	}
	return outcome{ok: true, detail: "HTTP " + strconv.Itoa(resp.StatusCode)}
}

// unescape decodes \r \n \t \\ \0 and \xHH in tcp and udp data (TOML literal strings keep them).
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b bytes.Buffer
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 == len(s) {
			b.WriteByte(c)
			continue
		}
		switch s[i+1] {
		case 'r':
			b.WriteByte('\r')
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case '0':
			b.WriteByte(0)
		case '\\':
			b.WriteByte('\\')
		case 'x':
			if i+3 < len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+4], 16, 8); err == nil {
					b.WriteByte(byte(v))
					i += 3
					continue
				}
			}
			b.WriteString(`\x`)
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i+1])
		}
		i++
	}
	return b.String()
}

type streamRunner struct {
	network, address string
	data             tmpl
}

func (x *streamRunner) run(ctx context.Context, ev Event) outcome {
	s, err := x.data.render(ev)
	if err != nil {
		return failed(err)
	}
	return send(ctx, x.network, x.address, []byte(unescape(s)))
}

// send dials address, writes b and closes: one write for tcp, one datagram for udp.
func send(ctx context.Context, network, address string, b []byte) outcome {
	var d net.Dialer
	c, err := d.DialContext(ctx, network, address)
	if err != nil {
		if ctx.Err() != nil {
			return failed(ctx.Err())
		}
		return failed(connectErr(err))
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := c.Write(b); err != nil {
		if ctx.Err() != nil {
			return failed(ctx.Err())
		}
		return failed(connectErr(err))
	}
	return outcome{ok: true, detail: fmt.Sprintf("sent %d bytes to %s", len(b), address)}
}

type oscRunner struct {
	address string
	path    tmpl
	args    []tmpl
}

func (x *oscRunner) run(ctx context.Context, ev Event) outcome {
	p, err := x.path.render(ev)
	if err != nil {
		return failed(err)
	}
	args := make([]any, len(x.args))
	for i, t := range x.args {
		s, err := t.render(ev)
		if err != nil {
			return failed(err)
		}
		args[i] = s
	}
	b, err := EncodeOSC(p, args...)
	if err != nil {
		return failed(err)
	}
	o := send(ctx, "udp", x.address, b)
	if o.ok {
		o.detail = fmt.Sprintf("sent %s to %s", p, x.address)
	}
	return o
}

type agentRunner struct {
	action, command string
	machine         tmpl
	call            AgentCaller
}

func (x *agentRunner) run(ctx context.Context, ev Event) outcome {
	m, err := x.machine.render(ev)
	if err != nil {
		return failed(err)
	}
	if m == "" {
		return failed(fmt.Errorf("machine is empty for this event"))
	}
	if x.call == nil {
		return failed(fmt.Errorf("agent commands need the supervisor's remote endpoint"))
	}
	res, err := x.call(ctx, m, &pb.CommandRequest{Command: x.command, Machine: m, Fields: ev.Fields(), Action: x.action})
	if err != nil {
		if ctx.Err() != nil {
			return failed(ctx.Err())
		}
		return failed(fmt.Errorf("agent of %s: %w", m, err))
	}
	detail := fmt.Sprintf("%s on %s: exit code %d%s", x.command, m, res.GetExitCode(), withOutput(res.GetOutput()))
	if !res.GetOk() {
		reason := res.GetReason()
		if res.GetTimedOut() {
			reason = "timed out on the agent: " + reason
		}
		return failed(fmt.Errorf("%s on %s: %s%s", x.command, m, reason, withOutput(res.GetOutput())))
	}
	return outcome{ok: true, detail: detail}
}
