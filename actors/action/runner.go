package action

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/clock"
	"standby/conf"
)

// Results of a run.
const (
	ResultOK       = "ok"
	ResultFailed   = "failed"
	ResultTimedOut = "timed_out"
	ResultDropped  = "dropped"
)

// Results lists the results, for metrics.
var Results = []string{ResultOK, ResultFailed, ResultTimedOut, ResultDropped}

// Result is one run's end, published on the event stream and kept as an action's latest.
type Result struct {
	Action, Kind string
	Event        Event
	// Result is ok, failed, timed_out or dropped.
	Result string
	// Detail says what happened: "HTTP 200", "exit code 0", the reason of a failure.
	Detail string
	// Duration is how long the run took (zero when dropped); Attempts how many tries it made.
	Duration time.Duration
	Attempts int
	// Time is when the run ended.
	Time time.Time
	// Test: an operator's Test run.
	Test bool
}

// Options configure the runner.
type Options struct {
	// Config holds the actions and [actions] limits; reloads come as *Reconfigure.
	Config *conf.Config
	// Agent runs agent commands; nil fails them (no remote endpoint).
	Agent AgentCaller
	// Publish is told every result (the supervisor publishes it on the event stream). It runs on
	// the runner's goroutine and must not block.
	Publish func(*Result)
	// Standby: the supervisor starts as the standby of a pair. A standby supervisor sees the same
	// machines and alarms as the active one; only the active one runs actions for them (takeover,
	// standby and Test run on either). Later changes come as *RoleChanged.
	Standby bool
	Clock   clock.Clock
	Logger  zerolog.Logger
}

// Reconfigure applies a reloaded config: actions that stay keep their queue and counts.
type Reconfigure struct{ Config *conf.Config }

// Test runs an action once with a sample event of its pair (any action, whatever its on and
// filters). It is answered with a *TestReply once the run ended.
type Test struct {
	Action string
	// By is the operator who asked, for the log and the event's detail.
	By string
}

// TestReply answers a Test: the run's result, or Err when there is no such action.
type TestReply struct {
	Result *Result
	Err    error
}

// ErrUnknownAction answers a Test of an action the config does not have.
var ErrUnknownAction = errors.New("unknown action")

// GetStatus asks for every action's Status, in config order ([]Status).
type GetStatus struct{}

// Status is one action's state for the status and /metrics.
type Status struct {
	Name, Kind string
	On         []string
	Queued     int
	Running    int
	// Last is the latest result; nil before the first.
	Last *Result
	// Counts are runs by result; Durations the durations of runs that were not dropped.
	Counts    map[string]uint64
	Durations Histogram
}

// Histogram counts durations in DurationBuckets (cumulative counts, as Prometheus wants them).
type Histogram struct {
	Counts []uint64 // one per bucket, cumulative; the last is +Inf
	Sum    time.Duration
	Count  uint64
}

// DurationBuckets are the upper bounds of the run duration histogram.
var DurationBuckets = []time.Duration{time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second}

func (h *Histogram) observe(d time.Duration) {
	if h.Counts == nil {
		h.Counts = make([]uint64, len(DurationBuckets)+1)
	}
	for i, b := range DurationBuckets {
		if d <= b {
			h.Counts[i]++
		}
	}
	h.Counts[len(DurationBuckets)]++
	h.Sum += d
	h.Count++
}

// slot is one action: its config, compiled kind, queue, runs in flight and counts.
type slot struct {
	cfg     conf.Action
	run     runner
	queue   []job
	running int
	last    *Result
	counts  map[string]uint64
	hist    Histogram
	removed bool // by a reload: its runs in flight were cancelled
}

type job struct {
	ev    Event
	test  bool
	reply *actor.PID // a Test's requester
}

// finished is a run's end, sent by its goroutine.
type finished struct {
	slot     *slot
	job      job
	id       uint64
	out      outcome
	attempts int
	took     time.Duration
	timedOut bool
}

