package failover

import (
	"math/rand"
	"testing"
	"time"

	"standby/conf"
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
		cfg := Config{Automatic: rng.Intn(4) > 0, SwitchOnCritical: rng.Intn(2) == 0,
			AutoFailback: rng.Intn(2) == 0, FailbackAfter: time.Duration(rng.Intn(5000)) * time.Millisecond,
			FlapMax: 1 + rng.Intn(4), FlapWindow: time.Minute, SwitchTimeout: time.Duration(100+rng.Intn(3000)) * time.Millisecond,
			RetryAfter: time.Duration(100+rng.Intn(2000)) * time.Millisecond}
		cfg.Mains = []Machine{{Name: "m1", Feeds: pgm(1, 1)}, {Name: "m2", Feeds: pgm(2, 2)}}
		cfg.Backups = []Machine{{Name: "b1", Feeds: pgm(3, 0)}}
		if rng.Intn(2) == 0 {
			cfg.Mains = cfg.Mains[:1] // a pair
		} else if rng.Intn(2) == 0 {
			cfg.Backups = append(cfg.Backups, Machine{Name: "b2", Feeds: pgm(4, 0)})
		}
		machines := []string{"m1", "m2", "b1", "b2"}
		p := New(cfg)
		now := time.Unix(1_700_000_000, 0)
		for step := range 200 {
			var ev Event
			switch rng.Intn(9) {
			case 0, 1:
				ev = MachineChanged{Machine: machines[rng.Intn(len(machines))], Condition: conds[rng.Intn(len(conds))]}
			case 2:
				ev = RouteResult{Epoch: p.epoch - uint64(rng.Intn(2)), OK: rng.Intn(3) > 0, Reason: "nak"}
			case 3:
				ev = Switch{Main: machines[rng.Intn(2)], To: []string{"", "m1", "b1", "b2"}[rng.Intn(4)], By: "op"}
			case 4:
				var rs RouterShows
				for out := 1; out <= 2; out++ {
					rs.Outputs = append(rs.Outputs, Shown{Output: conf.N(out), Input: conf.N(1 + rng.Intn(4)), Text: "mixed"})
				}
				ev = rs
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
					t.Fatalf("run %d step %d: still overdue after a tick (%+v)", run, step, c.Status().Slots)
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
					t.Fatalf("run %d step %d: Wake %v, but a tick %v after now acted: %v (%v)",
						run, step, wake.Sub(now), probe.Sub(now), acts, statusLines(p.Status()))
				}
			}
			now = now.Add(time.Duration(rng.Intn(1500)) * time.Millisecond)
			if !wake.IsZero() && rng.Intn(2) == 0 {
				now = wake // often land exactly on the wake-up, as a shell would
			}
		}
	}
}

func pgm(in, out int) []Feed {
	f := Feed{Role: "pgm", Input: conf.N(in)}
	if out > 0 {
		f.Outputs = []conf.Port{conf.N(out)}
	}
	return []Feed{f}
}
