package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicySurvivesRestart: mode and failback set by an operator are saved under state_dir and
// still in force after the supervisor restarts, over the config file's values.
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
		pol, err := LoadPolicy(dir)
		if err != nil || pol["cam1"].Mode != "manual" || pol["cam1"].Failback != "automatic" || pol["cam1"].By != "otto" {
			t.Fatalf("saved: %+v, %v", pol, err)
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
		if !strings.Contains(e.logs.String(), "mode manual as an operator set it, not automatic as configured") {
			t.Error("not logged that the operator's mode overrides the config's")
		}
	})
}

// TestInvalidPolicyFile: a policy file with a bad value is logged and ignored; the config's values
// stay in force and the next operator change replaces the file.
func TestInvalidPolicyFile(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, PolicyFile), []byte("version = 1\n[pair.cam1]\nmode = \"sometimes\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := startIn(t, dir, Options{})
	if p := pairOf(e.status(), "cam1"); p.Mode != "automatic" {
		t.Errorf("cam1 mode %s with an invalid policy file, want the config's automatic", p.Mode)
	}
	if !strings.Contains(e.logs.String(), `pair.cam1.mode: \"sometimes\" is not automatic or manual`) {
		t.Errorf("the invalid value was not logged with its key")
	}
	if status, reply := e.httpDo("POST", "/api/pairs/cam2/mode", tokOperate, `{"mode":"automatic"}`); status != 200 {
		t.Fatalf("mode: %d %v", status, reply)
	}
	if pol, err := LoadPolicy(dir); err != nil || pol["cam2"].Mode != "automatic" {
		t.Fatalf("after a new change: %+v, %v", pol, err)
	}
}
