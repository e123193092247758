package control

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"standby/actors/machine"
	"standby/actors/supervisor"
	"standby/protocol/pb"
)

// impostor reports machine name as a second agent session, every 50 ms until the test ends or
// stop is called, always with its engine down.
func (e *env) impostor(name string, session uint64) (stop func()) {
	pid := e.sup.PID(supervisor.MachinesDir, name)
	done, finished := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(finished)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for seq := uint64(1); ; seq++ {
			e.sup.System().Root.Send(pid, &machine.Report{Machine: name, Session: session, Seq: seq, From: "10.9.9.9:7401",
				Services: []machine.Service{{Name: "engine", Up: false, Reason: "exited"}}})
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	}()
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			close(done)
			<-finished
		}
	}
	e.t.Cleanup(stop)
	return stop
}

func machineAlarm(st *pb.Status, name, kind string) *pb.Status_Alarm {
	if m := machineOf(st, name); m != nil {
		for _, a := range m.Alarms {
			if a.Kind == kind {
				return a
			}
		}
	}
	return nil
}

// TestMachineAlarmDuplicateAgent: a second agent session reporting s1 while its own agent (the demo
// driver) keeps reporting raises duplicate_agent on the machine: in the status, on the event stream,
// in `standby ctl status`; acknowledging it (level 2, HTTP or remote) makes s1 follow the newcomer;
// it clears once the held session falls silent.
func TestMachineAlarmDuplicateAgent(t *testing.T) {
	e := start(t, Options{})
	events, cancel := e.ctl.hub.Subscribe(1024)
	defer cancel()
	stopImpostor := e.impostor("s1", 4242)

	st := e.waitStatus("duplicate_agent on s1", 5*time.Second, func(st *pb.Status) bool {
		a := machineAlarm(st, "s1", "duplicate_agent")
		return a != nil && a.Active && !a.Acked
	})
	a := machineAlarm(st, "s1", "duplicate_agent")
	if !strings.HasPrefix(a.Message, "two agents report s1: ") || !strings.Contains(a.Message, "established") ||
		!strings.Contains(a.Message, "10.9.9.9:7401 (session 4242, held until acknowledged)") {
		t.Fatalf("alarm message %q", a.Message)
	}
	if m := machineOf(st, "s1"); m.Failure != "" {
		t.Fatalf("s1 follows the impostor's engine down: %+v", m)
	}
	var ev *pb.ControlEvent
	for ev == nil {
		select {
		case x := <-events:
			if x.Kind == "alarm" && x.Machine == "s1" {
				ev = x
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no alarm event for s1")
		}
	}
	if ev.Alarm != "duplicate_agent" || ev.Detail != a.Message || ev.Pair != "" {
		t.Fatalf("alarm event %v", ev)
	}
	if line := FormatEvent(ev); !strings.Contains(line, "machine=s1 alarm=duplicate_agent") {
		t.Fatalf("watch line %q", line)
	}
	var b bytes.Buffer
	if err := WriteStatus(&b, st); err != nil || !strings.Contains(b.String(), "alarm s1 duplicate_agent (ACTIVE): two agents report s1") {
		t.Fatalf("ctl status (%v):\n%s", err, b.String())
	}

	// Refusals: level, unknown machine, no such alarm, pair and machine both named.
	for _, c := range []struct {
		path, token, body string
		status            int
		reason            string
	}{
		{"/api/machines/s1/acknowledge", tokView, `{"alarm":"duplicate_agent"}`, 403, "permission denied"},
		{"/api/machines/s1/acknowledge", "", `{"alarm":"duplicate_agent"}`, 401, "no token"},
		{"/api/machines/nope/acknowledge", tokOperate, `{"alarm":"duplicate_agent"}`, 404, `unknown machine "nope"`},
		{"/api/machines/s2/acknowledge", tokOperate, `{"alarm":"duplicate_agent"}`, 409, `machine "s2": no such alarm: duplicate_agent`},
		{"/api/machines/s1/acknowledge", tokOperate, `{"alarm":"flap_guard"}`, 409, "no such alarm: flap_guard"},
		{"/api/machines/s1/acknowledge", tokOperate, `{}`, 400, "alarm: missing"},
	} {
		code, reply := e.httpDo("POST", c.path, c.token, c.body)
		if code != c.status || !strings.Contains(reply["reason"].(string), c.reason) {
			t.Errorf("POST %s %s: %d %v, want %d %q", c.path, c.body, code, reply["reason"], c.status, c.reason)
		}
	}
	if r := e.ctl.svc.Do("test", &pb.ControlRequest{Token: tokOperate, Op: &pb.ControlRequest_Acknowledge{
		Acknowledge: &pb.ControlRequest_AcknowledgeOp{Pair: "cam1", Machine: "s1", Alarm: "duplicate_agent"}}}); r.Code != pb.Code_CODE_BAD_REQUEST {
		t.Fatalf("pair and machine both: %v", r)
	}
	if a := machineAlarm(e.status(), "s1", "duplicate_agent"); a == nil || a.Acked {
		t.Fatalf("a refused acknowledge changed the alarm: %v", a)
	}

	// The operator vouches for the newcomer: s1 now follows it (engine down).
	code, reply := e.httpDo("POST", "/api/machines/s1/acknowledge", tokOperate, `{"alarm":"duplicate_agent"}`)
	if code != 200 || reply["reason"] != `machine "s1": alarm duplicate_agent acknowledged` {
		t.Fatalf("acknowledge: %d %v", code, reply)
	}
	st = e.waitStatus("s1 follows the acknowledged session", 5*time.Second, func(st *pb.Status) bool {
		return machineOf(st, "s1").Failure == "engine"
	})
	if a := machineAlarm(st, "s1", "duplicate_agent"); a == nil || !a.Active || !a.Acked {
		t.Fatalf("while both report the alarm stays, acknowledged: %v", a)
	}
	if !strings.Contains(e.logs.String(), `"by":"otto"`) {
		t.Error("the acknowledgement is not logged with the operator")
	}
	// Over the remote API too; a second acknowledgement changes nothing.
	if r := e.ctl.svc.Do("test", &pb.ControlRequest{Token: tokOperate, Op: &pb.ControlRequest_Acknowledge{
		Acknowledge: &pb.ControlRequest_AcknowledgeOp{Machine: "s1", Alarm: "duplicate_agent"}}}); !r.Ok {
		t.Fatalf("remote acknowledge: %v", r)
	}
	if machineOf(e.status(), "s1").Failure != "engine" {
		t.Fatal("a second acknowledgement swapped the sessions back")
	}

	// The held one (the demo driver) stops: the alarm clears and, acknowledged, goes.
	if err := e.sup.SimulateSilence("s1", true); err != nil {
		t.Fatal(err)
	}
	e.waitStatus("duplicate_agent cleared", 5*time.Second, func(st *pb.Status) bool {
		return machineAlarm(st, "s1", "duplicate_agent") == nil
	})
	stopImpostor()
	for {
		select {
		case x := <-events:
			if x.Kind == "alarm_cleared" && x.Machine == "s1" && x.Alarm == "duplicate_agent" {
				return
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no alarm_cleared event for s1")
		}
	}
}

// TestStatusPlaintextLinks: a supervisor without [tls] says its links are not authenticated, so
// the panel shows its banner.
func TestStatusPlaintextLinks(t *testing.T) {
	e := start(t, Options{})
	st := e.status()
	if st.Supervisor.LinksAuthenticated || st.Supervisor.Identity != "" {
		t.Fatalf("plaintext supervisor: links_authenticated %v, identity %q", st.Supervisor.LinksAuthenticated, st.Supervisor.Identity)
	}
	code, reply := e.httpDo("GET", "/api/status", tokView, "")
	sv, _ := reply["status"].(map[string]any)["supervisor"].(map[string]any)
	if code != 200 || sv["links_authenticated"] != false {
		t.Fatalf("GET /api/status: %d, supervisor %v", code, sv)
	}
	var b bytes.Buffer
	if err := WriteStatus(&b, st); err != nil || !strings.Contains(b.String(), "LINKS NOT AUTHENTICATED") {
		t.Fatalf("ctl status (%v):\n%s", err, b.String())
	}
}

// TestBrowserMachineAlarm: the Health panel shows the plaintext banner, and a duplicate_agent
// alarm on the machine's card and in the alarm bar, whose Acknowledge button acknowledges it.
func TestBrowserMachineAlarm(t *testing.T) {
	needChromium(t)
	e := start(t, Options{})
	p := openPanel(t, e.ctl.URL()+"/#health", tokOperate)
	p.wait(`getComputedStyle(document.getElementById('plaintext')).display !== 'none' && getComputedStyle(document.getElementById('identity')).display === 'none'`, 5000)
	e.impostor("m2", 4242)
	p.wait(`document.querySelector('.machine[data-machine="m2"] .alarm[data-alarm="duplicate_agent"]:not(.acked)') && `+
		`document.getElementById('alarmbar').textContent.includes('m2: duplicate agent') && `+
		`document.querySelector('#alarmbar [data-ack-machine="m2"]')`, 5000)
	p.shot("health-duplicate-agent.png")
	p.click(`#alarmbar [data-ack-machine="m2"]`)
	p.wait(`document.querySelector('.machine[data-machine="m2"] .alarm.acked[data-alarm="duplicate_agent"]') && !document.querySelector('#alarmbar [data-ack-machine="m2"]')`, 5000)
	if a := machineAlarm(e.status(), "m2", "duplicate_agent"); a == nil || !a.Acked {
		t.Fatalf("after the panel's Acknowledge: %v", a)
	}
}
