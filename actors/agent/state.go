package agent

import (
	"time"
	"unicode/utf8"

	"standby/protocol/pb"
)

// Reasons used before anything is known.
const (
	reasonNotChecked = "not checked yet"
	reasonNoReading  = "no reading yet"
	reasonSimDown    = "simulated failure"
)

// table is what the agent knows about its services and health values, in config order. Pure: the
// time of an observation comes in with it. Not safe for concurrent use (the agent actor owns it).
type table struct {
	services []serviceState
	health   []healthState
	// ver counts changes of what a report carries (any field, a plain value change too): a lean
	// heartbeat may name an earlier report only while ver is what it was then.
	ver uint64
}

type serviceState struct {
	name   string
	sim    bool
	known  bool
	up     bool
	reason string
	since  time.Time
}

type healthState struct {
	name   string
	sim    bool
	known  bool
	value  float64
	ok     bool
	reason string
}

// setService records a service observation at. It reports whether the service changed state: its
// first observation or an up/down flip. A new reason while down is kept but is no change.
func (t *table) setService(i int, up bool, reason string, at time.Time) bool {
	s := &t.services[i]
	if up {
		reason = ""
	}
	reason = truncate(reason, pb.MaxReasonLen)
	changed := !s.known || s.up != up
	if changed || s.reason != reason {
		t.ver++
	}
	if changed {
		s.since = at
	}
	s.known, s.up, s.reason = true, up, reason
	return changed
}

// setHealth records a health reading. It reports whether the reading changed in kind: its first
// reading or a flip between readable and not. Plain value changes ride on the next heartbeat.
func (t *table) setHealth(i int, value float64, ok bool, reason string) bool {
	h := &t.health[i]
	if ok {
		reason = ""
	} else {
		value = 0
	}
	changed := !h.known || h.ok != ok
	reason = truncate(reason, pb.MaxReasonLen)
	if changed || h.value != value || h.reason != reason {
		t.ver++
	}
	h.known, h.value, h.ok, h.reason = true, value, ok, reason
	return changed
}

// servicesKnown reports whether every service has been observed at least once.
func (t *table) servicesKnown() bool {
	for _, s := range t.services {
		if !s.known {
			return false
		}
	}
	return true
}

// serviceIndex and healthIndex find entries by name; -1 when absent.
func (t *table) serviceIndex(name string) int {
	for i := range t.services {
		if t.services[i].name == name {
			return i
		}
	}
	return -1
}

func (t *table) healthIndex(name string) int {
	for i := range t.health {
		if t.health[i].name == name {
			return i
		}
	}
	return -1
}

// report builds the wire report of the current state; the caller fills the envelope fields.
func (t *table) report() *pb.AgentReport {
	r := &pb.AgentReport{
		Services: make([]*pb.AgentReport_Service, len(t.services)),
		Health:   make([]*pb.AgentReport_Health, len(t.health)),
	}
	for i, s := range t.services {
		ws := &pb.AgentReport_Service{Name: s.name, Up: s.up, Reason: s.reason}
		if !s.known {
			ws.Reason = reasonNotChecked
		}
		if !s.since.IsZero() {
			ws.SinceUnixNano = s.since.UnixNano()
		}
		r.Services[i] = ws
	}
	for i, h := range t.health {
		wh := &pb.AgentReport_Health{Name: h.name, Value: h.value, Ok: h.ok, Reason: h.reason}
		if !h.known {
			wh.Reason = reasonNoReading
		}
		r.Health[i] = wh
	}
	return r
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}
