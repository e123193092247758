package vhsim

import (
	"net"
	"strings"
	"time"

	vh "standby/protocol/videohub"
)

func (s *Server) addClient(conn *net.TCPConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.done: // Close already disconnected the others; do not start goroutines it won't wait for
		conn.Close()
		return
	default:
	}
	s.nextID++
	c := newClient(s, conn, s.nextID)
	s.clients[c] = struct{}{}
	s.st.Clients = len(s.clients)
	s.st.Accepted++
	s.notifyLocked()
	c.log.Info().Msg("client connected")
	// Queued under s.mu, so no push can overtake the prelude.
	c.enqueue(s.dumpLocked(c.ip, true))
	s.wg.Add(2)
	go c.readLoop()
	go c.writeLoop()
}

func (s *Server) removeClient(c *client) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c]; ok {
		delete(s.clients, c)
		s.st.Clients = len(s.clients)
		s.notifyLocked()
	}
}

// dumpOrder is the prelude after the device block, in the order real 2.8 firmware sends it
// (locks before routing).
var dumpOrder = []vh.Kind{vh.KindInputLabels, vh.KindOutputLabels, vh.KindVideoOutputLocks,
	vh.KindVideoOutputRouting, vh.KindConfiguration}

// dumpLocked encodes the full state as seen by a client at ip: the prelude (with the preamble)
// or the re-dump after a device attach (without). A detached device sends only its device block.
func (s *Server) dumpLocked(ip string, preamble bool) []byte {
	var buf []byte
	if preamble {
		buf = vh.AppendBlock(buf, s.blockLocked(vh.KindPreamble, ip))
	}
	buf = vh.AppendBlock(buf, s.blockLocked(vh.KindDevice, ip))
	if !s.st.Present {
		return buf
	}
	for _, k := range dumpOrder {
		buf = vh.AppendBlock(buf, s.blockLocked(k, ip))
	}
	if !s.faults.NoEndPrelude {
		buf = vh.AppendBlock(buf, vh.Block{Kind: vh.KindEndPrelude})
	}
	return buf
}

// dumpable reports whether blockLocked can render kind: the blocks this simulated model has.
func dumpable(k vh.Kind) bool {
	switch k {
	case vh.KindPreamble, vh.KindDevice:
		return true
	}
	for _, d := range dumpOrder {
		if d == k {
			return true
		}
	}
	return false
}

// blockLocked renders the whole block of a dumpable kind as seen by a client at ip.
func (s *Server) blockLocked(k vh.Kind, ip string) vh.Block {
	b := vh.Block{Kind: k}
	switch k {
	case vh.KindPreamble:
		b.Version = s.opts.Version
	case vh.KindDevice:
		b.Device = s.deviceLocked()
	case vh.KindInputLabels:
		b.Labels = labelLines(s.st.InputLabels)
	case vh.KindOutputLabels:
		b.Labels = labelLines(s.st.OutputLabels)
	case vh.KindVideoOutputRouting:
		b.Routes = make([]vh.Route, len(s.st.Routes))
		for out, in := range s.st.Routes {
			b.Routes[out] = vh.Route{Dest: out, Source: in}
		}
	case vh.KindVideoOutputLocks:
		b.Locks = make([]vh.Lock, len(s.st.LockOwners))
		for out, owner := range s.st.LockOwners {
			b.Locks[out] = vh.Lock{Index: out, State: lockView(owner, ip)}
		}
	case vh.KindConfiguration:
		b.Settings = []vh.Setting{{Key: "Take Mode", Value: boolText(s.st.TakeMode)}}
	}
	return b
}

func (s *Server) deviceLocked() vh.Device {
	if !s.st.Present {
		return vh.Device{Has: vh.FieldPresent, Present: vh.PresenceFalse}
	}
	return vh.Device{
		Has: vh.FieldPresent | vh.FieldModelName | vh.FieldFriendlyName | vh.FieldUniqueID | vh.FieldVideoInputs |
			vh.FieldVideoProcessingUnits | vh.FieldVideoOutputs | vh.FieldVideoMonitoringOutputs | vh.FieldSerialPorts,
		Present:      vh.PresenceTrue,
		ModelName:    s.opts.Model,
		FriendlyName: s.st.FriendlyName,
		UniqueID:     s.opts.UniqueID,
		VideoInputs:  s.opts.Inputs,
		VideoOutputs: s.opts.Outputs,
	}
}

// lockView is the letter a client at ip sees for a lock owned by owner.
func lockView(owner, ip string) vh.LockState {
	switch owner {
	case "":
		return vh.LockUnlocked
	case ip:
		return vh.LockOwned
	}
	return vh.LockLocked
}

