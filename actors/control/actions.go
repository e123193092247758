package control

import (
	"errors"
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/timestamppb"

	"standby/actors/action"
	"standby/actors/router"
	"standby/conf"
	"standby/protocol/pb"
)

// actionEvent is an action run's result as the event stream carries it.
func actionEvent(r *action.Result) *pb.ControlEvent {
	e := r.Event
	return &pb.ControlEvent{Kind: "action", Time: timestamppb.New(r.Time), Action: r.Action, Event: e.Event, Result: r.Result,
		Detail: r.Detail, DurationMs: float64(r.Duration.Microseconds()) / 1000, Pair: e.Pair, Main: e.Main, Machine: e.Machine,
		Trigger: e.Trigger}
}

// actionsStatus is every [[action]] with its latest result, for the status.
func (s *Service) actionsStatus() ([]*pb.Status_Action, error) {
	sts, err := s.sup.Actions()
	if err != nil {
		return nil, err
	}
	out := make([]*pb.Status_Action, 0, len(sts))
	for _, st := range sts {
		a := &pb.Status_Action{Name: st.Name, Kind: st.Kind, On: st.On, Queued: int32(st.Queued), Running: int32(st.Running),
			Ok: st.Counts[action.ResultOK], Failed: st.Counts[action.ResultFailed], TimedOut: st.Counts[action.ResultTimedOut],
			Dropped: st.Counts[action.ResultDropped]}
		if l := st.Last; l != nil {
			a.Result, a.Event, a.Pair, a.Detail = l.Result, l.Event.Event, l.Event.Pair, l.Detail
			a.DurationMs, a.Time = float64(l.Duration.Microseconds())/1000, timestamppb.New(l.Time)
		}
		out = append(out, a)
	}
	return out, nil
}

// doTestAction runs an action once with a sample event and says how it went.
func (s *Service) doTestAction(who conf.Operator, name string) *pb.ControlReply {
	if name == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "test action: no action named")
	}
	res, err := s.sup.TestAction(name, who.Name)
	switch {
	case errors.Is(err, action.ErrUnknownAction):
		return refusal(pb.Code_CODE_UNKNOWN_ACTION, "%v", err)
	case err != nil:
		return refusal(pb.Code_CODE_INTERNAL, "test action %q: %v", name, err)
	}
	what := fmt.Sprintf("action %q (%s) with a sample event of %s: %s in %s", name, res.Kind, orNone(res.Event.Pair), res.Result,
		router.Millis(res.Duration))
	if res.Detail != "" {
		what += ": " + res.Detail
	}
	if res.Result != action.ResultOK {
		return refusal(pb.Code_CODE_ACTION_FAILED, "%s", what)
	}
	return &pb.ControlReply{Ok: true, Reason: what}
}

func orNone(pair string) string {
	if pair == "" {
		return "no pair"
	}
	return "pair " + strconv.Quote(pair)
}

// actionCollector is the actions' metrics at scrape time: runs by action and result, their
// durations and the queues, from the action runner's status.
type actionCollector struct{ svc *Service }

var (
	actionRunsDesc = prometheus.NewDesc("standby_action_runs_total", "Action runs by action and result (ok, failed, timed_out, dropped).",
		[]string{"action", "result"}, nil)
	actionDurationDesc = prometheus.NewDesc("standby_action_duration_seconds", "How long action runs took (dropped runs not counted).",
		[]string{"action"}, nil)
	actionQueuedDesc = prometheus.NewDesc("standby_action_queued", "Action runs waiting in their action's queue.", []string{"action"}, nil)
)

func (c actionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- actionRunsDesc
	ch <- actionDurationDesc
	ch <- actionQueuedDesc
}

func (c actionCollector) Collect(ch chan<- prometheus.Metric) {
	sts, err := c.svc.sup.Actions()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(actionRunsDesc, err)
		return
	}
	for _, st := range sts {
		for _, r := range action.Results {
			ch <- prometheus.MustNewConstMetric(actionRunsDesc, prometheus.CounterValue, float64(st.Counts[r]), st.Name, string(r))
		}
		h := st.Durations
		buckets := make(map[float64]uint64, len(action.DurationBuckets))
		for i, b := range action.DurationBuckets {
			if i < len(h.Counts) {
				buckets[b.Seconds()] = h.Counts[i]
			} else {
				buckets[b.Seconds()] = 0
			}
		}
		ch <- prometheus.MustNewConstHistogram(actionDurationDesc, h.Count, h.Sum.Seconds(), buckets, st.Name)
		ch <- prometheus.MustNewConstMetric(actionQueuedDesc, prometheus.GaugeValue, float64(st.Queued), st.Name)
	}
}
