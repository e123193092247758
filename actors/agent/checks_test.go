package agent

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func runCheck(c check, timeout time.Duration) (bool, string) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return c(ctx)
}

func TestTCPCheck(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if up, reason := runCheck(tcpCheck(addr), time.Second); !up {
		t.Fatalf("listening port down: %s", reason)
	}
	l.Close()
	up, reason := runCheck(tcpCheck(addr), time.Second)
	if up || !strings.Contains(reason, "connection refused") {
		t.Fatalf("closed port: up=%v reason %q", up, reason)
	}
}

func TestTCPCheckTimeout(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// An expired deadline stands in for a peer that never answers the handshake.
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	up, reason := tcpCheck(l.Addr().String())(ctx)
	if up || !strings.HasPrefix(reason, "timed out") {
		t.Fatalf("up=%v reason %q", up, reason)
	}
}

func TestHTTPCheck(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write([]byte("fine"))
		case "/hang":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		default:
			http.Error(w, "broken", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	if up, reason := runCheck(httpCheck(srv.URL+"/ok"), time.Second); !up {
		t.Fatalf("/ok down: %s", reason)
	}
	if up, reason := runCheck(httpCheck(srv.URL+"/bad"), time.Second); up || reason != "HTTP 503 Service Unavailable" {
		t.Fatalf("/bad: up=%v reason %q", up, reason)
	}
	if up, reason := runCheck(httpCheck(srv.URL+"/hang"), 50*time.Millisecond); up || !strings.HasPrefix(reason, "timed out") {
		t.Fatalf("/hang: up=%v reason %q", up, reason)
	}
}

func TestExecCheck(t *testing.T) {
	for _, c := range []struct {
		argv   []string
		up     bool
		reason string
	}{
		{[]string{"true"}, true, ""},
		{[]string{"false"}, false, "false: exit status 1"},
		{[]string{"sh", "-c", "echo 'licence expired' >&2; exit 3"}, false, "sh: exit status 3: licence expired"},
		{[]string{"sh", "-c", "echo only-stdout; exit 2"}, false, "sh: exit status 2: only-stdout"},
		{[]string{"/nonexistent/check"}, false, "/nonexistent/check: "},
		{[]string{"sh", "-c", "sleep 30 & sleep 30"}, false, "sh: timed out"}, // the grandchild dies too
	} {
		up, reason := runCheck(execCheck(c.argv), 200*time.Millisecond)
		if up != c.up || !strings.HasPrefix(reason, c.reason) {
			t.Errorf("%v: up=%v reason %q; want %v %q", c.argv, up, reason, c.up, c.reason)
		}
	}
}

func TestPollEveryEmitsAndStops(t *testing.T) {
	results := []bool{true, false, true}
	n := 0
	emit, ch := recorder()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		pollEvery(ctx, time.Second, time.Millisecond, func(context.Context) bool {
			up := results[n%len(results)]
			n++
			return up
		}, func(up bool) { emit(up, "r") })
		close(done)
	}()
	for i, want := range results {
		select {
		case e := <-ch:
			if e.up != want {
				t.Fatalf("result %d: up=%v", i, e.up)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no result")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("checker did not stop")
	}
}
