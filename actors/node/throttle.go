package node

import (
	"net"
	"sync"
	"time"

	"standby/actors/clock"
)

// maxThrottleKeys bounds a Throttle's memory when peers invent keys (addresses, names) at will.
const maxThrottleKeys = 4096

// Throttle lets a log line through at most once per interval per key, and counts what it held back.
// Keys come from the network (peer address, machine name, reason), so the table is bounded: once full,
// keys whose interval has passed are dropped, and if none has, everything shares one overflow key.
// Safe for concurrent use.
type Throttle struct {
	every time.Duration
	clock clock.Clock

	mu        sync.Mutex
	keys      map[string]*throttleEntry
	lastPrune time.Time
}

type throttleEntry struct {
	last    time.Time
	skipped int
}

// NewThrottle returns a Throttle allowing one line per key per every, timed by c.
func NewThrottle(every time.Duration, c clock.Clock) *Throttle {
	return &Throttle{every: every, clock: c, keys: make(map[string]*throttleEntry)}
}

// Allow reports whether a line for key may be logged now and, if so, how many lines for key were held
// back since the last one allowed.
func (t *Throttle) Allow(key string) (ok bool, skipped int) {
	now := t.clock.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		// Pruning walks the whole table: at most once per interval, or a flood of new keys would make
		// every call pay for it.
		if len(t.keys) >= maxThrottleKeys && now.Sub(t.lastPrune) >= t.every {
			t.prune(now)
			t.lastPrune = now
		}
		if len(t.keys) >= maxThrottleKeys {
			key = "\x00overflow"
			e = t.keys[key]
		}
		if e == nil {
			t.keys[key] = &throttleEntry{last: now}
			return true, 0
		}
	}
	if now.Sub(e.last) < t.every {
		e.skipped++
		return false, 0
	}
	skipped = e.skipped
	e.last, e.skipped = now, 0
	return true, skipped
}

// prune drops keys whose interval has passed and that held nothing back.
func (t *Throttle) prune(now time.Time) {
	for k, e := range t.keys {
		if now.Sub(e.last) >= t.every && e.skipped == 0 {
			delete(t.keys, k)
		}
	}
}

// Host is addr without its port, the key of per-peer log throttles: a peer that reconnects comes
// from a new port each time. An address without a port is returned as it is.
func Host(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}
