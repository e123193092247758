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

// TestWakeArmsEarliest: At keeps the earliest wake-up; Fired lets a later one be armed again.
func TestWakeArmsEarliest(t *testing.T) {
	fired := make(chan time.Time, 10)
	w := NewWake(func() { fired <- time.Now() })
	defer w.Stop()
	now := time.Now()
	w.At(now, now.Add(time.Hour))
	w.At(now, now.Add(time.Millisecond)) // earlier: replaces the hour
	w.At(now, now.Add(time.Minute))      // later: ignored while the millisecond is armed
	w.At(now, time.Time{})               // nothing to wait for: ignored
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("the earliest wake-up never came")
	}
	w.Fired()
	w.At(time.Now(), time.Now()) // due already: fires at once
	select {
	case <-fired:
	case <-time.After(5 * time.Second):
		t.Fatal("a wake-up armed after Fired never came")
	}
}

// TestPauseWatch: a gap longer than after between beats is a pause that ended at the later beat.
func TestPauseWatch(t *testing.T) {
	clk := NewFake(time.Unix(1_700_000_000, 0))
	var gaps []time.Duration
	w := WatchPauses(clk, time.Hour, 100*time.Millisecond, func(gap time.Duration) { gaps = append(gaps, gap) }) // its own beat stays out of the way
	defer w.Stop()
	clk.Advance(50 * time.Millisecond)
	if r := w.Check(); !r.IsZero() {
		t.Fatalf("a 50ms gap counted as a pause ending %v", r)
	}
	clk.Advance(2 * time.Second)
	end := clk.Now()
	if r := w.Check(); !r.Equal(end) {
		t.Fatalf("a 2s gap: resumed %v, want %v", r, end)
	}
	clk.Advance(10 * time.Millisecond)
	if r := w.Check(); !r.Equal(end) || !w.Resumed().Equal(end) {
		t.Fatalf("after a short gap the last pause must still end at %v, got %v", end, r)
	}
	w.SetAfter(5 * time.Millisecond)
	clk.Advance(10 * time.Millisecond)
	if r := w.Check(); !r.Equal(clk.Now()) {
		t.Fatalf("after SetAfter(5ms) a 10ms gap is a pause; resumed %v", r)
	}
	if len(gaps) != 2 || gaps[0] != 2*time.Second || gaps[1] != 10*time.Millisecond {
		t.Fatalf("pauses reported: %v, want [2s 10ms]", gaps)
	}
	var none *PauseWatch // a machine actor without a watch
	if !none.Check().IsZero() || !none.Resumed().IsZero() {
		t.Fatal("a nil watch reported a pause")
	}
}

// TestPauseWatchLate: a wake-up handled more than half the pause threshold after it was due
// excuses every silence from now; one on time, or one never armed, does not.
func TestPauseWatchLate(t *testing.T) {
	clk := NewFake(time.Unix(1_700_000_000, 0))
	w := WatchPauses(clk, time.Hour, 100*time.Millisecond, nil)
	defer w.Stop()
	due := clk.Now()
	if w.Late(due, due.Add(50*time.Millisecond)) || !w.Resumed().IsZero() {
		t.Fatal("a wake-up 50ms late (half the 100ms threshold) excused")
	}
	if w.Late(time.Time{}, due.Add(time.Hour)) {
		t.Fatal("a wake-up never armed excused")
	}
	clk.Advance(time.Second)
	if !w.Late(due, clk.Now()) || !w.Resumed().Equal(clk.Now()) {
		t.Fatalf("a wake-up 1s late: resumed %v, want now %v", w.Resumed(), clk.Now())
	}
	var none *PauseWatch
	if none.Late(due, clk.Now()) {
		t.Fatal("a nil watch excused")
	}
}
