package conf

import (
	"strings"
	"testing"
)

// TestStudioRoundTrip: the demo studio's sections, sent as StudioTOML, rebuild the same studio on
// a secondary's minimal file, and StudioDiff names what differs.
func TestStudioRoundTrip(t *testing.T) {
	primary := Default()
	text, err := StudioTOML(primary)
	if err != nil {
		t.Fatal(err)
	}
	own, err := Parse([]byte("[supervisor]\nname = \"b\"\nlisten = \"127.0.0.1:7410\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if HasStudio(own) {
		t.Fatal("a minimal file has no studio")
	}
	got, err := WithStudio(own, text)
	if err != nil {
		t.Fatal(err)
	}
	if d := StudioDiff(primary, got, 5); len(d) != 0 || got.Supervisor.Name != "b" || len(got.Actions) != len(primary.Actions) {
		t.Fatalf("differences after the round trip: %v (supervisor %q)", d, got.Supervisor.Name)
	}
	got.Pairs[0].Mode = ModeManual
	got.Machines = got.Machines[1:]
	if d := StudioDiff(primary, got, 5); len(d) != 2 || !strings.Contains(d[0], "only in the first") || !strings.Contains(d[1], `pair "cam1"`) {
		t.Fatalf("diff: %v", d)
	}
	if _, err := WithStudio(own, "bogus = 1\n"); err == nil || !strings.Contains(err.Error(), "unknown key bogus") {
		t.Fatalf("unknown key: %v", err)
	}
}
