package supervisor

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"standby/actors/agentgw"
	"standby/actors/clock"
	"standby/actors/failover"
	"standby/protocol/pb"
)

// fairnessConfig is cam1 (m1, b1) and ten other pairs on one router, a 250 ms heartbeat timeout.
func fairnessConfig() string {
	var b strings.Builder
	b.WriteString("[supervisor]\nheartbeat_timeout = \"250ms\"\nagent_token = \"tok\"\n[[router]]\nname = \"hub1\"\naddress = \"127.0.0.1:9990\"\n")
	for i := 1; i <= 11; i++ {
		fmt.Fprintf(&b, "[[machine]]\nname = \"m%d\"\n[[machine]]\nname = \"b%d\"\n", i, i)
		fmt.Fprintf(&b, "[[pair]]\nname = \"cam%d\"\nrouter = \"hub1\"\nmain = \"m%d\"\nbackup = \"b%d\"\n", i, i, i)
		fmt.Fprintf(&b, "[[pair.feed]]\nmain_input = %d\nbackup_input = %d\noutputs = [%d]\n", 2*i-1, 2*i, i)
	}
	return b.String()
}

// TestOverloadFairness: three times the gateway is stuck for 500 ms on a batch of ten pairs'
// reports; cam1's main keeps beating, but its heartbeats wait in the queue behind the others':
// twice its timeout passes between two of them reaching it. No machine may look silent and
// nothing may fail over for it; the supervisor says it is overloaded. Once the backlog is gone a
// real crash of cam1's main still switches it.
func TestOverloadFairness(t *testing.T) {
	var stall atomic.Bool
	h := start(t, fairnessConfig(), Options{Clock: clock.Real{}, Listen: "127.0.0.1:0", GatewayHook: func(msg any) {
		if _, batch := msg.(*pb.AgentReports); batch && stall.CompareAndSwap(true, false) {
			time.Sleep(500 * time.Millisecond) // twice the timeout: cam1's heartbeats queue behind
		}
	}})
	overloads := make(chan *agentgw.Overloaded, 64)
	h.sup.System().EventStream.Subscribe(func(evt any) {
		if o, ok := evt.(*agentgw.Overloaded); ok {
			select {
			case overloads <- o:
			default:
			}
		}
	})
	gw := h.sup.group(AgentsName)
	sys := h.sup.System()
	report := func(name string, seq uint64, engineUp, change bool) *pb.AgentReport {
		r := &pb.AgentReport{Machine: name, Token: "tok", Session: 7, Seq: seq, Change: change,
			Services: []*pb.AgentReport_Service{{Name: "engine", Up: engineUp}}}
		if !engineUp {
			r.Services[0].Reason = "pid 42 exited"
		}
		return r
	}
	// The agents: cam1's two machines on their own, every 10 ms; the other twenty in one batch
	// every 5 ms, as a host carrying many agents sends them.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var seq atomic.Uint64
	beat := func(every time.Duration, send func(uint64)) {
		defer wg.Done()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				send(seq.Add(1))
			}
		}
	}
	wg.Add(2)
	go beat(10*time.Millisecond, func(n uint64) {
		sys.Root.Send(gw, report("m1", n, true, false))
		sys.Root.Send(gw, report("b1", n, true, false))
	})
	go beat(5*time.Millisecond, func(n uint64) {
		var rs []*pb.AgentReport
		for i := 2; i <= 11; i++ {
			rs = append(rs, report(fmt.Sprintf("m%d", i), n, true, false), report(fmt.Sprintf("b%d", i), n, true, false))
		}
		sys.Root.Send(gw, &pb.AgentReports{Reports: rs})
	})
	defer func() { close(stop); wg.Wait() }()
	for i := 1; i <= 11; i++ {
		h.waitTransition(fmt.Sprintf("cam%d", i), failover.OnMain)
	}

	// Three stalls, each followed by its backlog draining.
	var behind time.Duration
	var raised bool
	for range 3 {
		stall.Store(true)
		for end := time.After(800 * time.Millisecond); ; {
			select {
			case o := <-overloads:
				raised = raised || o.Active
				continue
			case e := <-h.events:
				if tr, ok := e.Action.(failover.Transition); ok {
					t.Fatalf("%s moved %s -> %s (%s: %s) while only the supervisor was behind", e.Pool, tr.From, tr.To, tr.Trigger, tr.Detail)
				}
				continue
			case <-time.After(10 * time.Millisecond):
				behind = max(behind, time.Since(h.sup.queue.Through(time.Now())))
				continue
			case <-end:
			}
			break
		}
	}
	t.Logf("the report path fell %v behind (%d reports waiting at the end)", behind, h.sup.queue.Waiting())
	if behind < 300*time.Millisecond {
		t.Fatalf("the report path fell only %v behind: the test did not overload the gateway", behind)
	}
	// Caught up: nothing waits, and nothing failed over meanwhile.
	for deadline := time.Now().Add(10 * time.Second); h.sup.queue.Waiting() > 0; {
		select {
		case e := <-h.events:
			if tr, ok := e.Action.(failover.Transition); ok {
				t.Fatalf("%s moved %s -> %s (%s: %s) while the backlog drained", e.Pool, tr.From, tr.To, tr.Trigger, tr.Detail)
			}
		case o := <-overloads:
			raised = raised || o.Active
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d reports still waiting 10 s after the flood", h.sup.queue.Waiting())
		}
	}
	if !raised {
		t.Fatal("no supervisor_overloaded episode while a second behind")
	}
	for _, s := range h.snapshots(t) {
		if s.cond.Failure != failover.TriggerNone {
			t.Fatalf("machine %s: %+v after the flood", s.name, s.cond)
		}
	}

	// A real crash of cam1's main is still switched.
	sys.Root.Send(gw, report("m1", seq.Add(1), false, true))
	tr := h.waitTransition("cam1", failover.OnBackup)
	if tr.Trigger != failover.TriggerEngine {
		t.Fatalf("cam1 switched on %s, want the engine", tr.Trigger)
	}
}

type machineState struct {
	name string
	cond failover.Condition
}

// snapshots asks every machine actor for its condition.
func (h *harness) snapshots(t *testing.T) []machineState {
	t.Helper()
	snaps, err := h.sup.Machines()
	if err != nil {
		t.Fatal(err)
	}
	var out []machineState
	for name, s := range snaps {
		out = append(out, machineState{name, s.Condition})
	}
	return out
}
