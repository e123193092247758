package supervisor

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/pool"
	"standby/actors/router"
	"standby/conf"
	"standby/protocol/videohub/vhsim"
)

const threePairs = `
[supervisor]
heartbeat_timeout = "250ms"
[[router]]
name = "hub1"
address = "127.0.0.1:9990"
[[machine]]
name = "m1"
[[machine]]
name = "b1"
[[machine]]
name = "m2"
[[machine]]
name = "b2"
[[machine]]
name = "m3"
[[machine]]
name = "b3"
[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]
[[pair]]
name = "cam2"
router = "hub1"
main = "m2"
backup = "b2"
[[pair.feed]]
main_input = 3
backup_input = 4
outputs = [2]
[[pair]]
name = "cam3"
router = "hub1"
main = "m3"
backup = "b3"
[[pair.feed]]
main_input = 5
backup_input = 6
outputs = [3, 4]
`

// fakeRouter confirms every switch at once and records the crosspoints it was asked for. A
// subscriber is told the routing, which starts with every main of cfg on air (numbered ports).
type fakeRouter struct {
	cfg      *conf.Config
	mu       sync.Mutex
	switches []*router.Switch
}

func (f *fakeRouter) factory(env RouterEnv) (*actor.Props, error) {
	m := router.NewMirror()
	m.Device.VideoInputs, m.Device.VideoOutputs = 64, 64
	if f.cfg != nil {
		for _, pe := range poolsOf(f.cfg) {
			for _, main := range pe.Engine.Mains {
				for _, fd := range main.Feeds {
					for _, o := range fd.Outputs {
						m.Routing[o.Number-1] = fd.Input.Number - 1
					}
				}
			}
		}
	}
	return actor.PropsFromFunc(func(ctx actor.Context) {
		switch msg := ctx.Message().(type) {
		case *router.Subscribe:
			ctx.Send(msg.PID, &router.Routing{Router: env.Router.Name, Mirror: m.Clone()})
		case *router.Switch:
			f.mu.Lock()
			f.switches = append(f.switches, msg)
			f.mu.Unlock()
			for _, x := range msg.Crosspoints {
				m.Routing[x.Output.Number-1] = x.Input.Number - 1
			}
			ctx.Send(msg.ReplyTo, &router.Result{Pool: msg.Pool, Epoch: msg.Epoch, OK: true, Latency: time.Millisecond})
		}
	}), nil
}

// harness runs a supervisor and collects pair events.
type harness struct {
	t      *testing.T
	sup    *Supervisor
	events chan *pool.Event
	clk    *clock.Fake
	seq    map[string]uint64
	// history holds events received but not yet matched by a wait.
	history []*pool.Event
}

func start(t *testing.T, cfgText string, o Options) *harness {
	t.Helper()
	cfg, err := conf.Parse([]byte(cfgText))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, events: make(chan *pool.Event, 1000), clk: clock.NewFake(time.Unix(1_700_000_000, 0)), seq: map[string]uint64{}}
	o.Config, o.Logger = cfg, zerolog.New(zerolog.NewTestWriter(t))
	if o.Clock == nil {
		o.Clock = h.clk
	}
	if o.Routers == nil {
		o.Routers = (&fakeRouter{cfg: cfg}).factory
	}
	s, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	s.System().EventStream.Subscribe(func(evt interface{}) {
		if e, ok := evt.(*pool.Event); ok {
			select {
			case h.events <- e:
			default:
			}
		}
	})
	h.sup = s
	return h
}

// report sends a report as machine name's agent would.
func (h *harness) report(name string, services ...machine.Service) {
	h.seq[name]++
	h.sup.System().Root.Send(h.sup.PID(MachinesDir, name), &machine.Report{Machine: name, Session: 1, Seq: h.seq[name], Services: services})
}

func up(name string) machine.Service { return machine.Service{Name: name, Up: true} }
func down(name string) machine.Service {
	return machine.Service{Name: name, Up: false, Reason: "process exited"}
}

// waitTransition waits for pairName to reach state to, failing after a deadline.
func (h *harness) waitTransition(pairName string, to failover.State) failover.Transition {
	h.t.Helper()
	match := func(e *pool.Event) (failover.Transition, bool) {
		tr, ok := e.Action.(failover.Transition)
		return tr, ok && e.Pool == pairName && tr.To == to
	}
	for i, e := range h.history {
		if tr, ok := match(e); ok {
			h.history = append(h.history[:i], h.history[i+1:]...)
			return tr
		}
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.events:
			if tr, ok := match(e); ok {
				return tr
			}
			h.history = append(h.history, e)
		case <-deadline:
			h.t.Fatalf("pair %s never reached %s", pairName, to)
		}
	}
}

