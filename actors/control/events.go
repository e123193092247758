package control

import (
	"bytes"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/types/known/timestamppb"

	"standby/actors/action"
	"standby/actors/agentgw"
	"standby/actors/clock"
	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/pool"
	"standby/actors/router"
	"standby/actors/supervisor"
	"standby/protocol/pb"
	vh "standby/protocol/videohub"
)

// Hub turns the actor system's events (pair actions, machine conditions, router state) into
// ControlEvents and fans them out to subscribers: SSE clients and the remote actor. It also keeps
// what the metrics and the status need from those events: switch counts and latencies, each
// router's latest mirror (labels, locks), and a copy of every pool's view and machine's snapshot
// as their actors publish them, which /metrics reads instead of asking each actor.
type Hub struct {
	sys   *actor.ActorSystem
	sub   *eventstream.Subscription
	clock clock.Clock

	mu      sync.Mutex
	seq     uint64
	subs    map[chan *pb.ControlEvent]struct{}
	closed  bool
	mirrors map[string]*router.Mirror
	metrics *eventMetrics
	// The copy of the state: the latest view of each pool and snapshot of each machine, what each
	// machine's alarms and failure were (to count each raise once).
	pools    map[string]pool.View
	machines map[string]machine.Snapshot
	failed   map[string]failover.Trigger
	mAlarms  map[[2]string]bool // machine, kind → active
	// What the status tells beyond the engine's view, as the events showed it: since when each
	// slot (pool, main) has its machine on air and why a failure moved it, and when alarms (pool
	// or machine, main or "", kind) cleared. (The failback countdown is the engine's FailbackAt.)
	onAirSince   map[[2]string]time.Time
	failedOverOn map[[2]string]failover.Trigger
	clearedAt    map[[3]string]time.Time
	// overload is the supervisor's current overload episode (agentgw.Overloaded), zero when none.
	overload struct {
		since time.Time
		last  agentgw.Overloaded
	}
	// history is the last historyLen events published, oldest first, for a panel that signs in.
	history []*pb.ControlEvent
}

// historyLen is how many past events a panel gets at sign-in and after a reload.
const historyLen = 200

func newHub(sys *actor.ActorSystem, clk clock.Clock) *Hub {
	h := &Hub{sys: sys, clock: clk, subs: map[chan *pb.ControlEvent]struct{}{}, mirrors: map[string]*router.Mirror{},
		metrics: newEventMetrics(), pools: map[string]pool.View{}, machines: map[string]machine.Snapshot{},
		failed: map[string]failover.Trigger{}, mAlarms: map[[2]string]bool{},
		onAirSince: map[[2]string]time.Time{}, failedOverOn: map[[2]string]failover.Trigger{},
		clearedAt: map[[3]string]time.Time{}}
	// Runs on the publisher's goroutine (an actor's): convert and hand over, never block.
	h.sub = sys.EventStream.Subscribe(h.onEvent)
	return h
}

// Subscribe returns a channel of every event from now on, buffered to n. A subscriber that falls
// n events behind is dropped (its channel closed) so it re-reads the status instead of showing a
// stale picture. cancel is idempotent.
func (h *Hub) Subscribe(n int) (<-chan *pb.ControlEvent, func()) {
	ch := make(chan *pb.ControlEvent, n)
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	h.subs[ch] = struct{}{}
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if _, ok := h.subs[ch]; ok {
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// Close ends every subscription and stops listening.
func (h *Hub) Close() {
	h.sys.EventStream.Unsubscribe(h.sub)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for ch := range h.subs {
		delete(h.subs, ch)
		close(ch)
	}
}

// publish stamps an event and hands it to every subscriber.
func (h *Hub) publish(e *pb.ControlEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.seq++
	e.Seq = h.seq
	if e.Time == nil {
		e.Time = timestamppb.New(h.clock.Now())
	}
	if len(h.history) == historyLen {
		h.history = append(h.history[:0], h.history[1:]...)
	}
	h.history = append(h.history, e)
	for ch := range h.subs {
		select {
		case ch <- e:
		default:
			delete(h.subs, ch)
			close(ch)
		}
	}
}

// History returns the last events published (at most 200), oldest first. They are shared with
// subscribers: treat them as read-only.
func (h *Hub) History() []*pb.ControlEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]*pb.ControlEvent(nil), h.history...)
}

// mirror is the latest known state of a router, or nil.
func (h *Hub) mirror(name string) *router.Mirror {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.mirrors[name]
}

