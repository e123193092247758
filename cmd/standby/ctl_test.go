package main

import "testing"

// TestCtlAck: the three forms of ack name a pair's, a pool main's and a machine's alarm.
func TestCtlAck(t *testing.T) {
	for _, c := range []struct {
		words                    []string
		pair, main, machine, alm string
	}{
		{[]string{"ack", "cam1", "flap_guard"}, "cam1", "", "", "flap_guard"},
		{[]string{"ack", "renders", "render-4", "switch_failed"}, "renders", "render-4", "", "switch_failed"},
		{[]string{"ack", "machine", "render-1", "duplicate_agent"}, "", "", "render-1", "duplicate_agent"},
	} {
		req, err := ctlRequest(c.words)
		if err != nil {
			t.Fatalf("%v: %v", c.words, err)
		}
		a := req.GetAcknowledge()
		if a.GetPair() != c.pair || a.GetMain() != c.main || a.GetMachine() != c.machine || a.GetAlarm() != c.alm {
			t.Errorf("%v: %v", c.words, a)
		}
	}
	if _, err := ctlRequest([]string{"ack", "cam1"}); err == nil {
		t.Error("ack without an alarm accepted")
	}
}

func TestCtlActionTest(t *testing.T) {
	req, err := ctlRequest([]string{"action", "test", "tell-companion"})
	if err != nil || req.GetTestAction().GetAction() != "tell-companion" {
		t.Fatalf("%v %v", req, err)
	}
	for _, bad := range [][]string{{"action"}, {"action", "run", "x"}, {"action", "test"}} {
		if _, err := ctlRequest(bad); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
