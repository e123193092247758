package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/actors/router"
)

// TestHelpExitsZero: -h and --help on every subcommand (and its subcommands) print the usage and
// exit 0; asking for help is not a usage error.
func TestHelpExitsZero(t *testing.T) {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	sub := map[string][]string{"sim": {"videohub"}, "certs": {"init", "issue", "show"}, "bench": {"soak", "plot", "agents", "burn"}}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // nothing asked for help may start anything
	for _, n := range names {
		forms := [][]string{{"--help"}, {"-h"}}
		for _, s := range sub[n] {
			forms = append(forms, []string{s, "--help"})
		}
		for _, f := range forms {
			if code := commands[n].run(ctx, f); code != 0 {
				t.Errorf("standby %s %s: exit %d, want 0", n, strings.Join(f, " "), code)
			}
		}
	}
}

// TestCheckNamesItsFile: `standby check FILE` checks FILE; a missing file, a second argument or
// two different files are refused naming them, never answered with the embedded demo's "ok".
func TestCheckNamesItsFile(t *testing.T) {
	good := filepath.Join(t.TempDir(), "studio.toml")
	if err := os.WriteFile(good, []byte(demoLike(t)), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		code int
		want string // in stdout (exit 0) or stderr
	}{
		{[]string{good}, 0, good + ": ok"},
		{[]string{"--config", good}, 0, good + ": ok"},
		{[]string{good, "--config", good}, 0, good + ": ok"},
		{[]string{"extra-arg"}, 1, "extra-arg: cannot read it: no such file or directory"},
		{[]string{"/nonexistent.toml"}, 1, "/nonexistent.toml: cannot read it"},
		{[]string{good, "extra-arg"}, 2, `one config file at most, got 2 arguments: ["` + good + `" "extra-arg"]`},
		{[]string{"--config", good, "other.toml"}, 2, "two config files: --config " + good + " and other.toml"},
	} {
		var out, errs bytes.Buffer
		code := checkMain(&out, &errs, c.args)
		got := errs.String()
		if c.code == 0 {
			got = out.String()
		}
		if code != c.code || !strings.Contains(got, c.want) {
			t.Errorf("standby check %q: exit %d, want %d with %q\nstdout: %s\nstderr: %s", c.args, code, c.code, c.want, out.String(), errs.String())
		}
		if c.code != 0 && strings.Contains(out.String(), "embedded default.toml") {
			t.Errorf("standby check %q fell back to the demo: %s", c.args, out.String())
		}
	}
}

// TestRunRefusesMissingFile: `standby run /nonexistent.toml` exits 1 naming the file instead of
// starting the demo studio (the context is already cancelled: before the fix the demo started,
// stopped at once and exited 0).
func TestRunRefusesMissingFile(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, args := range [][]string{{"/nonexistent.toml"}, {"--config", "/nonexistent.toml"}, {"a.toml", "b.toml"}} {
		if code := cmdRun(ctx, args); code == 0 {
			t.Errorf("standby run %q: exit 0, want a refusal", args)
		}
	}
}

// demoLike is a small valid studio: runConfig with a state_dir of the test's.
func demoLike(t *testing.T) string {
	return strings.Replace(runConfig, "state_dir = %q", "state_dir = \""+t.TempDir()+"\"", 1)
}

// TestCheckWarnsOfAnEmptyConfig: an empty file passes only with a warning that it protects
// nothing (it used to be a plain "ok").
func TestCheckWarnsOfAnEmptyConfig(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty.toml")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs bytes.Buffer
	if code := checkMain(&out, &errs, []string{empty}); code != 0 || !strings.Contains(errs.String(), "warning: pair, pool: none: this config protects nothing") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out.String(), errs.String())
	}
}

// TestLogDurationsInMillis: durations in logs are milliseconds with 3 decimals.
func TestLogDurationsInMillis(t *testing.T) {
	if _, err := newLogger("info"); err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	l := zerolog.New(&b)
	l.Info().Dur("switch_ms", 1234567*time.Nanosecond).Msg("x")
	if !strings.Contains(b.String(), `"switch_ms":1.235`) || strings.Contains(b.String(), "1.2345") {
		t.Fatalf("log line %s", b.String())
	}
	if got := router.Millis(1234567 * time.Nanosecond); got != "1.235 ms" {
		t.Fatalf("router.Millis: %q", got)
	}
}