func (h *Hub) onEvent(evt any) {
	switch e := evt.(type) {
	case *pool.Event:
		h.track(e)
		if ce := poolEvent(e); ce != nil {
			h.count(e)
			h.publish(ce)
		}
	case *pool.ViewEvent:
		h.mu.Lock()
		h.pools[e.View.Name] = e.View
		h.mu.Unlock()
	case *machine.SnapshotEvent:
		h.mu.Lock()
		h.machines[e.Machine] = e.Snapshot
		h.mu.Unlock()
	case *machine.Changed:
		c := e.Condition
		h.mu.Lock()
		if c.Failure != failover.TriggerNone && h.failed[e.Machine] != c.Failure {
			h.metrics.machineFailures.WithLabelValues(e.Machine, string(c.Failure)).Inc()
		}
		h.failed[e.Machine] = c.Failure
		h.mu.Unlock()
		h.publish(&pb.ControlEvent{Kind: "machine", Machine: e.Machine, Failure: string(c.Failure), Level: c.Level.String(), Detail: c.Detail})
	case *machine.AlarmChanged:
		k := [2]string{e.Machine, string(e.Alarm.Kind)}
		h.mu.Lock()
		if e.Alarm.Active && !h.mAlarms[k] {
			h.metrics.machineAlarms.WithLabelValues(k[0], k[1]).Inc()
		}
		h.mAlarms[k] = e.Alarm.Active
		if ck := [3]string{e.Machine, "", k[1]}; e.Alarm.Active {
			delete(h.clearedAt, ck)
		} else if _, ok := h.clearedAt[ck]; !ok {
			h.clearedAt[ck] = h.clock.Now()
		}
		h.mu.Unlock()
		if ce := machineAlarmEvent(e); ce != nil {
			h.publish(ce)
		}
	case *agentgw.Overloaded:
		h.mu.Lock()
		raised := e.Active && h.overload.since.IsZero()
		switch {
		case raised:
			h.overload.since = h.clock.Now()
			h.metrics.overloaded.Set(1)
			h.metrics.overloads.Inc()
		case !e.Active:
			h.overload.since = time.Time{}
			h.metrics.overloaded.Set(0)
		}
		h.overload.last = *e
		h.mu.Unlock()
		switch {
		case raised:
			h.publish(&pb.ControlEvent{Kind: "alarm", Alarm: "supervisor_overloaded", Detail: overloadText(e)})
		case !e.Active:
			h.publish(&pb.ControlEvent{Kind: "alarm_cleared", Alarm: "supervisor_overloaded",
				Detail: fmt.Sprintf("caught up; reports waited up to %s, served %.0f reports/s, %d heartbeats shed",
					router.Millis(e.Lag), e.Rate, e.Shed)})
		}
		// An update of an episode already raised refreshes the status's figures only.
	case *router.Status:
		h.publish(&pb.ControlEvent{Kind: "router", Router: e.Router, Conn: string(e.Conn), Detail: e.Detail})
	case *action.Result:
		h.publish(actionEvent(e))
	case *router.Change:
		h.mu.Lock()
		h.mirrors[e.Router] = e.Mirror
		h.mu.Unlock()
		h.publish(&pb.ControlEvent{Kind: "routing", Router: e.Router, Detail: describeChange(e)})
	}
}

func poolEvent(e *pool.Event) *pb.ControlEvent {
	ce := &pb.ControlEvent{Pair: e.Pool, Time: timestamppb.New(e.Time)}
	switch a := e.Action.(type) {
	case failover.Transition:
		ce.Kind, ce.From, ce.To, ce.Trigger, ce.Detail = "transition", a.From.String(), a.To.String(), string(a.Trigger), a.Detail
		ce.Machine = a.Machine
		ce.SwitchMs = float64(a.Latency) / float64(time.Millisecond)
		ce.Main = a.Main
	case failover.AlarmRaised:
		ce.Kind, ce.Alarm, ce.Detail, ce.Main = "alarm", string(a.Kind), a.Message, a.Main
	case failover.AlarmCleared:
		ce.Kind, ce.Alarm, ce.Main = "alarm_cleared", string(a.Kind), a.Main
	case failover.Note:
		ce.Kind, ce.Detail, ce.Main = "note", a.Message, a.Main
	default:
		return nil // Route requests show up as their transitions
	}
	return ce
}

