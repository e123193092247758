package router

import (
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/protocol/videohub/vhsim"
)

// retryIn reads the delay a status announces ("...; retrying in 100.000 ms").
var retryIn = regexp.MustCompile(`retrying in ([0-9.]+) ms$`)

func announced(t *testing.T, s *Status) time.Duration {
	t.Helper()
	m := retryIn.FindStringSubmatch(s.Detail)
	if m == nil {
		t.Fatalf("status %q announces no retry", s.Detail)
	}
	d, err := time.ParseDuration(m[1] + "ms")
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestRouterThatComesBackIsReconnectedAtOnce: a router nobody answers for is dialled again every
// RedialInterval however long it has been away (it used to back off to 5 s, so a supervisor
// started before its router connected seconds after the router appeared), and the failed dials
// are logged once and published after 1, 2, 4, 8, ... of them. With the defaults of `standby run`.
func TestRouterThatComesBackIsReconnectedAtOnce(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	logs := make(lines, 1024)
	r := newRigOpts(t, addr, nil, time.Second, VideohubOptions{Log: zerolog.New(zerolog.MultiLevelWriter(logs, zerolog.NewTestWriter(t)))})
	var last *Status
	for last == nil || last.Redials < 12 {
		last = r.waitConn(Unavailable)
		if n := last.Redials; n&(n-1) != 0 {
			t.Fatalf("published after %d failed dials, want powers of two only", n)
		}
		if d := announced(t, last); d > 100*time.Millisecond {
			t.Fatalf("after %d failed dials the router actor waits %s (want at most the 100 ms RedialInterval): %q", last.Redials, d, last.Detail)
		}
	}
	back := time.Now()
	s, err := vhsim.Start(vhsim.Options{Listen: addr, Inputs: 12, Outputs: 12})
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	t.Cleanup(func() { s.Close() })
	r.waitConn(Connected)
	t.Logf("reconnected %s after the router came back (after %d failed dials)", time.Since(back), last.Redials)
	unavailable := 0
	for len(logs) > 0 {
		if l := <-logs; regexp.MustCompile(`"state":"unavailable"`).MatchString(l) {
			unavailable++
		}
	}
	if unavailable != 1 {
		t.Errorf("%d failed dials logged %d 'unavailable' lines, want 1", last.Redials, unavailable)
	}
}

// TestRouterThatHangsUpIsBackedOff: a router that accepts, sends its whole prelude and closes is
// redialled after a delay that doubles per short session (it used to be redialled ~10 times a
// second forever: the backoff restarted with every prelude).
func TestRouterThatHangsUpIsBackedOff(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			_, _ = c.Write([]byte(prelude))
			c.Close()
		}
	}()
	r := newRigOpts(t, l.Addr().String(), nil, time.Second, VideohubOptions{Log: zerolog.New(zerolog.NewTestWriter(t)),
		BackoffMin: 10 * time.Millisecond, BackoffMax: time.Second})
	var delays []time.Duration
	for len(delays) < 5 {
		st := r.waitConn(Unavailable)
		if st.Redials == 0 {
			delays = append(delays, announced(t, st))
		}
	}
	t.Logf("redial delays after each short session: %v", delays)
	for i := 1; i < len(delays); i++ {
		if delays[i] <= delays[i-1] {
			t.Fatalf("delays %v: not growing after session %d", delays, i+1)
		}
	}
}

// TestSilentRouterIsRedialledSoon: a connection given up because the router fell silent (hung,
// or this process starved) is redialled after BackoffMin every time: the growing backoff is for
// routers that hang up on us, and a loaded supervisor must not push its router away.
func TestSilentRouterIsRedialledSoon(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	r := newRigOpts(t, s.Addr(), nil, 50*time.Millisecond, VideohubOptions{Log: zerolog.New(zerolog.NewTestWriter(t))})
	r.waitConn(Connected)
	s.SetBlackhole(true)
	for silent := 0; silent < 3; {
		st := r.waitConn(Unavailable)
		if !regexp.MustCompile(`^no answer for`).MatchString(st.Detail) {
			continue
		}
		silent++
		if d := announced(t, st); d != 50*time.Millisecond {
			t.Fatalf("silent drop %d: redial in %s, want BackoffMin 50ms: %q", silent, d, st.Detail)
		}
	}
	s.SetBlackhole(false)
	r.waitConn(Connected)
}
