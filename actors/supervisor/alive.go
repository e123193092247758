package supervisor

import (
	"fmt"
	"time"
)

// Alive tells whether the supervisor still works, for systemd's watchdog: its pause watch still
// beats (the process is not wedged or starved) and the root and its machine, router and pool
// groups answer a ping within timeout each (the actor system delivers and runs messages). It
// asks no machine or pool actor: each of those is watched by its own supervision.
func (s *Supervisor) Alive(timeout time.Duration) error {
	cfg := s.Config()
	since := s.opts.Clock.Now().Sub(s.pauses.LastBeat())
	if limit := 4*cfg.Supervisor.Tick.Duration + pauseAfter(cfg) + timeout; since > limit {
		return fmt.Errorf("the pause watch last beat %s ago (more than %s)", since.Round(time.Millisecond), limit)
	}
	for _, name := range []string{"", MachinesDir, RoutersDir, PoolsDir} {
		pid, what := s.root, "the supervision tree's root"
		if name != "" {
			pid, what = s.group(name), "the "+name+" group"
		}
		if pid == nil {
			return fmt.Errorf("%s is not running", what)
		}
		if _, err := s.sys.Root.RequestFuture(pid, &whenReady{}, timeout).Result(); err != nil {
			return fmt.Errorf("%s does not answer within %s: %w", what, timeout, err)
		}
	}
	return nil
}