// machineAlarmEvent is a machine's alarm change as pair alarms look (Machine set instead of
// Pair): raised or changed while active, and cleared. An acknowledgement is an operator event.
func machineAlarmEvent(e *machine.AlarmChanged) *pb.ControlEvent {
	a := e.Alarm
	switch {
	case !a.Active:
		return &pb.ControlEvent{Kind: "alarm_cleared", Machine: e.Machine, Alarm: string(a.Kind)}
	case a.Acked:
		return nil
	}
	return &pb.ControlEvent{Kind: "alarm", Machine: e.Machine, Alarm: string(a.Kind), Detail: a.Message}
}

func describeChange(c *router.Change) string {
	b, m := c.Block, c.Mirror
	switch b.Kind {
	case vh.KindVideoOutputRouting:
		routes := append([]vh.Route(nil), b.Routes...)
		sort.Slice(routes, func(i, j int) bool { return routes[i].Dest < routes[j].Dest })
		s := ""
		for i, r := range routes {
			if i > 0 {
				s += ", "
			}
			s += fmt.Sprintf("output %s ← input %s", m.OutputName(r.Dest), m.InputName(r.Source))
		}
		return s
	case vh.KindVideoOutputLocks:
		return "output locks changed"
	}
	return "labels changed"
}

// track keeps what the status tells of a pool beyond its view: when its machines went on air,
// why, and when its alarms cleared.
func (h *Hub) track(e *pool.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch a := e.Action.(type) {
	case failover.Transition:
		k := [2]string{e.Pool, a.Main}
		switch a.To {
		case failover.SwitchingToBackup:
			h.failedOverOn[k] = a.Trigger
		case failover.OnBackup, failover.OnMain:
			if a.From != a.To {
				h.onAirSince[k] = e.Time
			}
			if a.To == failover.OnMain {
				delete(h.failedOverOn, k)
			}
		}
	case failover.AlarmRaised:
		delete(h.clearedAt, [3]string{e.Pool, a.Main, string(a.Kind)})
	case failover.AlarmCleared:
		h.clearedAt[[3]string{e.Pool, a.Main, string(a.Kind)}] = e.Time
	}
}

// seen is what track kept for a slot and its alarms.
type seen struct {
	onAirSince   time.Time
	failedOverOn failover.Trigger
	clearedAt    map[string]time.Time // alarm kind → when it cleared
}

func (h *Hub) seen(poolName, main string) seen {
	h.mu.Lock()
	defer h.mu.Unlock()
	k := [2]string{poolName, main}
	sn := seen{onAirSince: h.onAirSince[k], failedOverOn: h.failedOverOn[k], clearedAt: map[string]time.Time{}}
	for ck, t := range h.clearedAt {
		if ck[0] == poolName && ck[1] == main {
			sn.clearedAt[ck[2]] = t
		}
	}
	return sn
}

// count updates the switch and alarm metrics from a pool's actions.
func (h *Hub) count(e *pool.Event) {
	switch a := e.Action.(type) {
	case failover.Transition:
		h.metrics.transition(e.Pool, a)
	case failover.AlarmRaised:
		h.metrics.alarms.WithLabelValues(e.Pool, string(a.Kind)).Inc()
	}
}

// state returns copies of the maps of the latest machine snapshots and pool views (the values
// are shared: treat them as read-only).
func (h *Hub) state() (map[string]machine.Snapshot, map[string]pool.View) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ms := make(map[string]machine.Snapshot, len(h.machines))
	for k, v := range h.machines {
		ms[k] = v
	}
	ps := make(map[string]pool.View, len(h.pools))
	for k, v := range h.pools {
		ps[k] = v
	}
	return ms, ps
}

