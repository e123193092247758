package control

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"standby/actors/action"
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
		res.Duration.Round(time.Millisecond))
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

// writeActionMetrics writes runs by action and result and the run duration histogram.
func (s *Service) writeActionMetrics(w io.Writer) error {
	sts, err := s.sup.Actions()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "# HELP standby_action_runs_total Action runs by action and result (ok, failed, timed_out, dropped).\n# TYPE standby_action_runs_total counter\n")
	for _, st := range sts {
		for _, r := range action.Results {
			fmt.Fprintf(w, "standby_action_runs_total{action=\"%s\",result=\"%s\"} %d\n", escapeLabel(st.Name), r, st.Counts[r])
		}
	}
	fmt.Fprintf(w, "# HELP standby_action_duration_seconds How long action runs took (dropped runs not counted).\n# TYPE standby_action_duration_seconds histogram\n")
	for _, st := range sts {
		h, name := st.Durations, escapeLabel(st.Name)
		for i, b := range action.DurationBuckets {
			var n uint64
			if i < len(h.Counts) {
				n = h.Counts[i]
			}
			fmt.Fprintf(w, "standby_action_duration_seconds_bucket{action=\"%s\",le=\"%s\"} %d\n", name, strconv.FormatFloat(b.Seconds(), 'g', -1, 64), n)
		}
		fmt.Fprintf(w, "standby_action_duration_seconds_bucket{action=\"%s\",le=\"+Inf\"} %d\n", name, h.Count)
		fmt.Fprintf(w, "standby_action_duration_seconds_sum{action=\"%s\"} %s\n", name, strconv.FormatFloat(h.Sum.Seconds(), 'g', -1, 64))
		fmt.Fprintf(w, "standby_action_duration_seconds_count{action=\"%s\"} %d\n", name, h.Count)
	}
	fmt.Fprintf(w, "# HELP standby_action_queued Action runs waiting in their action's queue.\n# TYPE standby_action_queued gauge\n")
	for _, st := range sts {
		fmt.Fprintf(w, "standby_action_queued{action=\"%s\"} %d\n", escapeLabel(st.Name), st.Queued)
	}
	return nil
}
