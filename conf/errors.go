package conf

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Errors is every problem found in a config file, each naming its key path. Load returns all of
// them at once so an operator fixes a file in one pass, not one error per run.
type Errors []error

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, err := range e {
		lines[i] = err.Error()
	}
	return strings.Join(lines, "\n")
}

// KeyError is one problem at one key path, e.g. `pair "cam1".backup: "render-9" is not a [[machine]]`.
type KeyError struct {
	Path string
	Msg  string
}

func (e *KeyError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// errs collects KeyErrors during validation.
type errs struct{ list Errors }

func (c *errs) add(path, format string, args ...any) {
	c.list = append(c.list, &KeyError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (c *errs) err() error {
	if len(c.list) == 0 {
		return nil
	}
	return c.list
}

// Duration is a TOML duration written as a string ("250ms", "30s"). A bad value is kept and
// reported by validation together with every other error, instead of aborting the decode.
type Duration struct {
	time.Duration
	bad string // the raw text when it did not parse
}

// D builds a Duration from a time.Duration (for defaults and tests).
func D(d time.Duration) Duration { return Duration{Duration: d} }

// UnmarshalTOML implements toml.Unmarshaler.
func (d *Duration) UnmarshalTOML(v any) error {
	s, ok := v.(string)
	if !ok {
		d.bad = fmt.Sprintf("%v", v)
		return nil
	}
	parsed, err := time.ParseDuration(s)
	if err != nil {
		d.bad = s
		return nil
	}
	d.Duration, d.bad = parsed, ""
	return nil
}

// MarshalText writes the duration the way it is read.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// MarshalTOML writes the duration as a TOML string.
func (d Duration) MarshalTOML() ([]byte, error) {
	return []byte(strconv.Quote(d.Duration.String())), nil
}

// check reports a duration that did not parse or is below min.
func (d Duration) check(c *errs, path string, min time.Duration) {
	if d.bad != "" {
		c.add(path, "%q is not a duration (use e.g. \"250ms\", \"30s\", \"1m\")", d.bad)
		return
	}
	if d.Duration < min {
		c.add(path, "%s is too short (minimum %s)", d.Duration, min)
	}
}