// Props returns the runner actor's props.
func Props(o Options) *actor.Props {
	if o.Clock == nil {
		o.Clock = clock.Real{}
	}
	if o.Publish == nil {
		o.Publish = func(*Result) {}
	}
	latest := &latestConfig{cfg: o.Config, standby: o.Standby} // outlives a restarted incarnation
	return actor.PropsFromProducer(func() actor.Actor {
		return &runnerActor{opts: o, latest: latest, tr: newTranslator(), cancels: map[uint64]context.CancelFunc{}, runs: map[uint64]*slot{}}
	})
}

// latestConfig is the config in force, for an incarnation restarted after a panic.
type latestConfig struct {
	cfg     *conf.Config
	standby bool
}

type runnerActor struct {
	opts    Options
	latest  *latestConfig
	cfg     *conf.Config
	tr      *translator
	slots   []*slot
	running int
	limit   int
	next    int // round-robin start among the slots
	ids     uint64
	cancels map[uint64]context.CancelFunc
	runs    map[uint64]*slot // runs in flight, by id
}

func (r *runnerActor) Receive(ctx actor.Context) {
	switch m := ctx.Message().(type) {
	case *actor.Started:
		r.configure(ctx, r.latest.cfg)
	case *actor.Stopping:
		for _, c := range r.cancels {
			c()
		}
	case *Reconfigure:
		r.latest.cfg = m.Config
		r.configure(ctx, m.Config)
		r.dispatch(ctx)
	case *finished:
		r.finish(ctx, m)
		r.dispatch(ctx)
	case *Test:
		s := r.slot(m.Action)
		if s == nil {
			ctx.Respond(&TestReply{Err: fmt.Errorf("%w %q", ErrUnknownAction, m.Action)})
			return
		}
		r.enqueue(ctx, s, job{ev: r.sample(&s.cfg, m.By), test: true, reply: ctx.Sender()})
		r.dispatch(ctx)
	case *GetStatus:
		ctx.Respond(r.status())
	default:
		if rc, ok := m.(*RoleChanged); ok {
			r.latest.standby = !rc.Active
		}
		occs := r.tr.translate(m, r.opts.Clock.Now())
		for _, o := range occs {
			if r.latest.standby && !slices.Contains(o.names, conf.EventStandby) {
				continue // the active supervisor runs them
			}
			for _, s := range r.slots {
				if name, ok := matches(&s.cfg, o); ok {
					ev := o.ev
					ev.Event = name
					r.enqueue(ctx, s, job{ev: ev})
				}
			}
		}
		if len(occs) > 0 {
			r.dispatch(ctx)
		}
	}
}

func (r *runnerActor) slot(name string) *slot {
	for _, s := range r.slots {
		if s.cfg.Name == name {
			return s
		}
	}
	return nil
}

// configure builds the slots of cfg, keeping the queue and counts of actions that stay.
func (r *runnerActor) configure(ctx actor.Context, cfg *conf.Config) {
	if cfg == nil {
		cfg = &conf.Config{}
	}
	r.cfg = cfg
	r.tr.configure(cfg)
	r.limit = max(cfg.ActionLimits.Concurrency, 1)
	old := r.slots
	r.slots = nil
	for i := range cfg.Actions {
		a := cfg.Actions[i]
		run, err := compile(&a, r.opts.Agent)
		if err != nil {
			r.opts.Logger.Error().Err(err).Str("action", a.Name).Msg("action not loaded")
			continue
		}
		s := &slot{counts: map[string]uint64{}}
		for _, o := range old {
			if o.cfg.Name == a.Name {
				s = o
			}
		}
		s.cfg, s.run = a, run
		for len(s.queue) > a.Queue {
			r.dropWith(ctx, s, "the queue was shortened by a reload")
		}
		r.slots = append(r.slots, s)
	}
	for _, o := range old {
		if !slices.Contains(r.slots, o) {
			o.removed = true
			for id, s := range r.runs {
				if s == o {
					r.cancels[id]()
				}
			}
			for len(o.queue) > 0 {
				r.dropWith(ctx, o, "the action was removed from the config")
			}
		}
	}
}

