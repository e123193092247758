package main

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"standby/actors/control"
	"standby/actors/supervisor"
	"standby/actors/systemd"
	"standby/conf"
)

// reloader reads the config file again for SIGHUP and `standby ctl reload`, one at a time: an
// invalid file, or one that would remove every pair or more than half of them without force
// (supervisor.GuardReload), is refused and the running config kept; otherwise apply hands it to
// the supervisor and reload waits for outcome.
type reloader struct {
	path    string
	log     zerolog.Logger
	cs      *control.ConfigState
	apply   func(*conf.Config) error // hands a valid file to the supervisor (Run's reload channel)
	applied chan error               // the supervisor's outcome (outcome), capacity 1

	mu   sync.Mutex
	file *conf.Config // the file running now: what a reload is guarded against
}

// reload reads and runs the file; by names who asked, for the log. It returns the outcome in
// words, or why nothing changed.
func (r *reloader) reload(ctx context.Context, by string, force bool) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	name := configName(r.path)
	notifyErr(r.log, systemd.Reloading("reloading "+name))
	refuse := func(err error) (string, error) {
		r.cs.Rejected()
		notifyErr(r.log, systemd.Ready("reload rejected, running config kept: "+firstLine(err.Error())))
		return "", err
	}
	next, raw, err := loadConfig(r.path)
	if err != nil {
		r.log.Error().Str("config", name).Str("by", by).Msgf("reload rejected, running config kept:\n%v", err)
		return refuse(fmt.Errorf("reload rejected, running config kept: %s: %v", name, err))
	}
	if err := supervisor.GuardReload(r.file, next); err != nil {
		if !force {
			r.log.Error().Str("config", name).Str("by", by).Msg(err.Error())
			return refuse(err)
		}
		r.log.Warn().Str("config", name).Str("by", by).Msgf("reload forced: %v", err)
	}
	r.cs.Offered(raw)
	if err := r.apply(next); err != nil {
		return "", err
	}
	select {
	case err := <-r.applied:
		if err != nil {
			return "", fmt.Errorf("reload failed, running config kept: %w", err)
		}
		r.file = next
		return fmt.Sprintf("config reloaded from %s", name), nil
	case <-ctx.Done():
		return "", errors.New("stopping")
	}
}

// outcome is the supervisor's OnReload: the result of the file reload handed over.
func (r *reloader) outcome(err error) {
	r.cs.Applied(err)
	if err != nil {
		notifyErr(r.log, systemd.Ready("reload failed, running config kept: "+firstLine(err.Error())))
	} else {
		notifyErr(r.log, systemd.Ready("config reloaded"))
	}
	select {
	case r.applied <- err:
	default:
	}
}
