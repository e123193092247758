package supervisor

import (
	"strings"
	"testing"
	"time"
)

// TestAlive: a running supervisor answers systemd's watchdog check; one whose pause watch stopped
// beating (the fake clock moved far without a beat) or whose tree stopped does not.
func TestAlive(t *testing.T) {
	h := start(t, threePairs, Options{})
	if err := h.sup.Alive(2 * time.Second); err != nil {
		t.Fatalf("a running supervisor: %v", err)
	}
	h.clk.Advance(time.Hour)
	if err := h.sup.Alive(2 * time.Second); err == nil || !strings.Contains(err.Error(), "pause watch last beat") {
		t.Errorf("a pause watch that did not beat for an hour: %v", err)
	}
	h.sup.pauses.Check() // it beats again
	if err := h.sup.Alive(2 * time.Second); err != nil {
		t.Errorf("after the beat: %v", err)
	}
	h.sup.Stop()
	if err := h.sup.Alive(200 * time.Millisecond); err == nil {
		t.Error("a stopped supervisor looks alive")
	}
}