// seed fills in the views and snapshots of actors that published theirs before the hub listened
// (the supervisor started them before the control surfaces), asking each actor once. What an
// event brought in the meantime is newer and stays.
func (h *Hub) seed(sup *supervisor.Supervisor, log zerolog.Logger) {
	for _, e := range sup.PoolEntries() {
		v, err := sup.Pool(e.Name)
		if err != nil {
			log.Warn().Err(err).Msg("metrics: no first view of a pool; its gauges wait for its next change")
			continue
		}
		h.mu.Lock()
		if _, ok := h.pools[e.Name]; !ok {
			h.pools[e.Name] = *v
		}
		h.mu.Unlock()
	}
	snaps, err := sup.Machines()
	if err != nil {
		log.Warn().Err(err).Msg("metrics: no first snapshot of the machines; their gauges wait for their next report")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for name, sn := range snaps {
		if _, ok := h.machines[name]; !ok {
			h.machines[name] = sn
		}
	}
}

// pairWatch follows one pair's events while an operator's switch is decided.
type pairWatch struct {
	ch   chan *pool.Event
	stop func()
}

func (h *Hub) watchPair(name string) *pairWatch {
	w := &pairWatch{ch: make(chan *pool.Event, 64)}
	sub := h.sys.EventStream.Subscribe(func(evt any) {
		if e, ok := evt.(*pool.Event); ok && e.Pool == name {
			select {
			case w.ch <- e:
			default:
			}
		}
	})
	w.stop = func() { h.sys.EventStream.Unsubscribe(sub) }
	return w
}

// wait returns the outcome of the switch of main that was just accepted: the first time its slot
// settles (a transition out of switching), or the deadline.
func (w *pairWatch) wait(e *supervisor.PoolEntry, main string, deadline time.Duration) *pb.ControlReply {
	what := fmt.Sprintf("pool %q", e.Name)
	if e.Pair {
		what = fmt.Sprintf("pair %q", e.Name)
	}
	var to string
	timer := time.NewTimer(deadline)
	defer timer.Stop()
	failed := ""
	for {
		select {
		case <-timer.C:
			return refusal(pb.Code_CODE_INTERNAL, "%s: no outcome of the switch within %s", what, deadline)
		case ev := <-w.ch:
			switch a := ev.Action.(type) {
			case failover.AlarmRaised:
				if a.Kind == failover.AlarmSwitchFailed && a.Main == main {
					failed = a.Message
				}
			case failover.Transition:
				if a.Main != main {
					continue
				}
				if a.To == failover.SwitchingToBackup || a.To == failover.SwitchingToMain {
					to = a.Machine
					continue
				}
				if a.From != failover.SwitchingToBackup && a.From != failover.SwitchingToMain {
					continue
				}
				if (a.To == failover.OnBackup || a.To == failover.OnMain) && a.Machine == to {
					side := "main"
					if to != main {
						side = "backup"
					}
					on := fmt.Sprintf("%s %q on air", side, to)
					if !e.Pair {
						on += " for " + main
					}
					return &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("%s: %s, confirmed by the router in %s",
						what, on, a.Latency.Round(time.Microsecond))}
				}
				if failed == "" {
					failed = a.Detail
				}
				code := pb.Code_CODE_SWITCH_FAILED
				if strings.Contains(failed, string(router.ReasonLocked)) {
					code = pb.Code_CODE_OUTPUT_LOCKED
				}
				return refusal(code, "%s: %s", what, failed)
			}
		}
	}
}

// history serves the last events (Hub.History) as {"events": [...]}, oldest first, each as the
// event stream sends it: what a panel shows in its event log at sign-in and after a reload.
func (g *gateway) history(w http.ResponseWriter, r *http.Request) {
	if _, refused := g.svc.Authorize("http "+r.RemoteAddr, bearer(r), OpWatch); refused != nil {
		g.reply(w, refused, 0)
		return
	}
	var b bytes.Buffer
	b.WriteString(`{"events":[`)
	for i, e := range g.svc.hub.History() {
		j, err := JSON(e)
		if err != nil {
			g.reply(w, refusal(pb.Code_CODE_INTERNAL, "event history: %v", err), 0)
			return
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(j)
	}
	b.WriteString("]}\n")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

// overloadText says what an overload means for the operator, with its figures so far.
func overloadText(o *agentgw.Overloaded) string {
	var b strings.Builder
	b.WriteString("supervisor overloaded: ")
	switch {
	case o.Lag > 0:
		b.WriteString("reports waited " + router.Millis(o.Lag) + " in its queue")
	case o.Late:
		b.WriteString("its deadline checks run late")
	case o.Saturated:
		b.WriteString("no core idle for a second: agents' reports queue before they reach it")
	default:
		b.WriteString("reports shed from its full queue")
	}
	fmt.Fprintf(&b, " (%d reports waiting", o.Backlog)
	if o.Rate > 0 {
		fmt.Fprintf(&b, ", serving %.0f reports/s", o.Rate)
	}
	if o.Shed > 0 || o.ShedChanges > 0 {
		fmt.Fprintf(&b, ", %d heartbeats shed", o.Shed)
	}
	if o.ShedChanges > 0 {
		fmt.Fprintf(&b, ", %d change reports shed", o.ShedChanges)
	}
	b.WriteString("); machines get a fresh heartbeat timeout instead of being declared silent")
	return b.String()
}

// overloadWarning is the status's warning while an overload episode lasts ("" when none).
func (h *Hub) overloadWarning() string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.overload.since.IsZero() {
		return ""
	}
	return overloadText(&h.overload.last) + " (since " + h.overload.since.Format("15:04:05.000") + ")"
}
