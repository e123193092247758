package failover

import (
	"math/rand"
	"testing"
	"time"
)

// TestWakeNeverMissesATick drives pairs with random events at random times and checks Wake's
// promise after every step: a Tick at any time before Wake (or at any time, when Wake is zero)
// changes nothing, and a Tick at Wake is allowed to. Shells rely on it to sleep until Wake.
func TestWakeNeverMissesATick(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	conds := []Condition{
		{Known: true},
		{Known: true, Failure: TriggerEngine, Detail: "exited"},
		{Known: true, Level: Critical, Detail: "gpu_temp=95"},
		{Known: true, Level: Warning},
		{},
	}
	for run := range 300 {
		cfg := Config{Machines: [2]string{"m", "b"}, Automatic: rng.Intn(4) > 0, SwitchOnCritical: rng.Intn(2) == 0,
			AutoFailback: rng.Intn(2) == 0, FailbackAfter: time.Duration(rng.Intn(5000)) * time.Millisecond,
			FlapMax: 1 + rng.Intn(4), FlapWindow: time.Minute, SwitchTimeout: time.Duration(100+rng.Intn(3000)) * time.Millisecond,
			RetryAfter: time.Duration(100+rng.Intn(2000)) * time.Millisecond}
		p := New(cfg)
		now := time.Unix(1_700_000_000, 0)
		for step := range 200 {
			var ev Event
			switch rng.Intn(9) {
			case 0, 1:
				ev = MachineChanged{Side: Side(rng.Intn(2)), Condition: conds[rng.Intn(len(conds))]}
			case 2:
				ev = RouteResult{Epoch: p.epoch, OK: rng.Intn(3) > 0, Reason: "nak"}
			case 3:
				ev = Switch{To: Side(rng.Intn(2)), By: "op"}
			case 4:
				ev = RouterShows{Known: rng.Intn(4) > 0, Side: Side(rng.Intn(2)), Detail: "mixed"}
			case 5:
				ev = RouterReady{}
			case 6:
				ev = SetFailback{Automatic: rng.Intn(2) == 0}
			default:
				ev = Tick{}
			}
			if _, err := p.Step(now, ev); err != nil {
				continue // refused operator commands change nothing
			}
			wake := p.Wake(now)
			if !wake.IsZero() && !wake.After(now) {
				// Overdue: a tick now must settle it, or a shell would wake in a loop.
				c := p.Clone()
				if _, err := c.Step(now, Tick{}); err != nil {
					t.Fatal(err)
				}
				if w := c.Wake(now); !w.IsZero() && !w.After(now) {
					t.Fatalf("run %d step %d: still overdue after a tick (state %s)", run, step, c.Status().State)
				}
			}
			// Probe a few times before the wake-up on a copy: none may act.
			limit := now.Add(10 * time.Second)
			if !wake.IsZero() {
				limit = wake
			}
			for range 3 {
				if !limit.After(now) {
					break // overdue: the shell ticks at once
				}
				probe := now.Add(time.Duration(rng.Int63n(int64(limit.Sub(now)))))
				if acts, _ := p.Clone().Step(probe, Tick{}); len(acts) > 0 {
					t.Fatalf("run %d step %d: Wake %v, but a tick %v after now acted: %v (state %s)",
						run, step, wake.Sub(now), probe.Sub(now), acts, p.Status().State)
				}
			}
			now = now.Add(time.Duration(rng.Intn(1500)) * time.Millisecond)
			if !wake.IsZero() && rng.Intn(2) == 0 {
				now = wake // often land exactly on the wake-up, as a shell would
			}
		}
	}
}
