package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"standby/actors/action"
	"standby/actors/agentgw"
	"standby/actors/machine"
	"standby/actors/pool"
	"standby/conf"
	"standby/protocol/pb"
)

// ActionsName is the action runner's name under the root ("standby/actions").
const ActionsName = "actions"

// startActions spawns the action runner and feeds it the events actions fire on. The feed runs
// on the publisher's goroutine (a pool's, a machine's): it only posts to the runner's mailbox,
// so no action can hold up a switch.
func (s *Supervisor) startActions(cfg *conf.Config) error {
	var agent action.AgentCaller
	if s.node != nil {
		agent = s.callAgent
	}
	s.mu.Lock()
	standby := s.standby
	s.mu.Unlock()
	props := action.Props(action.Options{Config: cfg, Agent: agent, Clock: s.opts.Clock, Standby: standby,
		Logger:  s.log.With().Str("component", "actions").Logger(),
		Publish: func(r *action.Result) { s.sys.EventStream.Publish(r) }})
	pid, err := s.SpawnRoot(ActionsName, props)
	if err != nil {
		return fmt.Errorf("action runner: %w", err)
	}
	s.sys.EventStream.Subscribe(func(evt any) {
		switch evt.(type) {
		case *pool.Event, *machine.Changed, *machine.AlarmChanged, *action.RoleChanged:
			s.sys.Root.Send(pid, evt)
		}
	})
	return nil
}

// reconfigureActions hands a reloaded config to the runner.
func (s *Supervisor) reconfigureActions(cfg *conf.Config) {
	s.sys.Root.Send(s.group(ActionsName), &action.Reconfigure{Config: cfg})
}

// Actions returns every action's status, in config order.
func (s *Supervisor) Actions() ([]action.Status, error) {
	res, err := s.sys.Root.RequestFuture(s.group(ActionsName), &action.GetStatus{}, 2*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("action runner: %w", err)
	}
	return res.([]action.Status), nil
}

// TestAction runs an action once with a sample event (an operator's Test) and returns its result.
func (s *Supervisor) TestAction(name, by string) (*action.Result, error) {
	a := s.Config().Action(name)
	if a == nil {
		return nil, fmt.Errorf("%w %q", action.ErrUnknownAction, name)
	}
	// The run's own timeout, and room for the runs queued before it.
	wait := a.Timeout.Duration*time.Duration(a.Queue+1) + 2*time.Second
	res, err := s.sys.Root.RequestFuture(s.group(ActionsName), &action.Test{Action: name, By: by}, wait).Result()
	if err != nil {
		return nil, fmt.Errorf("action %q: %w", name, err)
	}
	r := res.(*action.TestReply)
	return r.Result, r.Err
}

var commandRuns atomic.Uint64

// callAgent asks the agent of machineName (at the address of its latest report) to run a
// declared command, and waits for the result or ctx's end.
func (s *Supervisor) callAgent(ctx context.Context, machineName string, req *pb.CommandRequest) (*pb.CommandResult, error) {
	cfg := s.Config()
	if cfg.Machine(machineName) == nil {
		return nil, fmt.Errorf("%q is not a [[machine]]", machineName)
	}
	res, err := s.sys.Root.RequestFuture(s.group(AgentsName), &agentgw.GetAgent{Machine: machineName}, 2*time.Second).Result()
	if err != nil {
		return nil, fmt.Errorf("agent gateway: %w", err)
	}
	addr := res.(*agentgw.Agent).Address
	if addr == "" {
		return nil, fmt.Errorf("%w: no agent of %s has reported to this supervisor", action.ErrConnect, machineName)
	}
	timeout := 2 * time.Second
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	req.Token, req.RunId = cfg.Supervisor.AgentToken, commandRuns.Add(1)
	out, err := s.sys.Root.RequestFuture(actor.NewPID(addr, pb.AgentActorID), req, timeout).Result()
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, fmt.Errorf("%w (agent at %s)", context.DeadlineExceeded, addr)
	case errors.Is(err, actor.ErrDeadLetter):
		return nil, fmt.Errorf("%w: agent at %s is gone", action.ErrConnect, addr)
	case err != nil:
		return nil, err
	}
	r, ok := out.(*pb.CommandResult)
	if !ok {
		return nil, fmt.Errorf("agent at %s answered %T", addr, out)
	}
	return r, nil
}