func labelLines(labels []string) []vh.Label {
	lines := make([]vh.Label, len(labels))
	for i, text := range labels {
		lines[i] = vh.Label{Index: i, Text: text}
	}
	return lines
}

func labelsOf(idx int, text string) []vh.Label { return []vh.Label{{Index: idx, Text: text}} }
func routesOf(out, in int) []vh.Route          { return []vh.Route{{Dest: out, Source: in}} }

func boolText(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// handle answers one client block: one ACK or NAK, then any push.
func (s *Server) handle(c *client, b vh.Block) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.log.Debug().Stringer("kind", b.Kind).Int("lines", b.Lines).Msg("block received")
	switch {
	case b.Kind == vh.KindPing:
		s.replyLocked(c, vh.KindACK)
	case !s.st.Present:
		if b.Kind == vh.KindDevice && b.IsDumpRequest() {
			s.replyLocked(c, vh.KindACK)
			c.enqueue(vh.AppendBlock(nil, s.blockLocked(b.Kind, c.ip)))
			return
		}
		s.nakLocked(c, b, "no device attached")
	case b.Kind.IsStatus():
		s.replyLocked(c, vh.KindACK) // "If a client sends hardware status blocks, they will be ignored"
	case b.IsDumpRequest():
		if !dumpable(b.Kind) {
			s.nakLocked(c, b, "this model has no such block")
			return
		}
		s.replyLocked(c, vh.KindACK)
		c.enqueue(vh.AppendBlock(nil, s.blockLocked(b.Kind, c.ip)))
	case b.Kind == vh.KindInputLabels, b.Kind == vh.KindOutputLabels:
		s.handleLabelsLocked(c, b)
	case b.Kind == vh.KindVideoOutputRouting:
		s.handleRoutingLocked(c, b)
	case b.Kind == vh.KindVideoOutputLocks:
		s.handleLocksLocked(c, b)
	case b.Kind == vh.KindConfiguration:
		s.handleConfigurationLocked(c, b)
	case b.Kind == vh.KindDevice:
		s.handleDeviceLocked(c, b)
	default:
		s.nakLocked(c, b, "unknown or unsupported block")
	}
}

func (s *Server) replyLocked(c *client, k vh.Kind) {
	c.enqueue(vh.AppendBlock(nil, vh.Block{Kind: k}))
}

func (s *Server) nakLocked(c *client, b vh.Block, reason string) {
	c.log.Debug().Stringer("kind", b.Kind).Str("header", b.Header).Str("reason", reason).Msg("NAK")
	s.replyLocked(c, vh.KindNAK)
}

// broadcastLocked pushes one block, the same for every client.
func (s *Server) broadcastLocked(b vh.Block) {
	buf := vh.AppendBlock(nil, b)
	for c := range s.clients {
		c.enqueue(buf)
	}
}

func (s *Server) handleLabelsLocked(c *client, b vh.Block) {
	input := b.Kind == vh.KindInputLabels
	n := s.opts.Outputs
	if input {
		n = s.opts.Inputs
	}
	var valid []vh.Label
	for _, l := range b.Labels {
		if l.Index < n {
			valid = append(valid, l)
		}
	}
	if len(valid) == 0 {
		s.nakLocked(c, b, "no valid label line")
		return
	}
	s.replyLocked(c, vh.KindACK)
	s.applyLabelsLocked(input, valid)
}

// applyLabelsLocked sets labels and pushes the ones that changed.
func (s *Server) applyLabelsLocked(input bool, lines []vh.Label) {
	labels, kind := s.st.OutputLabels, vh.KindOutputLabels
	if input {
		labels, kind = s.st.InputLabels, vh.KindInputLabels
	}
	var changed []vh.Label
	for _, l := range lines {
		if labels[l.Index] != l.Text {
			labels[l.Index] = l.Text
			changed = append(changed, l)
		}
	}
	if len(changed) > 0 {
		s.notifyLocked()
		s.broadcastLocked(vh.Block{Kind: kind, Labels: changed})
	}
}

func (s *Server) handleRoutingLocked(c *client, b vh.Block) {
	cmd := RoutingCommand{At: time.Now(), From: c.ip, Routes: make(map[int]int, len(b.Routes))}
	for _, r := range b.Routes {
		cmd.Routes[r.Dest] = r.Source
	}
	if len(s.commands) >= maxCommands {
		s.commands = s.commands[1:]
	}
	s.commands = append(s.commands, cmd)
	var valid []vh.Route
	invalid, locked := b.Skipped, 0
	for _, r := range b.Routes {
		switch owner := s.lockOwnerLocked(r.Dest); {
		case r.Dest >= s.opts.Outputs || r.Source < 0 || r.Source >= s.opts.Inputs:
			invalid++
		case owner != "" && owner != c.ip:
			locked++
		default:
			valid = append(valid, r)
		}
	}
	atomic := s.faults.Routing == RoutingAtomic
	switch {
	case atomic && invalid > 0, len(valid) == 0 && locked == 0:
		s.nakLocked(c, b, "invalid routing line")
	case atomic && locked > 0, len(valid) == 0:
		if s.faults.LockedRoute == LockedACKNoChange {
			s.replyLocked(c, vh.KindACK)
		} else {
			s.nakLocked(c, b, "output locked by another IP")
		}
	default:
		s.replyLocked(c, vh.KindACK)
		s.applyRoutesLocked(valid)
	}
}

