// Package systemd tells systemd about the supervisor's life over the sd_notify protocol (a
// datagram to $NOTIFY_SOCKET, sent with github.com/coreos/go-systemd/v22/daemon): READY=1 once
// the supervisor's actors and control surfaces are up, RELOADING=1 and READY=1 around a SIGHUP
// reload, STOPPING=1, a STATUS= line for `systemctl status`, and WATCHDOG=1 while a liveness check
// passes, so systemd restarts a supervisor that is wedged and not only one that died
// (WatchdogSec= in the unit). Outside systemd ($NOTIFY_SOCKET unset) every call does nothing.
package systemd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"github.com/rs/zerolog"
)

// notify sends one state datagram; false without $NOTIFY_SOCKET.
func notify(lines ...string) (bool, error) {
	sent, err := daemon.SdNotify(false, strings.Join(lines, "\n"))
	if err != nil {
		return sent, fmt.Errorf("sd_notify: %w", err)
	}
	return sent, nil
}

// status is a STATUS= line: one line, as systemctl status shows it.
func status(s string) string {
	return "STATUS=" + strings.NewReplacer("\n", " ", "\r", " ").Replace(s)
}

// Ready tells systemd the service is up (start finished, or a reload done), with a status line.
func Ready(statusLine string) error {
	_, err := notify(daemon.SdNotifyReady, status(statusLine))
	return err
}

// Reloading tells systemd a reload began; Ready ends it. The monotonic time is what
// Type=notify-reload asks for (systemd 253 and later); older ones ignore it.
func Reloading(statusLine string) error {
	_, err := notify(daemon.SdNotifyReloading, strings.TrimSuffix(daemon.SdNotifyMonotonicUsec(), "\n"), status(statusLine))
	return err
}

// Stopping tells systemd the service is shutting down.
func Stopping(statusLine string) error {
	_, err := notify(daemon.SdNotifyStopping, status(statusLine))
	return err
}

// Status updates the status line only.
func Status(statusLine string) error {
	_, err := notify(status(statusLine))
	return err
}

// WatchdogOptions configure Watchdog.
type WatchdogOptions struct {
	// Alive is called on every beat; WATCHDOG=1 is sent only when it returns nil. It must return
	// within the beat interval (give it a timeout of at most a quarter of the watchdog's).
	Alive func() error
	// Timeout is the watchdog's timeout; zero reads it from $WATCHDOG_USEC (and $WATCHDOG_PID),
	// as systemd sets them for WatchdogSec=.
	Timeout time.Duration
	// Ticks overrides the beat (tests drive it); nil beats every Timeout/2.
	Ticks  <-chan time.Time
	Logger zerolog.Logger
}

// WatchdogTimeout is systemd's watchdog timeout for this process, 0 when there is none.
func WatchdogTimeout() (time.Duration, error) {
	d, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		return 0, fmt.Errorf("systemd watchdog: %w", err)
	}
	return d, nil
}

// Watchdog feeds systemd's watchdog until ctx is done: every Timeout/2 it calls Alive and sends
// WATCHDOG=1 when that passed. A failed check is logged once per run of failures and nothing is
// sent, so systemd kills and restarts the service once the checks keep failing for Timeout. It
// returns at once when there is no watchdog.
func Watchdog(ctx context.Context, o WatchdogOptions) error {
	if o.Timeout == 0 {
		d, err := WatchdogTimeout()
		if err != nil {
			return err
		}
		o.Timeout = d
	}
	if o.Timeout <= 0 {
		return nil
	}
	ticks := o.Ticks
	if ticks == nil {
		t := time.NewTicker(o.Timeout / 2)
		defer t.Stop()
		ticks = t.C
	}
	o.Logger.Info().Dur("watchdog_ms", o.Timeout).Msg("systemd watchdog: fed while the supervisor answers")
	failing := false
	beat := func() {
		if o.Alive != nil {
			if err := o.Alive(); err != nil {
				if !failing {
					o.Logger.Error().Err(err).Dur("watchdog_ms", o.Timeout).
						Msg("systemd watchdog not fed: the supervisor does not answer; systemd restarts it if this lasts")
				}
				failing = true
				return
			}
		}
		if failing {
			o.Logger.Warn().Msg("systemd watchdog fed again: the supervisor answers")
		}
		failing = false
		if _, err := notify(daemon.SdNotifyWatchdog); err != nil {
			o.Logger.Warn().Err(err).Msg("systemd watchdog")
		}
	}
	beat() // at once: the first beat must not wait half the timeout
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
			beat()
		}
	}
}
