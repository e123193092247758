package node

import (
	"sync"
	"testing"
	"time"
)

// TestWarmDispatcher: every scheduled function runs; sequential activations reuse an idle
// worker instead of starting goroutines; activations that block never hold up the next one, even
// past the worker bound.
func TestWarmDispatcher(t *testing.T) {
	d := newWarmDispatcher(4, 300)
	for i := range 1000 {
		done := make(chan struct{})
		d.Schedule(func() { close(done) })
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Fatalf("activation %d never ran", i)
		}
	}
	// One at a time, each worker is idle again before the next: a handful at most were started
	// (one may still be on its way back to the channel when the next is scheduled).
	if n := d.workers.Load(); n > 4 {
		t.Fatalf("%d workers for sequential activations, want at most the bound 4", n)
	}
	release := make(chan struct{})
	var wg sync.WaitGroup
	const blocked = 20 // five times the bound: the rest run on plain goroutines
	wg.Add(blocked)
	for range blocked {
		d.Schedule(func() { defer wg.Done(); <-release })
	}
	ran := make(chan struct{})
	d.Schedule(func() { close(ran) })
	select {
	case <-ran:
	case <-time.After(10 * time.Second):
		t.Fatal("an activation waited behind blocked ones")
	}
	close(release)
	wg.Wait()
	if n := d.workers.Load(); n > 4 {
		t.Fatalf("%d workers, bound 4", n)
	}
}
