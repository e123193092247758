package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	vh "standby/protocol/videohub"
)

// RouteChange is one output changing its input, as the Observer read it.
type RouteChange struct {
	// At is when the block carrying the change had been read and decoded.
	At     time.Time
	Output int // 0-based, as on the wire
	From   int
	Input  int
}

// maxChangeLog bounds the changes an Observer keeps; Changes counts all of them.
const maxChangeLog = 100_000

// Observer is an independent Videohub client: its own TCP connection to the router, reading the
// router's routing pushes with protocol/videohub's Decoder and timestamping each the moment it
// has been read. It never writes to the router, so it cannot disturb what it measures.
type Observer struct {
	addr string
	conn net.Conn

	mu      sync.Mutex
	routes  map[int]int       // output → input
	since   map[int]time.Time // output → when its current input was read
	log     []RouteChange
	count   uint64
	changed chan struct{} // closed and replaced on every change
	ready   chan struct{} // closed once the routing dump was read
	err     error         // why reading stopped
	done    chan struct{}
}

// Observe connects to the Videohub at addr and returns once the router's routing dump has been
// read (or ctx ends, or 5 s pass).
func Observe(ctx context.Context, addr string) (*Observer, error) {
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("observer: %w", err)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	o := &Observer{addr: addr, conn: conn, routes: map[int]int{}, since: map[int]time.Time{},
		changed: make(chan struct{}), ready: make(chan struct{}), done: make(chan struct{})}
	go o.read()
	select {
	case <-o.ready:
		return o, nil
	case <-o.done:
		return nil, fmt.Errorf("observer %s: %w", addr, o.Err())
	case <-dctx.Done():
		o.Close()
		return nil, fmt.Errorf("observer %s: no routing dump: %w", addr, dctx.Err())
	}
}

func (o *Observer) read() {
	defer close(o.done)
	dec := vh.NewDecoder(o.conn)
	dumped := false
	for {
		b, err := dec.Next()
		at := time.Now()
		if err != nil {
			o.mu.Lock()
			o.err = err
			close(o.changed)
			o.changed = make(chan struct{})
			o.mu.Unlock()
			return
		}
		if b.Kind != vh.KindVideoOutputRouting {
			continue
		}
		o.mu.Lock()
		any := false
		for _, r := range b.Routes {
			prev, known := o.routes[r.Dest]
			if known && prev == r.Source {
				continue
			}
			o.routes[r.Dest], o.since[r.Dest] = r.Source, at
			if dumped && known {
				o.count++
				if len(o.log) < maxChangeLog {
					o.log = append(o.log, RouteChange{At: at, Output: r.Dest, From: prev, Input: r.Source})
				}
			}
			any = true
		}
		if any {
			close(o.changed)
			o.changed = make(chan struct{})
		}
		o.mu.Unlock()
		if !dumped {
			dumped = true
			close(o.ready)
		}
	}
}

// Route returns the input routed to output out and when the Observer read that route.
func (o *Observer) Route(out int) (in int, at time.Time, ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	in, ok = o.routes[out]
	return in, o.since[out], ok
}

// ErrObserverClosed is returned by WaitRoute once the observer's connection has ended.
var ErrObserverClosed = errors.New("observer connection ended")

// WaitRoute waits until output out shows input in and returns when the Observer read that route
// (which may be before the call if it already showed it).
func (o *Observer) WaitRoute(ctx context.Context, out, in int) (time.Time, error) {
	at, _, err := o.WaitRouteTo(ctx, out, func(got int) bool { return got == in }, fmt.Sprintf("input %d", in+1))
	return at, err
}

// WaitRouteTo waits until output out shows an input for which want holds (what says which, for
// the error) and returns when the Observer read that route and the input.
func (o *Observer) WaitRouteTo(ctx context.Context, out int, want func(in int) bool, what string) (time.Time, int, error) {
	for {
		o.mu.Lock()
		got, ok := o.routes[out]
		at, ch, err := o.since[out], o.changed, o.err
		o.mu.Unlock()
		if ok && want(got) {
			return at, got, nil
		}
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("%w: %v", ErrObserverClosed, err)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return time.Time{}, 0, fmt.Errorf("output %d never showed %s (shows %d): %w", out+1, what, got+1, ctx.Err())
		}
	}
}

// Changes returns how many route changes the Observer has read since the dump, and the first
// maxChangeLog of them.
func (o *Observer) Changes() (uint64, []RouteChange) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.count, append([]RouteChange(nil), o.log...)
}

// Err is why the connection ended, or nil while it is open.
func (o *Observer) Err() error {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.err
}

// Close closes the connection and waits for the reader to stop.
func (o *Observer) Close() {
	o.conn.Close()
	<-o.done
}
