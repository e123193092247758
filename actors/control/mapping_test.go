package control

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/conf"
	"standby/protocol/pb"
)

const addCam3 = `{"backup":"s2","main":"s1","feeds":[{"main_input":"5","backup_input":"6","outputs":["3"]}]}`

// TestMappingSurvivesRestart: an added pairing is saved under state_dir and replaces the file's
// pairs when the supervisor starts again.
func TestMappingSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	t.Run("edit", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		status, reply := e.httpDo("PUT", "/api/pairs/cam3/backup", tokConfigure, addCam3)
		if status != 200 {
			t.Fatalf("add backup: %d %v", status, reply)
		}
		// s1 and s2 have different licence features: saved, with the warning.
		if w, _ := reply["warnings"].([]any); len(w) != 1 || !strings.Contains(w[0].(string), "different features") {
			t.Errorf("warnings: %v", reply["warnings"])
		}
		st := e.waitStatus("cam3 armed", 5*time.Second, func(st *pb.Status) bool {
			p := pairOf(st, "cam3")
			return p != nil && p.State == "on-main"
		})
		if m := machineOf(st, "s2"); m.Pair != "cam3" || m.Side != "backup" {
			t.Errorf("s2: pair %q side %q", m.Pair, m.Side)
		}
		mp, err := LoadMapping(dir)
		pairs := mp.Pairs
		if err != nil || len(pairs) != 3 || pairs[2].Name != "cam3" || pairs[2].Router != "hub1" {
			t.Fatalf("persisted: %+v, %v", pairs, err)
		}
	})
	t.Run("restart", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		if p := pairOf(e.status(), "cam3"); p == nil || p.Backup != "s2" || p.Feeds[0].Outputs[0] != "3" {
			t.Errorf("cam3 after restart: %v", p)
		}
		if !strings.Contains(e.logs.String(), "persisted mapping replaces the config file's pairs") {
			t.Error("not logged that the persisted mapping was used")
		}
	})
}

// TestInvalidPersistedMapping: a mapping that does not fit the config file is logged and ignored.
func TestInvalidPersistedMapping(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Parse([]byte(studio(dir)))
	if err != nil {
		t.Fatal(err)
	}
	pairs := clonePairs(cfg.Pairs)
	pairs[0].Backup = "ghost"
	if err := SaveMapping(dir, pairs, nil); err != nil {
		t.Fatal(err)
	}
	e := startIn(t, dir, Options{})
	if p := pairOf(e.status(), "cam1"); p.Backup != "b1" {
		t.Errorf("cam1's backup is %q, want the file's b1", p.Backup)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "persisted mapping invalid") || !strings.Contains(logs, `\"ghost\" is not a [[machine]]`) {
		t.Error("the invalid mapping and its error were not logged")
	}
}

// TestReloadsKeepMapping: a reloaded config file (SIGHUP) keeps the persisted mapping.
func TestReloadsKeepMapping(t *testing.T) {
	dir := t.TempDir()
	cfg, err := conf.Parse([]byte(studio(dir)))
	if err != nil {
		t.Fatal(err)
	}
	pairs := clonePairs(cfg.Pairs[:1])
	if err := SaveMapping(dir, pairs, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	in := make(chan *conf.Config)
	out := Reloads(ctx, zerolog.New(zerolog.NewTestWriter(t)), in)
	in <- cfg
	select {
	case got := <-out:
		if len(got.Pairs) != 1 || got.Pairs[0].Name != "cam1" {
			t.Errorf("reloaded pairs: %+v", got.Pairs)
		}
	case <-ctx.Done():
		t.Fatal("no config out")
	}
}

// TestRemoveBackupAndModeKept: removing a backup dissolves the pairing; a feeds edit keeps the
// mode an operator set.
func TestRemoveBackupAndModeKept(t *testing.T) {
	e := start(t, Options{})
	if status, reply := e.httpDo("POST", "/api/pairs/cam2/mode", tokOperate, `{"mode":"automatic"}`); status != 200 {
		t.Fatalf("mode: %d %v", status, reply)
	}
	status, reply := e.httpDo("DELETE", "/api/pairs/cam1/backup", tokConfigure, "")
	if status != 200 {
		t.Fatalf("remove backup: %d %v", status, reply)
	}
	st := e.status()
	if len(st.Pairs) != 1 || st.Pairs[0].Name != "cam2" || st.Pairs[0].Mode != "automatic" {
		t.Errorf("pairs after removing cam1's backup: %s", mustJSON(st))
	}
	if m := machineOf(st, "b1"); m.Pair != "" {
		t.Errorf("b1 still in pair %q", m.Pair)
	}
	mp, err := LoadMapping(e.dir)
	pairs := mp.Pairs
	if err != nil || len(pairs) != 1 || pairs[0].Mode != "automatic" {
		t.Errorf("persisted: %+v %v", pairs, err)
	}
}

// TestMappingEditsInARow: edits one after the other. The second one needs the supervision tree to
// replace a router actor twice; until it can, the edit must be refused and the file on disk must
// still be the first edit's.
func TestMappingEditsInARow(t *testing.T) {
	e := start(t, Options{})
	if status, reply := e.httpDo("PUT", "/api/pairs/cam3/backup", tokConfigure, addCam3); status != 200 {
		t.Fatalf("first edit: %d %v", status, reply)
	}
	status, reply := e.httpDo("PUT", "/api/pairs/cam1/feeds", tokConfigure, `{"feeds":[{"main_input":"1","backup_input":"2","outputs":["1","4"]}]}`)
	if status != 200 {
		mp, err := LoadMapping(e.dir)
		pairs := mp.Pairs
		if err != nil || len(pairs) != 3 || len(pairs[0].Feeds[0].Outputs) != 1 {
			t.Errorf("after a refused reload the file is not the first edit's: %+v %v", pairs, err)
		}
		t.Fatalf("second edit: %d %v", status, reply)
	}
	if p := pairOf(e.status(), "cam1"); len(p.Feeds[0].Outputs) != 2 {
		t.Errorf("cam1 feeds: %v", p.Feeds)
	}
}

// TestSaveMappingAtomic: the file is replaced whole, and no temporary file is left behind.
func TestSaveMappingAtomic(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	cfg, err := conf.Parse([]byte(studio(dir)))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := SaveMapping(dir, cfg.Pairs[:1+i%2], nil); err != nil {
			t.Fatal(err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != MappingFile {
		t.Errorf("state dir holds %v", entries)
	}
	mp, err := LoadMapping(dir)
	pairs := mp.Pairs
	if err != nil || len(pairs) != 1 {
		t.Errorf("loaded %+v %v", pairs, err)
	}
	if err := os.WriteFile(filepath.Join(dir, MappingFile), []byte("version = 1\nbogus = 2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadMapping(dir); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("unknown key accepted: %v", err)
	}
}
