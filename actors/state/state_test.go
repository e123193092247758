package state

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/conf"
	"standby/protocol/pb"
)

var t0 = time.Date(2026, 12, 2, 20, 0, 0, 0, time.UTC)

func parse(t *testing.T, edit func(c *conf.Config)) *conf.Config {
	t.Helper()
	c := conf.Default()
	if edit != nil {
		edit(c)
	}
	v, err := conf.Check(c)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func logger(t *testing.T) zerolog.Logger { return zerolog.New(zerolog.NewTestWriter(t)) }

// TestOverridesPerField: an operator's feed edit overrides the feeds only; the file's later change
// of the same pair's mode takes effect, and a field set back to the file's value is no override.
func TestOverridesPerField(t *testing.T) {
	file := parse(t, nil)
	edited := parse(t, func(c *conf.Config) { c.Pair("cam1").Feeds[0].Outputs = []conf.Port{conf.N(12)} })
	ovs, err := Diff(file, edited, nil, "ana", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ovs) != 1 || ovs[0].GetName() != "cam1" || ovs[0].GetChange() != Edited || strings.Join(ovs[0].GetFields(), ",") != "feed" || ovs[0].GetBy() != "ana" {
		t.Fatalf("overrides: %v", ovs)
	}
	// The file changes cam1's mode later: both the file's mode and the operator's feeds hold.
	file2 := parse(t, func(c *conf.Config) { c.Pair("cam1").Mode = conf.ModeManual })
	got := Apply(logger(t), file2, ovs)
	if p := got.Pair("cam1"); p.Mode != conf.ModeManual || len(p.Feeds[0].Outputs) != 1 || p.Feeds[0].Outputs[0] != conf.N(12) {
		t.Fatalf("cam1 after apply: mode %s feeds %v", p.Mode, p.Feeds)
	}
	// Back to the file's outputs: no override left; an unchanged override keeps author and time.
	if ovs2, _ := Diff(file, file, ovs, "bob", t0); len(ovs2) != 0 {
		t.Fatalf("no change should leave no override: %v", ovs2)
	}
	ovs3, _ := Diff(file, edited, ovs, "bob", t0.Add(time.Hour))
	if ovs3[0].GetBy() != "ana" || ovs3[0].GetAtMs() != t0.UnixMilli() {
		t.Fatalf("unchanged override re-attributed: %v", ovs3[0])
	}
}

// TestAddRemove: pairs added and removed by operators, and an edit of a pair the file no longer has.
func TestAddRemove(t *testing.T) {
	file := parse(t, nil)
	edited := parse(t, func(c *conf.Config) {
		c.Pairs[0].Name = "cam9" // cam1 removed, cam9 added with its machines
	})
	ovs, err := Diff(file, edited, nil, "ana", t0)
	if err != nil {
		t.Fatal(err)
	}
	changes := map[string]string{}
	for _, o := range ovs {
		changes[o.GetName()] = o.GetChange()
	}
	if changes["cam1"] != Removed || changes["cam9"] != Added || len(changes) != 2 {
		t.Fatalf("changes: %v", changes)
	}
	got := Apply(logger(t), file, ovs)
	if got.Pair("cam1") != nil || got.Pair("cam9") == nil || got.Pair("cam9").Main != "render-1" {
		t.Fatalf("pairs after apply: %v", got.Pairs)
	}
	// The file drops cam2 (edited by an operator): the edit is ignored, the rest applies.
	ovs = append(ovs, &pb.Override{Kind: KindPair, Name: "gone", Change: Edited, Fields: []string{"mode"}, Entry: "name = \"gone\"\nmode = \"manual\"\n"})
	if got := Apply(logger(t), file, ovs); got.Pair("gone") != nil || got.Pair("cam9") == nil {
		t.Fatalf("stale override applied: %v", got.Pairs)
	}
}

// TestInvalidOverridesKeepFile: overrides that no longer fit the file (their machine is gone) leave
// the file's config running.
func TestInvalidOverridesKeepFile(t *testing.T) {
	file := parse(t, nil)
	ovs := []*pb.Override{{Kind: KindPair, Name: "cam1", Change: Edited, Fields: []string{"main"}, Entry: "name = \"cam1\"\nmain = \"nosuch\"\n"}}
	if got := Apply(logger(t), file, ovs); got != file {
		t.Fatalf("invalid overrides applied")
	}
}

// TestSaveLoad: a saved document reads back; a broken one is an error naming the file and problem.
func TestSaveLoad(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("no file: %v", err)
	}
	d := New()
	d.Revision, d.Term = 4, 2
	d.Overrides = []*pb.Override{{Kind: KindPool, Name: "renders", Change: Edited, Fields: []string{"mode"}, Entry: "name = \"renders\"\nmode = \"manual\"\n"}}
	d.Pools = []*pb.SyncState_Pool{{Name: "renders", Slots: []*pb.SyncState_Slot{{Main: "render-4", OnAir: "spare-1", FailedOver: true}}}}
	if err := Save(dir, d); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil || !Same(back, d) || back.GetRevision() != 4 {
		t.Fatalf("load: %v %v", back, err)
	}
	for _, bad := range []string{`{"format": 7}`, `{"format": 1, "overrides": [{"kind": "pair", "name": "x", "change": "edited", "entry": "bogus = 1"}]}`, `not json`} {
		if err := os.WriteFile(filepath.Join(dir, File), []byte(bad), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), File) {
			t.Fatalf("%s: %v", bad, err)
		}
	}
	// Open keeps an unreadable document aside and starts empty.
	d2 := Open(logger(t), dir, parse(t, nil), t0)
	if len(d2.GetOverrides()) != 0 {
		t.Fatalf("open of a bad file: %v", d2)
	}
	if _, err := os.Stat(filepath.Join(dir, File+".bad-20261202T200000Z")); err != nil {
		t.Fatalf("bad file not kept aside: %v", err)
	}
}

// TestMigrate: an earlier version's mapping.toml and policy.toml become overrides once; the old
// files are renamed.
func TestMigrate(t *testing.T) {
	dir := t.TempDir()
	file := parse(t, nil)
	edited := parse(t, func(c *conf.Config) { c.Pair("cam2").Feeds[0].Outputs = []conf.Port{conf.N(11)} })
	var mapping strings.Builder
	mapping.WriteString("version = 1\n")
	b, _ := conf.Encode(&conf.Config{Pairs: edited.Pairs})
	mapping.Write(b)
	if err := os.WriteFile(filepath.Join(dir, legacyMapping), []byte(mapping.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, legacyPolicy), []byte("version = 1\n[pair.renders]\nmode = \"manual\"\nby = \"ana\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	d := Open(logger(t), dir, file, t0)
	got := Apply(logger(t), file, d.GetOverrides())
	if got.Pool("renders").Mode != conf.ModeManual || got.Pair("cam2").Feeds[0].Outputs[0] != conf.N(11) {
		t.Fatalf("migrated: %v", d.GetOverrides())
	}
	for _, n := range []string{legacyMapping, legacyPolicy} {
		if _, err := os.Stat(filepath.Join(dir, n+".migrated")); err != nil {
			t.Fatalf("%s not renamed: %v", n, err)
		}
	}
	if again, err := Load(dir); err != nil || !Same(again, d) {
		t.Fatalf("saved: %v %v", again, err)
	}
}
