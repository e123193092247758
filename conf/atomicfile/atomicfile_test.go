package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWrite: the file is replaced whole with its mode, its directory made, no temporary left.
func TestWrite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	p := filepath.Join(dir, "term")
	for _, content := range []string{"1\n", "22\n"} {
		if err := Write(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(p)
		if err != nil || string(b) != content {
			t.Fatalf("read %q %v, want %q", b, err, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v", fi.Mode())
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Fatalf("left behind: %v", es)
	}
}

// TestRemoveStale: the temporary files of an interrupted Write go, nothing else does.
func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []string{".state.json-123456.tmp", ".term-42.tmp", "state.json", "notes.tmp", ".x.tmp", "term"} {
		if err := os.WriteFile(filepath.Join(dir, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removed, err := RemoveStale(dir)
	if err != nil || len(removed) != 2 || removed[0] != ".state.json-123456.tmp" || removed[1] != ".term-42.tmp" {
		t.Fatalf("removed %v %v", removed, err)
	}
	es, _ := os.ReadDir(dir)
	var left []string
	for _, e := range es {
		left = append(left, e.Name())
	}
	if len(left) != 4 {
		t.Errorf("left %v", left)
	}
	if removed, err := RemoveStale(filepath.Join(dir, "missing")); err != nil || removed != nil {
		t.Errorf("missing dir: %v %v", removed, err)
	}
}

// TestCheckWritable: a directory that cannot be made or written is an error naming the cause
// (a path under a regular file fails even for root); a good one passes and keeps nothing.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "state")); err != nil {
		t.Fatal(err)
	}
	if es, _ := os.ReadDir(filepath.Join(dir, "state")); len(es) != 0 {
		t.Errorf("left behind: %v", es)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := CheckWritable(filepath.Join(file, "state")); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("under a file: %v", err)
	}
}
