package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// check runs one probe within timeout and says whether the service is up and, if not, why.
type check func(ctx context.Context) (up bool, reason string)

// pollEvery runs probe every interval (measured from the end of the previous run), each run
// bounded by timeout, and hands each result to emit until ctx ends; the actor keeps only changes.
// Service checks and health samplers both run on it.
func pollEvery[T any](ctx context.Context, timeout, interval time.Duration, probe func(context.Context) T, emit func(T)) {
	for {
		cctx, cancel := context.WithTimeout(ctx, timeout)
		v := probe(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		emit(v)
		if !sleepCtx(ctx, interval) {
			return
		}
	}
}

// tcpCheck is up when target accepts a TCP connection.
func tcpCheck(target string) check {
	var d net.Dialer
	return func(ctx context.Context) (bool, string) {
		c, err := d.DialContext(ctx, "tcp", target)
		if err != nil {
			return false, timeoutReason(ctx, err)
		}
		c.Close()
		return true, ""
	}
}

// httpClient is shared by URL checks and readings: no keep-alive between checks (a check must see a
// listener that died), no redirects followed silently beyond the default ten.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}

// maxBody caps what is read of a checked URL's body.
const maxBody = 4096

// httpGet fetches url and returns the start of its body; a non-2xx status is an error.
func httpGet(ctx context.Context, url string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	return body, err
}

// httpCheck is up when url answers GET with a 2xx status.
func httpCheck(url string) check {
	return func(ctx context.Context) (bool, string) {
		if _, err := httpGet(ctx, url); err != nil {
			return false, timeoutReason(ctx, err)
		}
		return true, ""
	}
}

// execCheck is up when the command exits 0.
func execCheck(argv []string) check {
	return func(ctx context.Context) (bool, string) {
		if _, err := runCommand(ctx, argv); err != nil {
			return false, err.Error()
		}
		return true, ""
	}
}

// runCommand runs argv (no shell) within ctx and returns its stdout. The command gets its own
// process group, killed as a whole when ctx ends, so a hung grandchild cannot hold the check.
func runCommand(ctx context.Context, argv []string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 100 * time.Millisecond
	var out, errOut limitedBuffer
	out.limit, errOut.limit = maxBody, 512
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return nil, fmt.Errorf("%s: timed out", argv[0])
	}
	if err != nil {
		msg := firstLine(errOut.String())
		if msg == "" {
			msg = firstLine(out.String())
		}
		if msg != "" {
			return nil, fmt.Errorf("%s: %v: %s", argv[0], err, msg)
		}
		return nil, fmt.Errorf("%s: %v", argv[0], err)
	}
	return out.Bytes(), nil
}

// timeoutReason names a timeout as such instead of Go's "context deadline exceeded" wording.
func timeoutReason(ctx context.Context, err error) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "timed out: " + err.Error()
	}
	return err.Error()
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// limitedBuffer keeps the first limit bytes written and discards the rest (a chatty check must not
// grow the agent).
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := b.limit - b.Len(); room > 0 {
		if len(p) > room {
			b.Buffer.Write(p[:room])
		} else {
			b.Buffer.Write(p)
		}
	}
	return len(p), nil
}
