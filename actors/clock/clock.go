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
// their periodic ticks instead of protoactor's SendRepeatedly, whose cancel races with its own
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

// Wake holds one actor's next wake-up: a timer armed for the earliest time the actor asked for.
// Actors whose checks only matter at known deadlines (a heartbeat timeout, a switch timeout) use
// it instead of a periodic tick, so an idle studio costs no messages. Times come from the injected
// clock; the delay is measured against now. At, Fired and Stop are for the owning actor's
// goroutine; fn runs on a timer goroutine and must only send the wake-up message.
type Wake struct {
	fn       func()
	postpone func(due time.Time) (next, now time.Time)
	mu       sync.Mutex // the timer goroutine re-arms a postponed wake-up
	t        *time.Timer
	due      time.Time
}

// NewWake returns an unarmed Wake that calls fn when it fires.
func NewWake(fn func()) *Wake { return &Wake{fn: fn} }

// NewPostponingWake is NewWake whose timer first asks postpone, on the timer goroutine, whether
// the wake-up due at due is still needed: a next after now re-arms it for next without calling
// fn (a machine heard from since its deadline was armed needs no look: the actor is spared a
// wake-up); a zero next fires it. postpone must be safe for concurrent use and cheap.
func NewPostponingWake(fn func(), postpone func(due time.Time) (next, now time.Time)) *Wake {
	return &Wake{fn: fn, postpone: postpone}
}

// At arms the wake-up for at unless one is already armed for earlier; a zero at changes nothing.
// A wake-up left armed for earlier than needed is harmless: the actor checks and asks again.
func (w *Wake) At(now, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if at.IsZero() || (!w.due.IsZero() && !at.Before(w.due)) {
		return
	}
	w.due = at
	d := max(at.Sub(now), 0)
	if w.t == nil {
		w.t = time.AfterFunc(d, w.fire)
		return
	}
	w.t.Reset(d)
}

func (w *Wake) fire() {
	if w.postpone != nil {
		w.mu.Lock()
		due := w.due
		w.mu.Unlock()
		if due.IsZero() {
			return // stopped meanwhile
		}
		if next, now := w.postpone(due); next.After(now) {
			w.mu.Lock()
			if w.due.Equal(due) { // else the actor armed or stopped it meanwhile: that stands
				w.due = next
				w.t.Reset(next.Sub(now))
			}
			w.mu.Unlock()
			return
		}
	}
	w.fn()
}

// Fired tells the Wake its wake-up was handled, so the next At arms it again. It returns the time
// the wake-up was armed for (zero if none was), so the actor can tell how late it came.
func (w *Wake) Fired() (due time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	due, w.due = w.due, time.Time{}
	return due
}

// Stop disarms it. A wake-up already on its way may still arrive; tag it to ignore it.
func (w *Wake) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.t != nil {
		w.t.Stop()
	}
	w.due = time.Time{}
}

// PauseWatch notices that the whole process was paused (GC, SIGSTOP, VM pause, starved of CPU):
// its own beat, or any Check, comes later than after since the previous one. Silence detectors
// count a peer's silence only from the end of the last pause, so a supervisor that was frozen does
// not blame the machines for its own absence. Safe for concurrent use. With a fake clock a jump
// longer than after is a pause.
type PauseWatch struct {
	clk           Clock
	mu            sync.Mutex
	after         time.Duration
	last, resumed time.Time
	stop          func()
	onPause       func(gap time.Duration)
	lates         uint64 // wake-ups found late (Late)
}

// WatchPauses starts a PauseWatch beating every interval; a gap longer than after is a pause,
// reported to onPause (may be nil) with its length.
func WatchPauses(c Clock, every, after time.Duration, onPause func(gap time.Duration)) *PauseWatch {
	w := &PauseWatch{clk: c, after: after, last: c.Now(), onPause: onPause}
	w.stop = Repeat(every, every, func() { w.Check() })
	return w
}

// Check beats now and returns when the last pause ended (zero if none was seen). Call it before
// judging silence: after a pause it may run before the watch's own beat does. A nil watch notices
// nothing.
func (w *PauseWatch) Check() time.Time {
	if w == nil {
		return time.Time{}
	}
	now := w.clk.Now()
	w.mu.Lock()
	gap := now.Sub(w.last)
	paused := gap > w.after
	if paused {
		w.resumed = now
	}
	if now.After(w.last) {
		w.last = now
	}
	resumed := w.resumed
	w.mu.Unlock()
	if paused && w.onPause != nil {
		w.onPause(gap)
	}
	return resumed
}

// Excuse counts silence from now at the earliest, as after a pause: the supervisor found itself
// behind (a report waited in its queue too long) and must not blame the machines for it. A nil
// watch does nothing.
func (w *PauseWatch) Excuse() {
	if w == nil {
		return
	}
	now := w.clk.Now()
	w.mu.Lock()
	if now.After(w.resumed) {
		w.resumed = now
	}
	w.mu.Unlock()
}

// Late tells the watch that a wake-up due at due was handled only at now: more than half the
// pause threshold late means the process is behind (its goroutines wait for a core: too much
// work, or starved of CPU), and every silence is excused from now, as after a pause. A busy
// process never pauses as a whole (some goroutine always checks the watch), so only the
// lateness of individual wake-ups shows it. It reports whether it excused. A nil watch does
// nothing.
func (w *PauseWatch) Late(due, now time.Time) bool {
	if w == nil || due.IsZero() {
		return false
	}
	w.mu.Lock()
	late := now.Sub(due) > w.after/2
	if late {
		w.lates++
	}
	w.mu.Unlock()
	if late {
		w.Excuse()
	}
	return late
}

// Behind tells whether the supervisor was paused or behind lately: silences were excused within
// the last twice the pause threshold before now. Work of least value (the panels' refresh) is
// shed meanwhile. A nil watch is never behind.
func (w *PauseWatch) Behind(now time.Time) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return !w.resumed.IsZero() && now.Sub(w.resumed) < 2*w.after
}

// Lates counts the wake-ups Late found late (zero for a nil watch): the overload alarm's evidence.
func (w *PauseWatch) Lates() uint64 {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.lates
}

// Resumed returns when the last pause ended, without beating (zero for a nil watch).
func (w *PauseWatch) Resumed() time.Time {
	if w == nil {
		return time.Time{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.resumed
}

// LastBeat is when the watch last beat (or was checked): a goroutine that stopped beating means
// the process is wedged or starved (systemd's watchdog check).
func (w *PauseWatch) LastBeat() time.Time {
	if w == nil {
		return time.Time{}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// SetAfter changes the gap that counts as a pause (config reload).
func (w *PauseWatch) SetAfter(after time.Duration) {
	w.mu.Lock()
	w.after = after
	w.mu.Unlock()
}

// Stop ends the beat; Check still works.
func (w *PauseWatch) Stop() { w.stop() }
