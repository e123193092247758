package agentgw

import (
	"crypto/subtle"
	"fmt"
	"math"

	"standby/actors/machine"
	"standby/protocol/pb"
)

// Refusal reasons sent to agents (and logged). Stable texts: agents log them verbatim.
const (
	reasonNoToken    = "this supervisor has no agent_token configured"
	reasonWrongToken = "wrong token"
)

// gate decides whether a report is accepted, and holds what the gateway keeps of each configured
// machine (one map lookup a report: at 100 000 reports a second, each lookup counts). Not safe
// for concurrent use: the gateway actor owns it.
type gate struct {
	token    []byte
	machines map[string]*beatState
}

func newGate(token string, machines []string) *gate {
	g := &gate{token: []byte(token)}
	g.setMachines(machines)
	return g
}

// setMachines makes names the configured machines; what is kept of those that stay is kept.
func (g *gate) setMachines(names []string) {
	old := g.machines
	g.machines = make(map[string]*beatState, len(names))
	for _, n := range names {
		st := old[n]
		if st == nil {
			st = &beatState{}
		}
		g.machines[n] = st
	}
}

// check returns "" when r is accepted, otherwise why not.
func (g *gate) check(r *pb.AgentReport) string {
	_, reason := g.admit(r)
	return reason
}

// admit returns the state of r's machine when r is accepted, otherwise why not. The token is
// checked before the machine name so a sender without it learns nothing about which machines
// exist.
func (g *gate) admit(r *pb.AgentReport) (*beatState, string) {
	if reason := checkShape(r); reason != "" {
		return nil, reason
	}
	if len(g.token) == 0 {
		return nil, reasonNoToken
	}
	if subtle.ConstantTimeCompare([]byte(r.Token), g.token) != 1 {
		return nil, reasonWrongToken
	}
	st := g.machines[r.Machine]
	if st == nil {
		return nil, fmt.Sprintf("machine %q is not a [[machine]] of this supervisor", r.Machine)
	}
	return st, ""
}

// checkShape enforces pb's size limits and rejects values the machine actor cannot use.
func checkShape(r *pb.AgentReport) string {
	switch {
	case len(r.Machine) == 0:
		return "malformed report: no machine name"
	case len(r.Machine) > pb.MaxNameLen:
		return fmt.Sprintf("malformed report: machine name longer than %d bytes", pb.MaxNameLen)
	case len(r.Token) > 1024:
		return "malformed report: token longer than 1024 bytes"
	case len(r.Services) > pb.MaxServices:
		return fmt.Sprintf("report too large: %d services (at most %d)", len(r.Services), pb.MaxServices)
	case len(r.Health) > pb.MaxHealth:
		return fmt.Sprintf("report too large: %d health values (at most %d)", len(r.Health), pb.MaxHealth)
	case r.Session == 0:
		return "malformed report: session 0"
	case r.SameAs != 0 && (len(r.Services) > 0 || len(r.Health) > 0 || r.AgentAddress != "" || r.Change):
		return "malformed report: a lean heartbeat (same_as) carries services, health, an agent address or a change"
	case len(r.Heard) > pb.MaxSupervisors:
		return fmt.Sprintf("report too large: %d supervisors heard (at most %d)", len(r.Heard), pb.MaxSupervisors)
	}
	for i, h := range r.Heard {
		if h == nil || len(h.Supervisor) > pb.MaxNameLen {
			return fmt.Sprintf("malformed report: heard supervisor %d has a name longer than %d bytes", i, pb.MaxNameLen)
		}
	}
	for i, s := range r.Services {
		switch {
		case s == nil || s.Name == "" || len(s.Name) > pb.MaxNameLen:
			return fmt.Sprintf("malformed report: service %d has no name or one longer than %d bytes", i, pb.MaxNameLen)
		case len(s.Reason) > pb.MaxReasonLen:
			return fmt.Sprintf("malformed report: service %d reason longer than %d bytes", i, pb.MaxReasonLen)
		}
	}
	for i, h := range r.Health {
		switch {
		case h == nil || h.Name == "" || len(h.Name) > pb.MaxNameLen:
			return fmt.Sprintf("malformed report: health value %d has no name or one longer than %d bytes", i, pb.MaxNameLen)
		case len(h.Reason) > pb.MaxReasonLen:
			return fmt.Sprintf("malformed report: health value %d reason longer than %d bytes", i, pb.MaxReasonLen)
		case math.IsNaN(h.Value) || math.IsInf(h.Value, 0):
			return fmt.Sprintf("malformed report: health value %d is not a finite number", i)
		}
	}
	return ""
}

// toReport converts an accepted wire report to the machine actor's input.
func toReport(r *pb.AgentReport) *machine.Report {
	m := &machine.Report{
		Machine:  r.Machine,
		Session:  r.Session,
		Seq:      r.Seq,
		Change:   r.Change,
		Services: make([]machine.Service, len(r.Services)),
		Health:   make([]machine.Reading, len(r.Health)),
	}
	for i, s := range r.Services {
		m.Services[i] = machine.Service{Name: s.Name, Up: s.Up, Reason: s.Reason}
	}
	for i, h := range r.Health {
		m.Health[i] = machine.Reading{Name: h.Name, Value: h.Value, OK: h.Ok, Reason: h.Reason}
	}
	return m
}