// matches reports whether an action runs for an occurrence, and under which of its names.
func matches(a *conf.Action, o occurrence) (string, bool) {
	name := ""
	for _, n := range o.names {
		if slices.Contains(a.On, n) {
			name = n
			break
		}
	}
	if name == "" {
		return "", false
	}
	e := o.ev
	if len(a.Pairs) > 0 && !slices.Contains(a.Pairs, e.Pair) {
		return "", false
	}
	if len(a.Triggers) > 0 && !slices.Contains(a.Triggers, e.Trigger) {
		return "", false
	}
	if len(a.Machines) > 0 && !slices.ContainsFunc([]string{e.Machine, e.Main, e.From, e.To}, func(m string) bool {
		return m != "" && slices.Contains(a.Machines, m)
	}) {
		return "", false
	}
	return name, true
}

// sample is a Test's event: a failover of the action's first pair (or the config's first pair or
// pool) from its main to its first backup.
func (r *runnerActor) sample(a *conf.Action, by string) Event {
	ev := Event{Event: conf.EventTest, Trigger: "operator", Time: r.opts.Clock.Now(), SwitchMs: 1, Supervisor: r.cfg.Supervisor.Name,
		Detail: "test run"}
	if by != "" {
		ev.Detail += " by " + by
	}
	pair := ""
	if len(a.Pairs) > 0 {
		pair = a.Pairs[0]
	}
	for _, p := range r.cfg.Pairs {
		if pair == "" || p.Name == pair {
			ev.Pair, ev.Main, ev.From, ev.To, ev.Machine = p.Name, p.Main, p.Main, p.Backup, p.Backup
			return ev
		}
	}
	for _, p := range r.cfg.Pools {
		if (pair == "" || p.Name == pair) && len(p.Mains) > 0 && len(p.Backups) > 0 {
			ev.Pair, ev.Main, ev.From, ev.To, ev.Machine = p.Name, p.Mains[0], p.Mains[0], p.Backups[0], p.Backups[0]
			return ev
		}
	}
	return ev
}

// enqueue queues a run, dropping the oldest waiting one when the queue is full.
func (r *runnerActor) enqueue(ctx actor.Context, s *slot, j job) {
	if len(s.queue) >= s.cfg.Queue {
		r.dropWith(ctx, s, fmt.Sprintf("queue full (%d waiting, %d running): the oldest waiting event was dropped", len(s.queue), s.running))
	}
	s.queue = append(s.queue, j)
}

// dropWith drops the oldest waiting run of s and reports it.
func (r *runnerActor) dropWith(ctx actor.Context, s *slot, why string) {
	j := s.queue[0]
	s.queue = s.queue[1:]
	r.report(ctx, s, j, &Result{Action: s.cfg.Name, Kind: s.cfg.Kind, Event: j.ev, Result: ResultDropped, Detail: why,
		Time: r.opts.Clock.Now(), Test: j.test})
}

// dispatch starts waiting runs while the limits allow, taking the actions in turn.
func (r *runnerActor) dispatch(ctx actor.Context) {
	for r.running < r.limit {
		started := false
		for i := range r.slots {
			s := r.slots[(r.next+i)%len(r.slots)]
			if len(s.queue) == 0 || s.running >= s.cfg.Concurrency {
				continue
			}
			r.next = (r.next + i + 1) % len(r.slots)
			j := s.queue[0]
			s.queue = s.queue[1:]
			r.start(ctx, s, j)
			started = true
			break
		}
		if !started {
			return
		}
	}
}

