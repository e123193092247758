package router

import (
	"fmt"
	"strings"

	"standby/conf"
	vh "standby/protocol/videohub"
)

// Mirror is a client's copy of a Videohub's state, built only from what the router sends (the
// protocol says to trust status updates, never the request). Indices are 0-based as on the wire.
type Mirror struct {
	Device       vh.Device
	InputLabels  map[int]string
	OutputLabels map[int]string
	Routing      map[int]int          // output → input
	Locks        map[int]vh.LockState // output → O/L/U as seen by this client
	// Seen records which blocks have arrived since the last (re)connect or re-dump.
	Seen map[vh.Kind]bool
}

// NewMirror returns an empty mirror.
func NewMirror() *Mirror {
	m := &Mirror{}
	m.Reset()
	return m
}

// Reset forgets everything (a new connection).
func (m *Mirror) Reset() {
	*m = Mirror{InputLabels: map[int]string{}, OutputLabels: map[int]string{}, Routing: map[int]int{},
		Locks: map[int]vh.LockState{}, Seen: map[vh.Kind]bool{}}
}

// Apply folds a block the router sent into the mirror. Pushes carry only changed lines.
func (m *Mirror) Apply(b vh.Block) {
	m.Seen[b.Kind] = true
	switch b.Kind {
	case vh.KindDevice:
		d := b.Device
		if d.Has&vh.FieldPresent != 0 && d.Present != vh.PresenceTrue {
			// Nothing further follows; a re-attach re-sends every block.
			m.Device = d
			m.Seen = map[vh.Kind]bool{vh.KindDevice: true}
			return
		}
		if d.Has&vh.FieldPresent == 0 {
			d.Present = vh.PresenceTrue
		}
		if d.Has&vh.FieldModelName == 0 {
			d.ModelName = m.Device.ModelName
		}
		if d.Has&vh.FieldFriendlyName == 0 {
			d.FriendlyName = m.Device.FriendlyName
		}
		if d.Has&vh.FieldVideoInputs == 0 {
			d.VideoInputs = m.Device.VideoInputs
		}
		if d.Has&vh.FieldVideoOutputs == 0 {
			d.VideoOutputs = m.Device.VideoOutputs
		}
		m.Device = d
	case vh.KindInputLabels:
		for _, l := range b.Labels {
			m.InputLabels[l.Index] = l.Text
		}
	case vh.KindOutputLabels:
		for _, l := range b.Labels {
			m.OutputLabels[l.Index] = l.Text
		}
	case vh.KindVideoOutputRouting:
		for _, r := range b.Routes {
			m.Routing[r.Dest] = r.Source
		}
	case vh.KindVideoOutputLocks:
		for _, l := range b.Locks {
			m.Locks[l.Index] = l.State
		}
	}
}

// Present reports whether a device is attached.
func (m *Mirror) Present() bool {
	return m.Seen[vh.KindDevice] && m.Device.Present == vh.PresenceTrue
}

// Ready reports whether the prelude has given enough to switch: the device and its routing
// (END PRELUDE is optional: older firmware never sends it).
func (m *Mirror) Ready() bool {
	return m.Present() && m.Seen[vh.KindVideoOutputRouting]
}

// ResolveInput turns a config port into a 0-based input index.
func (m *Mirror) ResolveInput(p conf.Port) (int, error) {
	return resolve(p, m.InputLabels, m.Device.VideoInputs, "input")
}

// ResolveOutput turns a config port into a 0-based output index.
func (m *Mirror) ResolveOutput(p conf.Port) (int, error) {
	return resolve(p, m.OutputLabels, m.Device.VideoOutputs, "output")
}

func resolve(p conf.Port, labels map[int]string, count int, what string) (int, error) {
	if p.Label == "" {
		if p.Number < 1 || p.Number > count {
			return 0, &MissingPort{What: what, Port: p, Count: count}
		}
		return p.Number - 1, nil
	}
	found := -1
	for i, l := range labels {
		if l == p.Label && (found < 0 || i < found) {
			found = i
		}
	}
	if found < 0 {
		return 0, &MissingPort{What: what, Port: p, Count: count}
	}
	return found, nil
}

// MissingPort is a port of the config that the router does not have.
type MissingPort struct {
	What  string // "input" or "output"
	Port  conf.Port
	Count int // how many of What the router has
}

func (e *MissingPort) Error() string { return e.In("the router") }

// In says what is missing naming the router: "input 99: hub1 has 12 inputs (1..12)".
func (e *MissingPort) In(router string) string {
	if e.Port.Label != "" {
		return fmt.Sprintf("%s %q: no %s of %s carries that label", e.What, e.Port.Label, e.What, router)
	}
	return fmt.Sprintf("%s %d: %s has %d %ss (1..%d)", e.What, e.Port.Number, router, e.Count, e.What, e.Count)
}

// Known reports whether the mirror holds the router's size and labels, so ports can be checked
// against it.
func (m *Mirror) Known() bool {
	return m.Device.VideoInputs > 0 && m.Seen[vh.KindInputLabels] && m.Seen[vh.KindOutputLabels]
}

// OutputName is an output as a person reads it: "5 (Program)".
func (m *Mirror) OutputName(i int) string { return name(i, m.OutputLabels) }

// InputName is an input as a person reads it.
func (m *Mirror) InputName(i int) string { return name(i, m.InputLabels) }

func name(i int, labels map[int]string) string {
	if l := strings.TrimSpace(labels[i]); l != "" {
		return fmt.Sprintf("%d (%s)", i+1, l)
	}
	return fmt.Sprintf("%d", i+1)
}

// Clone returns a deep copy of the mirror.
func (m *Mirror) Clone() *Mirror {
	c := &Mirror{Device: m.Device, InputLabels: map[int]string{}, OutputLabels: map[int]string{}, Routing: map[int]int{},
		Locks: map[int]vh.LockState{}, Seen: map[vh.Kind]bool{}}
	for k, x := range m.InputLabels {
		c.InputLabels[k] = x
	}
	for k, x := range m.OutputLabels {
		c.OutputLabels[k] = x
	}
	for k, x := range m.Routing {
		c.Routing[k] = x
	}
	for k, x := range m.Locks {
		c.Locks[k] = x
	}
	for k, x := range m.Seen {
		c.Seen[k] = x
	}
	return c
}