func (s *Server) lockOwnerLocked(out int) string {
	if out < len(s.st.LockOwners) {
		return s.st.LockOwners[out]
	}
	return ""
}

// applyRoutesLocked sets routes and pushes the ones that changed.
func (s *Server) applyRoutesLocked(routes []vh.Route) {
	var changed []vh.Route
	for _, r := range routes {
		if s.st.Routes[r.Dest] != r.Source {
			s.st.Routes[r.Dest] = r.Source
			changed = append(changed, r)
		}
	}
	if len(changed) > 0 {
		s.notifyLocked()
		s.broadcastLocked(vh.Block{Kind: vh.KindVideoOutputRouting, Routes: changed})
		s.log.Debug().Interface("routes", changed).Msg("routes changed")
	}
}

// lockChange gives output out's lock to owner ("" unlocks).
type lockChange struct {
	out   int
	owner string
}

func (s *Server) handleLocksLocked(c *client, b vh.Block) {
	// Lines apply in order, so "3 F" then "3 O" takes over a lock: track owners as they change.
	owners := map[int]string{}
	ownerOf := func(out int) string {
		if o, ok := owners[out]; ok {
			return o
		}
		return s.st.LockOwners[out]
	}
	var changes []lockChange
	for _, l := range b.Locks {
		if l.Index >= s.opts.Outputs {
			continue
		}
		owner := ownerOf(l.Index)
		var next string
		switch l.State {
		case vh.LockOwned: // take: refused on another IP's lock (F first)
			if owner != "" && owner != c.ip {
				continue
			}
			next = c.ip
		case vh.LockUnlocked: // release: own lock only
			if owner != "" && owner != c.ip {
				continue
			}
		case vh.LockForce: // release anyone's
		default: // L is a server-to-client letter
			continue
		}
		owners[l.Index] = next
		changes = append(changes, lockChange{l.Index, next})
	}
	if len(changes) == 0 {
		s.nakLocked(c, b, "no valid lock line")
		return
	}
	s.replyLocked(c, vh.KindACK)
	s.applyLocksLocked(changes)
}

// applyLocksLocked sets lock owners and pushes the changed locks, each client with its own view.
func (s *Server) applyLocksLocked(changes []lockChange) {
	var changed []int
	seen := map[int]bool{}
	for _, ch := range changes {
		if s.st.LockOwners[ch.out] != ch.owner {
			s.st.LockOwners[ch.out] = ch.owner
			if !seen[ch.out] {
				seen[ch.out] = true
				changed = append(changed, ch.out)
			}
		}
	}
	if len(changed) == 0 {
		return
	}
	s.notifyLocked()
	for c := range s.clients {
		b := vh.Block{Kind: vh.KindVideoOutputLocks}
		for _, out := range changed {
			b.Locks = append(b.Locks, vh.Lock{Index: out, State: lockView(s.st.LockOwners[out], c.ip)})
		}
		c.enqueue(vh.AppendBlock(nil, b))
	}
}

func (s *Server) handleConfigurationLocked(c *client, b vh.Block) {
	v, _ := b.Setting("Take Mode")
	var take bool
	switch strings.ToLower(v) {
	case "true":
		take = true
	case "false":
	default:
		s.nakLocked(c, b, "no valid Take Mode line")
		return
	}
	s.replyLocked(c, vh.KindACK)
	if s.st.TakeMode != take {
		s.st.TakeMode = take
		s.notifyLocked()
		s.broadcastLocked(vh.Block{Kind: vh.KindConfiguration, Settings: []vh.Setting{{Key: "Take Mode", Value: boolText(take)}}})
	}
}

func (s *Server) handleDeviceLocked(c *client, b vh.Block) {
	if b.Device.Has&vh.FieldFriendlyName == 0 {
		s.nakLocked(c, b, "only Friendly name can be set")
		return
	}
	s.replyLocked(c, vh.KindACK)
	if name := b.Device.FriendlyName; name != s.st.FriendlyName {
		s.st.FriendlyName = name
		s.notifyLocked()
		s.broadcastLocked(vh.Block{Kind: vh.KindDevice, Device: vh.Device{Has: vh.FieldFriendlyName, FriendlyName: name}})
	}
}
