package supervisor

import (
	"errors"
	"fmt"
	"time"

	"standby/actors/failover"
	"standby/actors/machine"
)

// ErrUnknownMachine: an operation named no configured [[machine]].
var ErrUnknownMachine = errors.New("unknown machine")

// AcknowledgeMachine acknowledges a machine's own alarm (duplicate_agent) on behalf of operator by.
// Acknowledging an active duplicate_agent makes the machine follow the newer agent session. It
// returns ErrUnknownMachine, or failover.ErrNoAlarm when the machine has no such alarm.
func (s *Supervisor) AcknowledgeMachine(name string, kind failover.AlarmKind, by string) error {
	if s.Config().Machine(name) == nil {
		return fmt.Errorf("%w %q", ErrUnknownMachine, name)
	}
	res, err := s.sys.Root.RequestFuture(s.PID(MachinesDir, name), &machine.Acknowledge{Kind: kind, By: by}, 5*time.Second).Result()
	if err != nil {
		return fmt.Errorf("machine %q: %w", name, err)
	}
	r, ok := res.(*machine.AcknowledgeReply)
	if !ok {
		return fmt.Errorf("machine %q: unexpected answer %T", name, res)
	}
	return r.Err
}
