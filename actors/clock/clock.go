// Package clock injects time into the actors and tests: production uses the wall clock, tests a
// clock they move by hand. The pure failover engine never reads a clock; the shells pass it the time.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time. Implementations are safe for concurrent use.
type Clock interface {
	Now() time.Time
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// Fake is a clock that only moves when told to.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a Fake clock set to start.
func NewFake(start time.Time) *Fake { return &Fake{now: start} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// Repeat calls fn after first and then every interval until stop is called. Actors use it for
// their scheduler ticks instead of protoactor's SendRepeatedly, whose cancel races with its own
// timer goroutine (a plain read against an atomic swap, reported by -race). Once stop has
// returned fn is not called again; stop is idempotent and must not be called from fn.
func Repeat(first, interval time.Duration, fn func()) (stop func()) {
	done, exited := make(chan struct{}), make(chan struct{})
	var once sync.Once
	go func() {
		defer close(exited)
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				select {
				case <-done:
					return
				default:
				}
				fn()
				t.Reset(interval)
			case <-done:
				return
			}
		}
	}()
	return func() {
		once.Do(func() { close(done) })
		<-exited
	}
}
