package control

import (
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/actors/clock"
	"standby/protocol/pb"
)

// TestHubHistoryBounded: the hub keeps the last 200 events published, oldest first, for a panel
// that signs in or reloads; GET /api/events/history serves them.
func TestHubHistoryBounded(t *testing.T) {
	sys := actor.NewActorSystem()
	h := newHub(sys, clock.NewFake(time.Unix(1_700_000_000, 0)))
	t.Cleanup(h.Close)
	for i := 0; i < historyLen+50; i++ {
		h.publish(&pb.ControlEvent{Kind: "note"})
	}
	got := h.History()
	if len(got) != historyLen || got[0].Seq != 51 || got[len(got)-1].Seq != historyLen+50 {
		t.Fatalf("history: %d events, seq %d..%d", len(got), got[0].Seq, got[len(got)-1].Seq)
	}
}

// TestEventHistoryRoute: an operator's change is in the history the API serves (level 1 reads it).
func TestEventHistoryRoute(t *testing.T) {
	e := start(t, Options{})
	if status, reply := e.httpDo("POST", "/api/pairs/cam2/mode", tokOperate, `{"mode":"automatic"}`); status != 200 {
		t.Fatalf("mode: %d %v", status, reply)
	}
	status, reply := e.httpDo("GET", "/api/events/history", tokView, "")
	events, _ := reply["events"].([]any)
	if status != 200 || len(events) == 0 {
		t.Fatalf("history: %d %v", status, reply)
	}
	last := events[len(events)-1].(map[string]any)
	if last["kind"] != "operator" || last["op"] != "set_mode" || last["pair"] != "cam2" || last["operator"] != "otto" {
		t.Errorf("last event: %v", last)
	}
	if status, _ := e.httpDo("GET", "/api/events/history", "", ""); status != 401 {
		t.Errorf("without a token: %d", status)
	}
}
