package identity

import "slices"

// everyone may send protoactor's own bookkeeping: watches between nodes and the answer to a
// message for an actor that is gone.
var everyone = []Role{RoleSupervisor, RoleAgent, RoleOperator}

// senders are the roles that may send each remote message type; a type not listed is accepted
// from nobody. Replies and events come only from supervisors: an agent follows, and an operator
// believes, what a supervisor's certificate signed.
var senders = map[string][]Role{
	"standby.v1.AgentReport":    {RoleAgent},
	"standby.v1.AgentReports":   {RoleAgent},
	"standby.v1.SimSetReply":    {RoleAgent},
	"standby.v1.AgentReply":     {RoleSupervisor},
	"standby.v1.ControlReply":   {RoleSupervisor},
	"standby.v1.ControlEvent":   {RoleSupervisor},
	"standby.v1.ControlRequest": {RoleOperator, RoleSupervisor},
	"standby.v1.SimSet":         {RoleOperator, RoleSupervisor},
	// A command is asked for by a supervisor only; its result comes only from an agent (and the
	// node guard checks the certificate names the result's machine, as for reports).
	"standby.v1.CommandRequest": {RoleSupervisor},
	"standby.v1.CommandResult":  {RoleAgent},
	"standby.v1.SyncBeat":       {RoleSupervisor},
	"standby.v1.SyncState":      {RoleSupervisor},
	"actor.Watch":               everyone,
	"actor.Unwatch":             everyone,
	"actor.Terminated":          everyone,
	"actor.DeadLetterResponse":  everyone,
}

// MaySend reports whether a peer of role r may send messages of the protobuf type typeName.
func MaySend(r Role, typeName string) bool { return slices.Contains(senders[typeName], r) }
