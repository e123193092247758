package pool

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/router"
	"standby/conf"
)

// shell runs one pool actor against a recording router that answers only when told to.
type shell struct {
	t      *testing.T
	sys    *actor.ActorSystem
	pid    *actor.PID
	router *actor.PID
	clk    *clock.Fake
	subs   chan *router.Subscribe
	sw     chan *router.Switch
	events chan *Event
}

type crash struct{}

func newShell(t *testing.T, cfg failover.Config, lock bool) *shell {
	t.Helper()
	sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return slog.New(slog.DiscardHandler) }))
	sh := &shell{t: t, sys: sys, clk: clock.NewFake(time.Unix(1_700_000_000, 0)), sw: make(chan *router.Switch, 16), subs: make(chan *router.Subscribe, 16), events: make(chan *Event, 256)}
	rpid := sys.Root.Spawn(actor.PropsFromFunc(func(ctx actor.Context) {
		switch m := ctx.Message().(type) {
		case *router.Switch:
			sh.sw <- m
		case *router.Subscribe:
			sh.subs <- m
		}
	}))
	sh.router = rpid
	sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*Event); ok {
			sh.events <- e
		}
	})
	hook := func(msg any) {
		if _, ok := msg.(*crash); ok {
			panic("injected")
		}
	}
	sh.pid = sys.Root.Spawn(Props(Options{Name: "cam1", Pair: true, Engine: cfg, Router: rpid, LockOutputs: lock, Clock: sh.clk,
		Logger: zerolog.New(zerolog.NewTestWriter(t)), Hook: hook}))
	t.Cleanup(func() { _ = sys.Root.StopFuture(sh.pid).Wait() })
	return sh
}

func pairConfig(timeout time.Duration) failover.Config {
	return failover.Config{Automatic: true, SwitchTimeout: timeout, RetryAfter: time.Hour,
		Mains:   []failover.Machine{{Name: "m1", Feeds: []failover.Feed{{Role: "pgm", Input: conf.N(1), Outputs: []conf.Port{conf.N(1)}}}}},
		Backups: []failover.Machine{{Name: "b1", Feeds: []failover.Feed{{Role: "pgm", Input: conf.N(2)}}}}}
}

// shows has the router show input in (1-based) on output 1, as a router does when the pool
// subscribes; the pool arms only after it.
func (sh *shell) shows(in int) {
	m := router.NewMirror()
	m.Device.VideoInputs, m.Device.VideoOutputs = 12, 12
	m.Routing[0] = in - 1
	sh.sys.Root.Send(sh.pid, &router.Routing{Router: "hub1", Mirror: m})
}

func (sh *shell) cond(name string, failure failover.Trigger) {
	sh.sys.Root.Send(sh.pid, &machine.Changed{Machine: name, Condition: failover.Condition{Known: true, Failure: failure}})
}

// waitTransition waits for a transition to state to.
func (sh *shell) waitTransition(to failover.State) failover.Transition {
	sh.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-sh.events:
			if tr, ok := e.Action.(failover.Transition); ok && tr.To == to {
				return tr
			}
		case <-deadline:
			sh.t.Fatalf("no transition to %s", to)
		}
	}
}

func (sh *shell) status() failover.SlotStatus {
	sh.t.Helper()
	res, err := sh.sys.Root.RequestFuture(sh.pid, &GetStatus{}, 2*time.Second).Result()
	if err != nil {
		sh.t.Fatal(err)
	}
	s, _ := res.(*View).Slot("")
	return s
}

func (sh *shell) waitSwitch() *router.Switch {
	sh.t.Helper()
	select {
	case sw := <-sh.sw:
		return sw
	case <-time.After(5 * time.Second):
		sh.t.Fatal("no switch request")
		return nil
	}
}

// A pool actor that panics with a switch in flight resumes from its saved state: the switch is
// still pending, its deadline still fires (the restored wake-up), and the router's late result
// for the old epoch is still matched.
func TestRestartKeepsPendingSwitch(t *testing.T) {
	sh := newShell(t, pairConfig(300*time.Millisecond), false)
	sh.shows(1)
	sh.cond("m1", "")
	sh.cond("b1", "")
	sh.waitTransition(failover.OnMain)
	sh.cond("m1", failover.TriggerEngine)
	sw := sh.waitSwitch()
	if len(sw.Crosspoints) != 1 || sw.Crosspoints[0].Input != conf.N(2) {
		t.Fatalf("crosspoints %+v", sw.Crosspoints)
	}
	sh.sys.Root.Send(sh.pid, &crash{})
	if st := sh.status(); st.State != failover.SwitchingToBackup {
		t.Fatalf("after the restart: %s", st.State)
	}
	// The deadline of the restored switch still fires: the switch fails for want of an answer.
	sh.clk.Advance(300 * time.Millisecond)
	if tr := sh.waitTransition(failover.OnMain); tr.Detail != "switch failed: no answer from the router actor" {
		t.Fatalf("transition %+v", tr)
	}
}