func TestTreeAutomaticFailover(t *testing.T) {
	h := start(t, threePairs, Options{})
	for _, m := range []string{"m1", "b1"} {
		h.report(m, up("engine"), up("videoio"))
	}
	h.waitTransition("cam1", failover.OnMain)
	h.report("m1", down("engine"), up("videoio"))
	tr := h.waitTransition("cam1", failover.OnBackup)
	if tr.Trigger != failover.TriggerEngine {
		t.Fatalf("trigger = %s, want engine", tr.Trigger)
	}
	views, err := h.sup.Pools()
	if err != nil {
		t.Fatal(err)
	}
	if views[0].Slots[0].OnAir != "b1" || views[1].Slots[0].OnAir != "m2" {
		t.Fatalf("on air: cam1 %s cam2 %s", views[0].Slots[0].OnAir, views[1].Slots[0].OnAir)
	}
}

// crash is a message the test hook turns into a panic inside a pair or machine actor.
type crash struct{}

func TestPanicInOnePairIsContained(t *testing.T) {
	o := Options{PoolHook: func(p string, msg any) {
		if _, ok := msg.(*crash); ok {
			panic("injected panic in pair " + p)
		}
	}, MachineHook: func(m string, msg any) {
		if _, ok := msg.(*crash); ok {
			panic("injected panic in machine " + m)
		}
	}}
	h := start(t, threePairs, o)
	failures := make(chan string, 10)
	h.sup.System().EventStream.Subscribe(func(evt interface{}) {
		if e, ok := evt.(*actor.SupervisorEvent); ok {
			failures <- e.Child.Id
		}
	})
	for _, m := range []string{"m1", "b1", "m2", "b2", "m3", "b3"} {
		h.report(m, up("engine"))
	}
	for _, p := range []string{"cam1", "cam2", "cam3"} {
		h.waitTransition(p, failover.OnMain)
	}
	// Crash cam2's pair actor and m3's machine actor.
	h.sup.System().Root.Send(h.sup.PID(PoolsDir, "cam2"), &crash{})
	h.sup.System().Root.Send(h.sup.PID(MachinesDir, "m3"), &crash{})
	for i := 0; i < 2; i++ {
		select {
		case id := <-failures:
			if !strings.HasSuffix(id, "/pools/cam2") && !strings.HasSuffix(id, "/machines/m3") {
				t.Fatalf("unexpected failure of %s", id)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("injected panics were not reported")
		}
	}
	// The other pairs still switch; the crashed ones resume from their last known state.
	h.report("m1", down("engine"))
	h.waitTransition("cam1", failover.OnBackup)
	h.report("m2", down("engine"))
	h.waitTransition("cam2", failover.OnBackup)
	h.report("m3", down("videoio"))
	if tr := h.waitTransition("cam3", failover.OnBackup); tr.Trigger != failover.TriggerVideoIO {
		t.Fatalf("cam3 trigger = %s", tr.Trigger)
	}
}

func TestReloadKeepsUnchangedPairs(t *testing.T) {
	h := start(t, threePairs, Options{})
	for _, m := range []string{"m1", "b1"} {
		h.report(m, up("engine"))
	}
	h.waitTransition("cam1", failover.OnMain)
	h.report("m1", down("engine"))
	h.waitTransition("cam1", failover.OnBackup)

	// cam2 becomes manual; cam3 is removed; cam1 is untouched.
	next := strings.Replace(threePairs, "name = \"cam2\"\nrouter = \"hub1\"", "name = \"cam2\"\nmode = \"manual\"\nrouter = \"hub1\"", 1)
	next = next[:strings.Index(next, "[[pair]]\nname = \"cam3\"")]
	cfg, err := conf.Parse([]byte(next))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	views, err := h.sup.Pools()
	if err != nil {
		t.Fatal(err)
	}
	if len(views) != 2 {
		t.Fatalf("%d pairs after reload, want 2", len(views))
	}
	if views[0].Slots[0].State != failover.OnBackup {
		t.Fatalf("cam1 lost its state on reload: %s", views[0].Slots[0].State)
	}
	if views[1].Automatic {
		t.Fatal("cam2 still automatic after reload")
	}
	if err := h.sup.Command("cam3", failover.Switch{To: "b3"}); err == nil || !strings.Contains(err.Error(), "unknown pair") {
		t.Fatalf("command to removed pair: %v", err)
	}
}

func TestOperatorSwitchRefusedWhenTargetDown(t *testing.T) {
	h := start(t, threePairs, Options{})
	h.report("m1", up("engine"))
	h.report("b1", down("engine"))
	h.waitTransition("cam1", failover.OnMain)
	err := h.sup.Command("cam1", failover.Switch{To: "b1", By: "test"})
	if err == nil || !strings.Contains(err.Error(), "down") {
		t.Fatalf("switch to a down backup: %v", err)
	}
	healthy := make(chan struct{}, 1)
	h.sup.System().EventStream.Subscribe(func(evt interface{}) {
		if c, ok := evt.(*machine.Changed); ok && c.Machine == "b1" && c.Condition.Failure == failover.TriggerNone {
			healthy <- struct{}{}
		}
	})
	h.report("b1", up("engine"))
	select {
	case <-healthy: // the pair's mailbox holds b1's recovery before our command
	case <-time.After(5 * time.Second):
		t.Fatal("b1 never reported healthy")
	}
	if err := h.sup.Command("cam1", failover.Switch{To: "b1", By: "test"}); err != nil {
		t.Fatal(err)
	}
	h.waitTransition("cam1", failover.OnBackup)
}

const simulatedPair = `
[[router]]
name = "hub1"
address = "127.0.0.1:9990"
[[machine]]
name = "m1"
simulated = true
[machine.health.gpu_temp]
warning = 80
critical = 90
[[machine]]
name = "b1"
simulated = true
[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
switch_on_critical = true
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1]
`

func TestSimulatedMachinesSetAtRunTime(t *testing.T) {
	h := start(t, simulatedPair, Options{})
	h.waitTransition("cam1", failover.OnMain)
	if err := h.sup.SimulateService("m1", "nosuch", false); err == nil {
		t.Fatal("unknown service accepted")
	}
	if err := h.sup.SimulateService("zz", "engine", false); err == nil {
		t.Fatal("unknown machine accepted")
	}
	if err := h.sup.SimulateHealth("m1", "gpu_temp", 95); err != nil {
		t.Fatal(err)
	}
	if tr := h.waitTransition("cam1", failover.OnBackup); tr.Trigger != failover.TriggerCritical {
		t.Fatalf("trigger %s", tr.Trigger)
	}
}

// A reload that changes pools (one pair's mode, another's outputs) leaves the router actor and its
// Videohub connection alone: only a change of the [[router]] entry itself respawns it.
func TestPoolEditKeepsRouterConnection(t *testing.T) {
	hub, err := vhsim.Start(vhsim.Options{Listen: "127.0.0.1:0", Inputs: 12, Outputs: 12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	cfgText := strings.Replace(threePairs, "127.0.0.1:9990", hub.Addr(), 1)
	// The router actor's socket deadlines need the real clock.
	h := start(t, cfgText, Options{Clock: clock.Real{}, Routers: func(env RouterEnv) (*actor.Props, error) {
		return router.VideohubProps(videohubOptions(env)), nil
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The switch below needs the router actor connected (the simulator counts the client as soon
	// as it accepts it, before the actor has read the router's state: the switch then failed
	// "not connected: dialing" under load).
	connected := make(chan struct{})
	var connOnce sync.Once
	rsub := h.sup.System().EventStream.Subscribe(func(evt interface{}) {
		if st, ok := evt.(*router.Status); ok && st.Router == "hub1" && st.Conn == router.Connected {
			connOnce.Do(func() { close(connected) })
		}
	})
	defer h.sup.System().EventStream.Unsubscribe(rsub)
	if rs := h.sup.Routers(); len(rs) == 1 && rs[0].Conn == router.Connected {
		connOnce.Do(func() { close(connected) })
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("the router never connected")
	}
	// The switch below needs b1 known to cam1: its condition is published after it went to the
	// pool, so a command sent after seeing it queues behind it (waiting for cam1 on its main
	// alone raced with b1's report, about 1 run in 30).
	b1Seen := make(chan struct{})
	var once sync.Once
	sub := h.sup.System().EventStream.Subscribe(func(evt interface{}) {
		if c, ok := evt.(*machine.Changed); ok && c.Machine == "b1" && c.Condition.Known {
			once.Do(func() { close(b1Seen) })
		}
	})
	defer h.sup.System().EventStream.Unsubscribe(sub)
	for _, m := range []string{"m1", "b1", "m2", "b2", "m3", "b3"} {
		h.report(m, up("engine"))
	}
	h.waitTransition("cam1", failover.OnMain)
	select {
	case <-b1Seen:
	case <-ctx.Done():
		t.Fatal("b1's condition was never seen")
	}
	next := strings.Replace(cfgText, "name = \"cam2\"\nrouter = \"hub1\"", "name = \"cam2\"\nmode = \"manual\"\nrouter = \"hub1\"", 1)
	next = strings.Replace(next, "outputs = [1]", "outputs = [1, 7]", 1)
	cfg, err := conf.Parse([]byte(next))
	if err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	if err := h.sup.Command("cam1", failover.Switch{To: "b1", By: "test"}); err != nil {
		t.Fatal(err)
	}
	h.waitTransition("cam1", failover.OnBackup)
	if err := hub.WaitRoute(ctx, 6, 1); err != nil { // the new output 7 switched with the rest
		t.Fatalf("output 7: %v", err)
	}
	if st := hub.State(); st.Accepted != 1 || st.Clients != 1 {
		t.Fatalf("the pool edit reconnected the router: %d connections accepted, %d open", st.Accepted, st.Clients)
	}
}

// TestStandbyRoutesNothing: a supervisor made standby follows its machines but routes nothing
// (an operator's switch is refused with failover.ErrStandby); made active under a higher term it
// serves the main that failed meanwhile at once; an older term is refused.
func TestStandbyRoutesNothing(t *testing.T) {
	cfg, err := conf.Parse([]byte(threePairs))
	if err != nil {
		t.Fatal(err)
	}
	fr := &fakeRouter{cfg: cfg}
	h := start(t, threePairs, Options{Routers: fr.factory})
	for _, m := range []string{"m1", "b1"} {
		h.report(m, up("engine"), up("videoio"))
	}
	h.waitTransition("cam1", failover.OnMain)
	if err := h.sup.SetRole(false, 3); err != nil {
		t.Fatal(err)
	}
	if active, term := h.sup.Role(); active || term != 3 {
		t.Fatalf("role %v %d", active, term)
	}
	seen := make(chan struct{})
	var once sync.Once
	sub := h.sup.System().EventStream.Subscribe(func(evt interface{}) {
		if c, ok := evt.(*machine.Changed); ok && c.Machine == "m1" && c.Condition.Failure == failover.TriggerEngine {
			once.Do(func() { close(seen) })
		}
	})
	defer h.sup.System().EventStream.Unsubscribe(sub)
	h.report("m1", down("engine"), up("videoio"))
	select {
	case <-seen: // published after the send to the pool: a status request queues behind it
	case <-time.After(5 * time.Second):
		t.Fatal("m1's failure was never seen")
	}
	v, err := h.sup.Pool("cam1")
	if err != nil {
		t.Fatal(err)
	}
	if c := v.Conditions["m1"]; c.Failure != failover.TriggerEngine || !v.Standby || v.Term != 3 {
		t.Fatalf("standby pool: m1 %+v standby=%v term=%d", c, v.Standby, v.Term)
	}
	fr.mu.Lock()
	n := len(fr.switches)
	fr.mu.Unlock()
	if n != 0 {
		t.Fatalf("a standby supervisor routed %d times", n)
	}
	if err := h.sup.Command("cam1", failover.Switch{To: "b1", By: "op"}); !errors.Is(err, failover.ErrStandby) {
		t.Fatalf("operator switch on standby: %v", err)
	}
	if err := h.sup.SetRole(true, 2); err == nil {
		t.Fatal("a lower term was accepted")
	}
	if err := h.sup.SetRole(true, 4); err != nil {
		t.Fatal(err)
	}
	tr := h.waitTransition("cam1", failover.OnBackup)
	if tr.Trigger != failover.TriggerEngine {
		t.Fatalf("takeover switch trigger %s", tr.Trigger)
	}
	fr.mu.Lock()
	defer fr.mu.Unlock()
	if len(fr.switches) != 1 || fr.switches[0].Pool != "cam1" {
		t.Fatalf("switches after takeover: %d", len(fr.switches))
	}
}
