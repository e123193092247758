package control

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"standby/actors/agentgw"
	"standby/protocol/pb"
)

// TestOverloadShown: while the agent gateway says the supervisor is behind its reports, the
// status leads with a warning saying so and what it does about it, /metrics has the gauge, and
// the event log has the alarm and its clearing.
func TestOverloadShown(t *testing.T) {
	e := start(t, Options{})
	events, cancel := e.ctl.hub.Subscribe(64)
	defer cancel()
	e.sup.System().EventStream.Publish(&agentgw.Overloaded{Active: true, Lag: 180 * time.Millisecond, Backlog: 31000})
	e.waitStatus("the overload warning", 5*time.Second, func(st *pb.Status) bool {
		return len(st.GetWarnings()) > 0 && strings.HasPrefix(st.GetWarnings()[0], "supervisor overloaded: reports waited 180.000 ms in its queue (31000 reports waiting)")
	})
	if got := testutil.ToFloat64(e.ctl.hub.metrics.overloaded); got != 1 {
		t.Errorf("standby_supervisor_overloaded = %v during the episode", got)
	}
	// An update of the same episode: fresh figures in the status, no second alarm.
	e.sup.System().EventStream.Publish(&agentgw.Overloaded{Active: true, Update: true, Lag: 200 * time.Millisecond, Backlog: 20000,
		Rate: 150000, Shed: 4200})
	e.waitStatus("the updated figures", 5*time.Second, func(st *pb.Status) bool {
		return len(st.GetWarnings()) > 0 && strings.HasPrefix(st.GetWarnings()[0],
			"supervisor overloaded: reports waited 200.000 ms in its queue (20000 reports waiting, serving 150000 reports/s, 4200 heartbeats shed)")
	})
	if got := testutil.ToFloat64(e.ctl.hub.metrics.overloads); got != 1 {
		t.Errorf("standby_supervisor_overloads_total = %v after an update, want 1", got)
	}
	e.sup.System().EventStream.Publish(&agentgw.Overloaded{Lag: 240 * time.Millisecond})
	e.waitStatus("the warning gone", 5*time.Second, func(st *pb.Status) bool {
		for _, w := range st.GetWarnings() {
			if strings.Contains(w, "overloaded") {
				return false
			}
		}
		return true
	})
	if got := testutil.ToFloat64(e.ctl.hub.metrics.overloaded); got != 0 {
		t.Errorf("standby_supervisor_overloaded = %v after the episode", got)
	}
	var kinds []string
	deadline := time.After(5 * time.Second)
	for len(kinds) < 2 {
		select {
		case ev := <-events:
			if ev.GetAlarm() == "supervisor_overloaded" {
				kinds = append(kinds, ev.GetKind())
			}
		case <-deadline:
			t.Fatalf("overload events: %v", kinds)
		}
	}
	if kinds[0] != "alarm" || kinds[1] != "alarm_cleared" {
		t.Errorf("overload events: %v", kinds)
	}
}

// TestRemoteSwitchNeverToggles: a remote switch without a target is refused with what to send,
// like the HTTP one, and nothing moves (a repeated request used to flip the routing back).
func TestRemoteSwitchNeverToggles(t *testing.T) {
	e := start(t, Options{})
	r := e.ctl.svc.Do("test", &pb.ControlRequest{Token: tokOperate, Op: &pb.ControlRequest_Switch{Switch: &pb.ControlRequest_SwitchOp{Pair: "cam1"}}})
	if r.GetOk() || r.GetCode() != pb.Code_CODE_BAD_REQUEST || !strings.Contains(r.GetReason(), "to: missing: main or backup") {
		t.Fatalf("switch without a target: %v", r)
	}
	if p := pairOf(e.status(), "cam1"); p.GetOnAir() != "main" || p.GetEpoch() != 0 {
		t.Errorf("cam1 after the refusal: on air %s, epoch %d", p.GetOnAir(), p.GetEpoch())
	}
}