// A wake-up of an earlier incarnation is ignored, even when the engine would act on a tick.
func TestStaleWakeIgnored(t *testing.T) {
	sh := newShell(t, pairConfig(time.Minute), false)
	sh.shows(1)
	sh.cond("m1", "")
	sh.cond("b1", "")
	sh.waitTransition(failover.OnMain)
	sh.cond("m1", failover.TriggerEngine)
	sh.waitSwitch()
	sh.clk.Advance(2 * time.Minute) // the switch is overdue in the actor's clock
	sh.sys.Root.Send(sh.pid, &tick{gen: 0})
	if st := sh.status(); st.State != failover.SwitchingToBackup {
		t.Fatalf("a stale tick acted: %s", st.State)
	}
	// The router's answer still decides.
	sh.sys.Root.Send(sh.pid, &router.Result{Pool: "cam1", Epoch: 1, OK: true})
	sh.waitTransition(failover.OnBackup)
}

// Reconfigure keeps the state under the new policy, and subscribes again when the outputs to
// lock change; the router's routing is translated into what the engine follows.
func TestReconfigureAndRouting(t *testing.T) {
	sh := newShell(t, pairConfig(time.Minute), false)
	sh.shows(1)
	sh.cond("m1", "")
	sh.cond("b1", "")
	sh.waitTransition(failover.OnMain)
	sh.shows(2) // the backup
	if tr := sh.waitTransition(failover.OnBackup); tr.Trigger != failover.TriggerRouter || tr.Machine != "b1" {
		t.Fatalf("transition %+v", tr)
	}
	cfg := pairConfig(time.Minute)
	cfg.Automatic = false
	sh.sys.Root.Send(sh.pid, &Reconfigure{Engine: cfg, Router: sh.router, LockOutputs: true})
	res, err := sh.sys.Root.RequestFuture(sh.pid, &GetStatus{}, 2*time.Second).Result()
	if err != nil {
		t.Fatal(err)
	}
	v := res.(*View)
	if v.Automatic || v.Slots[0].OnAir != "b1" || v.Slots[0].State != failover.OnBackup {
		t.Fatalf("after reconfigure: automatic %v, %+v", v.Automatic, v.Slots[0])
	}
	for _, want := range [][]conf.Port{nil, {conf.N(1)}} { // at start, then after the reconfigure
		select {
		case sub := <-sh.subs:
			if !slices.Equal(sub.Claim, want) {
				t.Fatalf("subscription claims %+v, want %+v", sub.Claim, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no subscription claiming %+v", want)
		}
	}
}

// TestLocksFollowTheRole: with lock_outputs, only the active supervisor of a pair holds the
// outputs: made standby the pool gives up its claim (it must not take the outputs from the active
// side), made active under a term it claims them by force once (they are the previous active
// side's).
func TestLocksFollowTheRole(t *testing.T) {
	sh := newShell(t, pairConfig(time.Minute), true)
	next := func(what string) *router.Subscribe {
		t.Helper()
		select {
		case s := <-sh.subs:
			return s
		case <-time.After(5 * time.Second):
			t.Fatalf("no subscription %s", what)
			return nil
		}
	}
	if s := next("at start"); len(s.Claim) != 1 || s.ForceClaim {
		t.Fatalf("alone: claim %v force %v", s.Claim, s.ForceClaim)
	}
	sh.sys.Root.Send(sh.pid, &SetRole{Active: false, Term: 2})
	if s := next("when made standby"); len(s.Claim) != 0 {
		t.Fatalf("standby: claim %v", s.Claim)
	}
	sh.sys.Root.Send(sh.pid, &SetRole{Active: true, Term: 3})
	if s := next("when made active"); len(s.Claim) != 1 || s.Claim[0] != conf.N(1) || !s.ForceClaim {
		t.Fatalf("active under term 3: claim %v force %v", s.Claim, s.ForceClaim)
	}
	// Then held as configured (force_unlock = false): a later claim, e.g. at a reconnect, does
	// not take them from a newer term by force.
	if s := next("after the takeover"); len(s.Claim) != 1 || s.ForceClaim {
		t.Fatalf("after the takeover: claim %v force %v", s.Claim, s.ForceClaim)
	}
}
