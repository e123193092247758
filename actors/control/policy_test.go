package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicySurvivesRestart: mode and failback set by an operator are saved in the state document
// and still in force after the supervisor restarts, over the config file's values.
func TestPolicySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	t.Run("set", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		if status, reply := e.httpDo("POST", "/api/pairs/cam1/mode", tokOperate, `{"mode":"manual"}`); status != 200 || len(reply["warnings"].([]any)) != 0 {
			t.Fatalf("mode: %d %v", status, reply)
		}
		if status, reply := e.httpDo("POST", "/api/pairs/cam1/failback", tokOperate, `{"failback":"automatic"}`); status != 200 {
			t.Fatalf("failback: %d %v", status, reply)
		}
		cfg, d := saved(t, dir)
		if p := cfg.Pair("cam1"); p.Mode != "manual" || p.Failback != "automatic" || d.GetOverrides()[0].GetBy() != "otto" {
			t.Fatalf("saved: %+v, %v", p, d.GetOverrides())
		}
	})
	t.Run("restart", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		p := pairOf(e.status(), "cam1")
		if p.Mode != "manual" || p.Failback != "automatic" {
			t.Errorf("cam1 after restart: mode %s, failback %s; want manual, automatic", p.Mode, p.Failback)
		}
		if q := pairOf(e.status(), "cam2"); q.Mode != "manual" || q.Failback != "manual" {
			t.Errorf("cam2, never touched, must keep the file's values: mode %s, failback %s", q.Mode, q.Failback)
		}
		if !strings.Contains(e.logs.String(), "pair cam1: failback, mode as otto") {
			t.Error("not logged that the operator's mode overrides the config's")
		}
	})
}

// TestMigratePolicyFile: an earlier version's policy.toml is migrated into the state document once
// (and renamed); one with a value the config cannot take is logged and left alone.
func TestMigratePolicyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.toml"), []byte("version = 1\n[pair.cam1]\nmode = \"manual\"\nby = \"otto\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startIn(t, dir, Options{})
	if p := pairOf(e.status(), "cam1"); p.Mode != "manual" {
		t.Errorf("cam1 mode %s after migration, want manual", p.Mode)
	}
	if _, err := os.Stat(filepath.Join(dir, "policy.toml.migrated")); err != nil || !strings.Contains(e.logs.String(), "migrated operators' mapping and policy") {
		t.Errorf("not migrated once with a log line: %v", err)
	}
	bad := t.TempDir()
	if err := os.WriteFile(filepath.Join(bad, "policy.toml"), []byte("version = 1\n[pair.cam1]\nmode = \"sometimes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e2 := startIn(t, bad, Options{})
	if p := pairOf(e2.status(), "cam1"); p.Mode != "automatic" {
		t.Errorf("cam1 mode %s with an invalid policy file, want the config's automatic", p.Mode)
	}
	if !strings.Contains(e2.logs.String(), "not migrated") || !strings.Contains(e2.logs.String(), "sometimes") {
		t.Errorf("the invalid value was not logged")
	}
}
