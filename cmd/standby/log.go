package main

import (
	"fmt"
	"os"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/term"
)

// newLogger is every subcommand's logger: JSON lines on stderr, or a readable console when
// stderr is a terminal, at the given level.
func newLogger(level string) (zerolog.Logger, error) {
	lvl, err := zerolog.ParseLevel(level)
	if err != nil || level == "" {
		return zerolog.Nop(), fmt.Errorf("--log-level %q: use trace, debug, info, warn or error", level)
	}
	zerolog.TimeFieldFormat = time.RFC3339Nano
	zerolog.DurationFieldUnit = time.Millisecond
	zerolog.DurationFieldInteger = false
	// One format for durations everywhere: milliseconds with 3 decimals (switch_ms 1.234, not
	// 1.234567891); other floats in logs (health values) get 3 decimals too.
	zerolog.FloatingPointPrecision = 3
	var w = zerolog.New(os.Stderr)
	if term.IsTerminal(int(os.Stderr.Fd())) {
		w = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"})
	}
	return w.Level(lvl).With().Timestamp().Logger(), nil
}
