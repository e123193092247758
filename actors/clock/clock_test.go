package clock

import (
	"sync/atomic"
	"testing"
	"time"
)

// TestRepeatStops: a stopped Repeat calls fn no more, and stopping twice is harmless.
func TestRepeatStops(t *testing.T) {
	calls := make(chan struct{}, 100)
	var stopped atomic.Bool
	stop := Repeat(0, time.Millisecond, func() {
		if stopped.Load() {
			t.Error("fn called after stop returned")
		}
		calls <- struct{}{}
	})
	for range 3 {
		select {
		case <-calls:
		case <-time.After(5 * time.Second):
			t.Fatal("fn was not called three times")
		}
	}
	stop()
	stopped.Store(true)
	stop()
	time.Sleep(10 * time.Millisecond) // ten intervals in which fn must stay silent
}
