package control

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"standby/actors/state"
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
		cfg, d := saved(t, dir)
		if p := cfg.Pair("cam3"); p == nil || p.Router != "hub1" || len(d.GetOverrides()) != 1 || d.GetOverrides()[0].GetBy() != "cora" {
			t.Fatalf("persisted: %+v, %v", cfg.Pairs, d.GetOverrides())
		}
	})
	t.Run("restart", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		if p := pairOf(e.status(), "cam3"); p == nil || p.Backup != "s2" || p.Feeds[0].Outputs[0] != "3" {
			t.Errorf("cam3 after restart: %v", p)
		}
		if !strings.Contains(e.logs.String(), "pair cam3: added by cora") {
			t.Error("not logged that the operators' pair was used")
		}
	})
}

// TestInvalidPersistedMapping: operators' changes that no longer fit the config file (the file
// dropped a machine they use) are logged and the file runs as it is.
func TestInvalidPersistedMapping(t *testing.T) {
	dir := t.TempDir()
	d := state.New()
	d.Overrides = []*pb.Override{{Kind: state.KindPair, Name: "cam1", Change: state.Edited, Fields: []string{"backup"},
		Entry: "name = \"cam1\"\nbackup = \"ghost\"\n", By: "cora"}}
	if err := state.Save(dir, d); err != nil {
		t.Fatal(err)
	}
	e := startIn(t, dir, Options{})
	if p := pairOf(e.status(), "cam1"); p.Backup != "b1" {
		t.Errorf("cam1's backup is %q, want the file's b1", p.Backup)
	}
	if logs := e.logs.String(); !strings.Contains(logs, "do not fit this config file") || !strings.Contains(logs, `\"ghost\" is not a [[machine]]`) {
		t.Error("the invalid mapping and its error were not logged")
	}
}

