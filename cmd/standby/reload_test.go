package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"standby/actors/control"
	"standby/actors/supervisor"
	"standby/conf"
)

// TestReloadGuard: a reload (SIGHUP, ctl reload) of a file that removes every pair is refused
// with the reason and how to confirm, an invalid file with its errors, and the supervisor keeps
// running what it ran; --force applies it, logged as forced.
func TestReloadGuard(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "studio.toml")
	text := fmt.Sprintf(runConfig, dir)
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, raw, err := loadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	log := zerolog.New(zerolog.NewTestWriter(t))
	s, err := supervisor.Start(supervisor.Options{Config: cfg, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	cs := control.NewConfigState(nil)
	cs.Loaded(raw)
	rl := &reloader{path: path, log: log, cs: cs, file: cfg, applied: make(chan error, 1)}
	rl.apply = func(next *conf.Config) error {
		go func() { rl.outcome(s.Reload(next)) }() // as supervisor.Run does
		return nil
	}
	pools := func() string {
		var names []string
		for _, e := range s.PoolEntries() {
			names = append(names, e.Name)
		}
		return strings.Join(names, ",")
	}
	if got := pools(); got != "cam1" {
		t.Fatalf("running %q", got)
	}
	ctx := context.Background()
	for _, c := range []struct{ name, text, want string }{
		{"empty file", "", "reload refused, running config kept: the file removes every pair and pool (1 of 1: pair cam1), leaving them unprotected; if that is meant, confirm with `standby ctl reload --force`"},
		{"cut before the pairs", text[:strings.Index(text, "[[pair]]")], "the file removes every pair and pool (1 of 1: pair cam1)"},
		{"invalid", text + "\n[[pair]]\nname = \"cam2\"\n", "reload rejected, running config kept: " + path + ": "},
	} {
		if err := os.WriteFile(path, []byte(c.text), 0o644); err != nil {
			t.Fatal(err)
		}
		msg, err := rl.reload(ctx, "operator cora", false)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %q %v, want %q", c.name, msg, err, c.want)
		}
		if got := pools(); got != "cam1" || len(s.Config().Pairs) != 1 {
			t.Errorf("%s: the refused reload changed the running pools to %q", c.name, got)
		}
		if _, ok, _ := cs.Running(); ok {
			t.Errorf("%s: /metrics says the last reload was applied", c.name)
		}
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if msg, err := rl.reload(ctx, "operator cora", true); err != nil || msg != "config reloaded from "+path {
		t.Fatalf("forced: %q %v", msg, err)
	}
	if got := pools(); got != "" {
		t.Errorf("forced reload of an empty file still runs %q", got)
	}
}