// start runs j on a goroutine of its own, bounded by the action's timeout; its end comes back as
// *finished.
func (r *runnerActor) start(ctx actor.Context, s *slot, j job) {
	r.ids++
	id := r.ids
	s.running++
	r.running++
	run, cfg, clk := s.run, s.cfg, r.opts.Clock
	rctx, cancel := context.WithTimeout(context.Background(), cfg.Timeout.Duration)
	r.cancels[id], r.runs[id] = cancel, s
	root, self := ctx.ActorSystem().Root, ctx.Self()
	go func() {
		defer cancel()
		begin := clk.Now()
		var out outcome
		attempts := 0
		for {
			attempts++
			out = safeRun(rctx, run, j.ev)
			if out.ok || !errors.Is(out.err, ErrConnect) || attempts > cfg.Retries || rctx.Err() != nil {
				break
			}
			t := time.NewTimer(min(100*time.Millisecond<<(attempts-1), 2*time.Second))
			select {
			case <-rctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
		timedOut := errors.Is(rctx.Err(), context.DeadlineExceeded)
		root.Send(self, &finished{slot: s, job: j, id: id, out: out, attempts: attempts, took: clk.Now().Sub(begin), timedOut: timedOut})
	}()
}

// safeRun runs one attempt; a panic in a kind is a failed run, not a crashed supervisor.
func safeRun(ctx context.Context, run runner, ev Event) (o outcome) {
	defer func() {
		if p := recover(); p != nil {
			o = failed(fmt.Errorf("internal error: %v", p))
		}
	}()
	return run.run(ctx, ev)
}

func (r *runnerActor) finish(ctx actor.Context, f *finished) {
	delete(r.cancels, f.id)
	delete(r.runs, f.id)
	s := f.slot
	s.running--
	r.running--
	res := &Result{Action: s.cfg.Name, Kind: s.cfg.Kind, Event: f.job.ev, Duration: f.took, Attempts: f.attempts,
		Time: r.opts.Clock.Now(), Test: f.job.test}
	switch {
	case f.out.ok:
		res.Result, res.Detail = ResultOK, f.out.detail
	case s.removed && !f.timedOut:
		res.Result, res.Detail = ResultFailed, "cancelled: the action was removed from the config"
	case f.timedOut:
		res.Result, res.Detail = ResultTimedOut, fmt.Sprintf("no result within %s", s.cfg.Timeout.Duration)
		if f.out.err != nil && !errors.Is(f.out.err, context.DeadlineExceeded) {
			res.Detail += " (" + clip(f.out.err.Error()) + ")"
		}
	default:
		res.Result = ResultFailed
		if f.out.err != nil {
			res.Detail = clip(f.out.err.Error())
		}
		if f.attempts > 1 {
			res.Detail += fmt.Sprintf(" (%d attempts)", f.attempts)
		}
	}
	s.hist.observe(f.took)
	r.report(ctx, s, f.job, res)
}

// report logs, counts and publishes a result, and answers a Test.
func (r *runnerActor) report(ctx actor.Context, s *slot, j job, res *Result) {
	s.counts[res.Result]++
	s.last = res
	l := r.opts.Logger.Info()
	if res.Result != ResultOK {
		l = r.opts.Logger.Warn()
	}
	l = l.Str("action", res.Action).Str("kind", res.Kind).Str("event", res.Event.Event).Str("pair", res.Event.Pair).
		Float64("duration_ms", float64(res.Duration.Microseconds())/1000).Str("result", res.Result).Str("detail", res.Detail)
	if res.Event.Main != "" {
		l = l.Str("main", res.Event.Main)
	}
	if res.Event.Machine != "" {
		l = l.Str("machine", res.Event.Machine)
	}
	if res.Test {
		l = l.Bool("test", true)
	}
	l.Msg("action run")
	r.opts.Publish(res)
	if j.reply != nil {
		ctx.Send(j.reply, &TestReply{Result: res})
	}
}

func (r *runnerActor) status() []Status {
	out := make([]Status, 0, len(r.slots))
	for _, s := range r.slots {
		st := Status{Name: s.cfg.Name, Kind: s.cfg.Kind, On: s.cfg.On, Queued: len(s.queue), Running: s.running, Last: s.last,
			Counts: map[string]uint64{}, Durations: s.hist}
		for k, v := range s.counts {
			st.Counts[k] = v
		}
		st.Durations.Counts = append([]uint64(nil), s.hist.Counts...)
		out = append(out, st)
	}
	return out
}