// TestReloadKeepsMapping: a reloaded config file (SIGHUP) keeps the operators' edits, and a change
// the file makes to a field they did not edit takes effect.
func TestReloadKeepsMapping(t *testing.T) {
	e := start(t, Options{})
	if status, reply := e.httpDo("PUT", "/api/pairs/cam3/backup", tokConfigure, addCam3); status != 200 {
		t.Fatalf("add backup: %d %v", status, reply)
	}
	file, err := conf.Parse([]byte(strings.Replace(studio(e.dir), "mode = \"automatic\"\nfailback = \"manual\"", "mode = \"manual\"\nfailback = \"manual\"", 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := e.sup.Reload(file); err != nil {
		t.Fatal(err)
	}
	cfg := e.sup.Config()
	if cfg.Pair("cam3") == nil || cfg.Pair("cam1").Mode != "manual" {
		t.Errorf("after reload: cam3 %v, cam1 mode %s", cfg.Pair("cam3"), cfg.Pair("cam1").Mode)
	}
}

// TestRemoveBackupKeepsPair: removing cam1's backup is an edit of the backup, not of the pair:
// cam1 stays in its place (first) with its main and the mode an operator set; adding a backup
// again brings back its mode, failback and feeds, saved as they run.
func TestRemoveBackupKeepsPair(t *testing.T) {
	e := start(t, Options{})
	if status, reply := e.httpDo("POST", "/api/pairs/cam1/mode", tokOperate, `{"mode":"manual"}`); status != 200 {
		t.Fatalf("mode: %d %v", status, reply)
	}
	status, reply := e.httpDo("DELETE", "/api/pairs/cam1/backup", tokConfigure, "")
	if status != 200 {
		t.Fatalf("remove backup: %d %v", status, reply)
	}
	st := e.status()
	if len(st.Pairs) != 2 || st.Pairs[0].Name != "cam1" || st.Pairs[0].State != "no-backup" || st.Pairs[0].Main != "m1" ||
		st.Pairs[0].Backup != "" || st.Pairs[0].Mode != "manual" || st.Pairs[1].Name != "cam2" {
		t.Fatalf("pairs after removing cam1's backup: %s", mustJSON(st))
	}
	if m := machineOf(st, "b1"); m.Pair != "" {
		t.Errorf("b1 still in pair %q", m.Pair)
	}
	var out bytes.Buffer
	if err := WriteStatus(&out, st); err != nil || !regexp.MustCompile(`cam1\s+main\s+\*m1\s+none\s+manual\s+manual\s+no-backup`).MatchString(out.String()) {
		t.Errorf("ctl status (%v):\n%s", err, out.String())
	}
	status, reply = e.httpDo("DELETE", "/api/pairs/cam1/backup", tokConfigure, "")
	if status != 409 || reply["reason"] != `pair "cam1" has no backup to remove` {
		t.Errorf("removing it twice: %d %v", status, reply)
	}

	if status, reply := e.httpDo("PUT", "/api/pairs/cam1/backup", tokConfigure, `{"backup":"b1"}`); status != 200 {
		t.Fatalf("add the backup again: %d %v", status, reply)
	}
	st = e.waitStatus("cam1 armed again", 5*time.Second, func(st *pb.Status) bool {
		p := pairOf(st, "cam1")
		return p != nil && p.State == "on-main"
	})
	if p := st.Pairs[0]; p.Name != "cam1" || p.Backup != "b1" || p.Mode != "manual" || p.Failback != "manual" || p.Feeds[0].Outputs[0] != "1" {
		t.Errorf("cam1 after adding its backup again: %s", mustJSON(st))
	}
	cfg, _ := saved(t, e.dir)
	if len(cfg.Pairs) != 2 || cfg.Pairs[0].Name != "cam1" || cfg.Pairs[0].Mode != "manual" {
		t.Errorf("persisted: %+v", cfg.Pairs)
	}
}

// TestRemoveBackupOnAirRefused: the backup on air is not removed; the refusal says what to do
// first, and nothing changes.
func TestRemoveBackupOnAirRefused(t *testing.T) {
	e := start(t, Options{})
	if err := e.sup.SimulateService("m1", "engine", false); err != nil {
		t.Fatal(err)
	}
	before := e.waitStatus("cam1 on its backup", 5*time.Second, func(st *pb.Status) bool {
		p := pairOf(st, "cam1")
		return p != nil && p.State == "on-backup"
	})
	status, reply := e.httpDo("DELETE", "/api/pairs/cam1/backup", tokConfigure, "")
	if status != 409 || reply["reason"] != `pair "cam1": backup b1 is on air (or being switched); switch to the main m1 first, then remove the backup` {
		t.Errorf("removing the backup on air: %d %v", status, reply)
	}
	after := e.status()
	if p := pairOf(after, "cam1"); p == nil || p.Backup != "b1" || p.State != "on-backup" || len(after.Pairs) != len(before.Pairs) {
		t.Errorf("changed by a refused removal: %s", mustJSON(after))
	}
	if n := mappingEdits(t, e.dir); n != 0 {
		t.Errorf("%d mapping edits saved by a refused removal", n)
	}
}

// TestEditErrorsInPanelWords: a refused edit of cam1 names cam1 (not the pair whose output it
// collides with), the field, once, in the panel's words; an empty field says "required".
func TestEditErrorsInPanelWords(t *testing.T) {
	e := start(t, Options{})
	for _, c := range []struct {
		body, msg, field string
	}{
		{`{"feeds":[{"main_input":"1","backup_input":"2","outputs":["2"]}]}`,
			`cam1 · feed 1 · Outputs: output 2 of router "hub1" is already claimed by pair "cam2"`, "feed[0].outputs"},
		{`{"feeds":[{"main_input":"","backup_input":"2","outputs":["1"]}]}`, `cam1 · feed 1 · Main input: required`, "feed[0].main_input"},
		{`{"feeds":[]}`, `cam1 · Feeds: required: at least one feed (main input, backup input, outputs)`, "feed"},
	} {
		status, reply := e.httpDo("PUT", "/api/pairs/cam1/feeds", tokConfigure, c.body)
		errs, _ := reply["errors"].([]any)
		fields, _ := reply["error_fields"].([]any)
		if status != 422 || len(errs) != 1 || errs[0] != c.msg || len(fields) != 1 || fields[0] != c.field {
			t.Errorf("%s: %d errors %q fields %q", c.body, status, errs, fields)
		}
	}
	if p := pairOf(e.status(), "cam1"); p.Feeds[0].Outputs[0] != "1" || p.Feeds[0].MainInput != "1" {
		t.Errorf("cam1 changed by refused edits: %v", p.Feeds)
	}
	if n := mappingEdits(t, e.dir); n != 0 {
		t.Errorf("%d mapping edits saved by refused edits", n)
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
		if cfg, _ := saved(t, e.dir); len(cfg.Pairs) != 3 || len(cfg.Pairs[0].Feeds[0].Outputs) != 1 {
			t.Errorf("after a refused reload the file is not the first edit's: %+v", cfg.Pairs)
		}
		t.Fatalf("second edit: %d %v", status, reply)
	}
	if p := pairOf(e.status(), "cam1"); len(p.Feeds[0].Outputs) != 2 {
		t.Errorf("cam1 feeds: %v", p.Feeds)
	}
}

// TestPanelError: config errors of an edit of cam1 in the panel's words, told from cam1.
func TestPanelError(t *testing.T) {
	for _, c := range []struct {
		path, msg, want, field string
	}{
		{`pair "cam1".backup`, "missing", "cam1 · Backup machine: required", "backup"},
		{`pair "cam1".feed[1].backup_input`, "missing", "cam1 · feed 2 · Backup input: required", "feed[1].backup_input"},
		{`pair "cam2".feed[0].outputs[0]`, `output 2 of router "hub1" is already claimed by pair "cam1"`,
			`cam1 · feed 1 · Outputs: output 2 of router "hub1" is already claimed by pair "cam2"`, "feed[0].outputs"},
		{`pair "cam2".main`, `"m1" is already the main of pair "cam1"`, `cam1 · Main: "m1" is already the main of pair "cam2"`, "main"},
		{`pair "cam1".router`, `"hub9" is not a [[router]]`, `cam1 · Router: "hub9" is not a router`, "router"},
		{`pair[2].name`, "missing", "cam1 · Pair name: required", "name"},
		{`pool "renders".mains`, "missing", `pool "renders".mains: missing`, ""},
	} {
		msg, field := panelError("cam1", &conf.KeyError{Path: c.path, Msg: c.msg})
		if msg != c.want || field != c.field {
			t.Errorf("%s: %s\n got %q %q\nwant %q %q", c.path, c.msg, msg, field, c.want, c.field)
		}
	}
}

// TestRemovedBackupSurvivesRestart: a pair whose backup was removed is kept in the state document
// with what it ran (here the manual mode an operator set): after a restart it is still shown
// without a backup, and adding one brings back its mode, not the file's.
func TestRemovedBackupSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	t.Run("remove", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		if status, reply := e.httpDo("POST", "/api/pairs/cam1/mode", tokOperate, `{"mode":"manual"}`); status != 200 {
			t.Fatalf("mode: %d %v", status, reply)
		}
		if status, reply := e.httpDo("DELETE", "/api/pairs/cam1/backup", tokConfigure, ""); status != 200 {
			t.Fatalf("remove backup: %d %v", status, reply)
		}
		if _, d := saved(t, dir); len(d.GetDetached()) != 1 || d.GetDetached()[0].GetName() != "cam1" || d.GetDetached()[0].GetBy() != "cora" {
			t.Fatalf("state document: %v", d.GetDetached())
		}
	})
	t.Run("restart", func(t *testing.T) {
		e := startIn(t, dir, Options{})
		st := e.status()
		if len(st.Pairs) != 2 || st.Pairs[0].Name != "cam1" || st.Pairs[0].State != "no-backup" || st.Pairs[0].Mode != "manual" {
			t.Fatalf("after the restart: %s", mustJSON(st))
		}
		if status, reply := e.httpDo("PUT", "/api/pairs/cam1/backup", tokConfigure, `{"backup":"b1"}`); status != 200 {
			t.Fatalf("add the backup again: %d %v", status, reply)
		}
		if p := pairOf(e.status(), "cam1"); p.GetMode() != "manual" || p.GetBackup() != "b1" {
			t.Errorf("cam1 with its backup again: %v", p)
		}
		if _, d := saved(t, dir); len(d.GetDetached()) != 0 {
			t.Errorf("still detached in the state document: %v", d.GetDetached())
		}
	})
}
