package state

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"
)

// TestOpenCleansAndChecksStateDir: Open removes the temporary files an interrupted save left
// (the saved document itself is kept and read), and a state_dir that cannot be written is
// logged at once, as Problem tells it, not found at the first save.
func TestOpenCleansAndChecksStateDir(t *testing.T) {
	dir := t.TempDir()
	file := parse(t, nil)
	d := New()
	d.Revision = 7
	if err := Save(dir, d); err != nil {
		t.Fatal(err)
	}
	torn := filepath.Join(dir, "."+File+"-8731.tmp")
	if err := os.WriteFile(torn, []byte("{\"revis"), 0o644); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	log := zerolog.New(zerolog.MultiLevelWriter(&logs, zerolog.NewTestWriter(t)))
	if got := Open(log, dir, file, t0); got.GetRevision() != 7 {
		t.Errorf("revision %d, want the saved 7", got.GetRevision())
	}
	if _, err := os.Stat(torn); !os.IsNotExist(err) {
		t.Errorf("temporary file still there: %v", err)
	}
	if !strings.Contains(logs.String(), "removed temporary files left in state_dir") {
		t.Errorf("removal not logged: %s", logs.String())
	}
	if p := Problem(dir); p != "" {
		t.Errorf("writable dir: %q", p)
	}

	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(blocker, "state")
	logs.Reset()
	Open(log, bad, file, t0)
	p := Problem(bad)
	if !strings.Contains(p, "supervisor.state_dir: "+bad+" cannot be written") || !strings.Contains(p, "not a directory") {
		t.Fatalf("problem %q", p)
	}
	if !strings.Contains(logs.String(), "cannot be written") || !strings.Contains(logs.String(), `"level":"error"`) {
		t.Errorf("not logged as an error at open: %s", logs.String())
	}
}
