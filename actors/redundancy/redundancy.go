// Package redundancy decides which of a pair of supervisors drives the router: the primary, or a
// secondary acting for a primary that is gone. Machine is the pure decision (beats from the peer,
// the agents' votes and the time in; role changes and status out); the sync link actor in link.go
// is its shell.
//
// The rule, and why:
//
//   - A split brain (both supervisors routing) is worse than a slow takeover, so the peer's
//     silence alone is never enough. The agents are the witnesses (ZeroMQ's Binary Star rule):
//     every agent reports to both supervisors and says, in each report, which supervisors it
//     still hears. A standby supervisor takes over only when the peer has been silent on the
//     sync link for failover_offset AND a strict majority of the studio's agents (machines with
//     an agent, not simulated) report to it that they lost the peer too. A supervisor that only
//     lost the sync link hears from agents that still hear the peer: it stays standby.
//   - An active supervisor that lost the peer and hears from no more than half of the studio's
//     agents steps down: it is the isolated one, and its machines only look silent. Whoever has
//     the majority takes over.
//   - A term increases with every activation and is persisted. A supervisor that hears a higher
//     term stops routing at once (its pools become standby, actors/failover SetRole). Every route
//     carries the term in the log.
//   - At start a supervisor is standby and becomes active (primary, or a standby whose peer is
//     unavailable) only after hearing the peer or waiting failover_offset, and never while an
//     agent reports hearing the peer active: a restarted supervisor does not take the router
//     from one that is running.
//   - Handovers (automatic failback of a returning primary, Make primary) go through a moment
//     with nobody active: the active side steps down first, announces it, and only then does the
//     other activate with a higher term. The router is not touched by the handover itself: the
//     new active side starts from what the router shows.
//   - Two supervisors configured with the same role, or speaking different protocol versions,
//     are Incompatible: both stay standby (nothing routes) and say why.
//
// Known limits: with no agents (only simulated machines) the peer's silence is the only evidence,
// so a cut sync link makes both sides active; a studio whose agents cannot reach one supervisor
// (a firewall) gives that one no votes, so it can never take over. Both are logged.
package redundancy

import (
	"fmt"
	"time"

	"standby/conf"
)

// Protocol is the sync link's protocol version; peers of another version are Incompatible. 2: the
// state document (pb.StateDoc) with revisions acknowledged in beats.
const Protocol = 2

// NotSyncedAfter is how long the two sides may hold different state documents (Syncing) before
// the status says Not synced.
const NotSyncedAfter = 2 * time.Second

// Status is the sync link's state, as LTN Schedule names them.
type Status string

// Statuses.
const (
	NoRedundancy Status = "No redundancy"
	Connecting   Status = "Connecting"
	Syncing      Status = "Syncing"
	Synced       Status = "Synced"
	NotSynced    Status = "Not synced"
	Unavailable  Status = "Unavailable"
	Incompatible Status = "Incompatible"
)

// Config configures a Machine.
type Config struct {
	Mode           string // conf.Redundancy* (not none)
	Name           string // this supervisor's name
	FailoverOffset time.Duration
	// SyncInterval is the beat period: a peer's beat is evidence of the present only when it
	// acknowledges one of this side's beats of the last half offset.
	SyncInterval time.Duration
	AutoFailback bool
	// Agents is how many machines of the studio have agents (not simulated): the electorate.
	Agents int
}

// Events.
type (
	// PeerBeat is the peer's heartbeat on the sync link.
	PeerBeat struct {
		Name     string
		Mode     string
		Protocol uint32
		Term     uint64
		Active   bool
		// HearsYou: the peer hears this supervisor's beats; Ack is the Seq of the last one it heard.
		// Seq numbers the sender's beats.
		HearsYou bool
		Seq, Ack uint64
		// WantActive: the peer asks this side to step down (a returning primary's failback, Make
		// primary).
		WantActive bool
		// Promoted: the peer is active because an operator made it so (no automatic failback).
		Promoted bool
		// StateTerm and StateRevision identify the state document the peer holds; StateErr says
		// why it could not take this side's; WantState asks for the whole document (Resync).
		StateTerm, StateRevision uint64
		StateErr                 string
		WantState                bool
	}
	// Votes are the agents' witness tally from this supervisor's gateway: Reporting agents
	// report to it lately; of them Hear still hear the peer and HearActive hear it active.
	Votes struct{ Reporting, Hear, HearActive int }
	// Tick is the passing of time, with the state document this side holds (term, revision) and
	// why the active peer's last one could not be taken (StateErr).
	Tick struct {
		StateTerm, StateRevision uint64
		StateErr                 string
		// Adopted counts the active peer's documents taken; a new one means the state arrived.
		Adopted uint64
	}
	// Resync is an operator's Resync now: the active side sends its whole document again and the
	// status is Syncing until the peer confirms it.
	Resync struct{}
	// MakePrimary is an operator's request to make this supervisor the active one.
	MakePrimary struct{ By string }
)

// Event is an input of Step.
type Event interface{ isEvent() }

func (PeerBeat) isEvent()    {}
func (Votes) isEvent()       {}
func (Tick) isEvent()        {}
func (MakePrimary) isEvent() {}
func (Resync) isEvent()      {}

// Actions.
type (
	// SetRole: the supervisor becomes active or standby under Term (persist Term before routing).
	SetRole struct {
		Active bool
		Term   uint64
		Why    string
	}
	// StatusChanged: the sync link's status changed.
	StatusChanged struct {
		Status Status
		Detail string
	}
)

// Action is an output of Step.
type Action interface{ isAction() }

func (SetRole) isAction()       {}
func (StatusChanged) isAction() {}

// Machine is one supervisor's side of the pair. Not safe for concurrent use.
type Machine struct {
	cfg     Config
	started time.Time
	term    uint64
	active  bool

	heard    bool // the peer was heard since start
	lastPeer time.Time
	peer     PeerBeat
	votes    Votes
	status   Status
	detail   string
	// gotState: the active peer's state arrived since this side last was active or lost the
	// peer; a returning primary takes control back only then.
	gotState bool
	seq      uint64    // beats sent
	now      time.Time // of the event being handled
	// want: this side asks the peer to step down (failback of a returning primary, Make primary).
	want bool
	// promoted: active because an operator pressed Make primary; promoteOnHandover: it asked the
	// peer to hand over for that reason.
	promoted, promoteOnHandover bool
	// incompatible says why, when it is.
	incompatible string
	// held is the state document this side holds (Tick); differSince is when the two sides'
	// documents started to differ (zero while they are the same); resyncSeq is this side's beat
	// at the last Resync: Synced needs a peer beat acknowledging a later one.
	held        Tick
	differSince time.Time
	resyncSeq   uint64
	resync      bool
	// wantState asks the active peer for its whole document (Resync on the standby side).
	wantState bool
}

// New returns the machine of a supervisor starting at now with its persisted term: standby.
func New(cfg Config, term uint64, now time.Time) *Machine {
	return &Machine{cfg: cfg, started: now, term: term, status: Connecting, detail: "waiting for peer"}
}

// SetAgents changes the electorate: how many machines of the studio have agents.
func (m *Machine) SetAgents(n int) { m.cfg.Agents = n }

// Active reports whether this supervisor drives the router, and its term.
func (m *Machine) Active() (bool, uint64) { return m.active, m.term }

// Status is the sync link's status and why.
func (m *Machine) Status() (Status, string) { return m.status, m.detail }

// Peer is the peer's last beat and whether it is heard now.
func (m *Machine) Peer() (PeerBeat, bool) { return m.peer, m.heard && m.status != Unavailable }

// Beat is what this side sends the peer on every sync interval.
func (m *Machine) Beat(now time.Time) PeerBeat {
	m.seq++
	return PeerBeat{Name: m.cfg.Name, Mode: m.cfg.Mode, Protocol: Protocol, Term: m.term, Active: m.active, Seq: m.seq, Ack: m.peer.Seq,
		HearsYou: m.heard && now.Sub(m.lastPeer) < m.cfg.FailoverOffset, WantActive: m.want, Promoted: m.active && m.promoted,
		StateTerm: m.held.StateTerm, StateRevision: m.held.StateRevision, StateErr: m.held.StateErr, WantState: m.wantState}
}

// SendState reports whether the active side should send its state document now: the peer holds
// another one, or asked for it whole.
func (m *Machine) SendState() bool {
	return m.active && m.heard && (m.peer.WantState || m.peer.StateTerm != m.held.StateTerm || m.peer.StateRevision != m.held.StateRevision)
}

// Step applies an event at now.
func (m *Machine) Step(now time.Time, ev Event) []Action {
	var acts []Action
	switch e := ev.(type) {
	case PeerBeat:
		acts = m.beat(now, e)
	case Votes:
		m.votes = e
	case Tick:
		if e.Adopted != m.held.Adopted {
			m.gotState, m.wantState = true, false // the active peer's state arrived and was taken
		}
		m.held = e
	case Resync:
		m.resync, m.resyncSeq = true, m.seq
		m.differSince = now
		if !m.active {
			m.wantState, m.gotState = true, false
		}
	case MakePrimary:
		acts = m.makePrimary(now, e)
	default:
		panic(fmt.Sprintf("redundancy: unknown event %T", ev))
	}
	return append(acts, m.evaluate(now)...)
}

func (m *Machine) beat(now time.Time, b PeerBeat) []Action {
	var acts []Action
	m.heard, m.lastPeer, m.peer = true, now, b
	if why := m.compatible(b); why != "" {
		m.incompatible = why
		if m.active {
			acts = append(acts, m.setRole(false, m.term, "incompatible peer: "+why))
		}
		return acts
	}
	m.incompatible = ""
	if !m.active && b.Active && b.StateTerm == m.held.StateTerm && b.StateRevision == m.held.StateRevision && !m.wantState {
		m.gotState = true // this side holds the active peer's document already (a restart)
	}
	// Automatic failback: a standby primary takes control back from a secondary that took over,
	// once they hear each other; never from one an operator made primary.
	if !m.active && b.Active && !b.Promoted && m.fresh(now) && m.gotState && m.cfg.Mode == conf.RedundancyPrimary && m.cfg.AutoFailback {
		m.want = true
	}
	if b.Term > m.term {
		m.term = b.Term
		if m.active {
			return append(acts, m.setRole(false, m.term, fmt.Sprintf("peer %s is at term %d", b.Name, b.Term)))
		}
	}
	switch {
	case m.active && b.Active && b.Term == m.term && m.cfg.Mode != conf.RedundancyPrimary:
		// Both active under one term cannot come from this protocol; the primary keeps it.
		acts = append(acts, m.setRole(false, m.term, "peer primary "+b.Name+" is active under the same term"))
	case m.active && b.WantActive && m.fresh(now) && b.Term == m.term:
		m.want = false
		acts = append(acts, m.setRole(false, m.term, "handing over to "+b.Name+" (it asked to be active)"))
	}
	return acts
}

// compatible says why b cannot be this supervisor's peer, or "".
func (m *Machine) compatible(b PeerBeat) string {
	switch {
	case b.Protocol != Protocol:
		return fmt.Sprintf("peer %s speaks sync protocol %d, this one %d", b.Name, b.Protocol, Protocol)
	case (b.Mode == conf.RedundancyPrimary) == (m.cfg.Mode == conf.RedundancyPrimary):
		return fmt.Sprintf("both supervisors are configured %s (%s here, %s on %s)", roleWord(m.cfg.Mode), m.cfg.Mode, b.Mode, b.Name)
	}
	return ""
}

func roleWord(mode string) string {
	if mode == conf.RedundancyPrimary {
		return "primary"
	}
	return "secondary"
}

func (m *Machine) makePrimary(now time.Time, e MakePrimary) []Action {
	if m.active {
		return nil
	}
	if m.peerGone(now) || !m.heard {
		// The operator vouches for it: no witnesses needed.
		a := m.setRole(true, m.term+1, "made primary by "+e.By+" while the peer is unavailable")
		m.promoted = true
		return []Action{a}
	}
	m.want, m.promoteOnHandover = true, true // the peer steps down first, then this side activates
	return nil
}

// fresh reports whether the peer's last beat tells of the present: it acknowledges a beat this
// side sent within the last half offset. A beat queued during a partition and delivered when it
// heals acknowledges old ones only, and decides nothing (it might say "standby" of a peer that
// has since taken over).
func (m *Machine) fresh(now time.Time) bool {
	return m.acked() && now.Sub(m.lastPeer) < m.cfg.FailoverOffset/2
}

// acked reports whether the peer's last beat acknowledges a recent one of this side's (the link
// works both ways; the Synced status).
func (m *Machine) acked() bool {
	if !m.peer.HearsYou {
		return false
	}
	window := uint64(2)
	if m.cfg.SyncInterval > 0 {
		window = max(window, uint64(m.cfg.FailoverOffset/2/m.cfg.SyncInterval))
	}
	return m.peer.Ack+window >= m.seq
}

func (m *Machine) peerGone(now time.Time) bool {
	return m.heard && now.Sub(m.lastPeer) >= m.cfg.FailoverOffset
}

// Quorum reports whether a supervisor hearing fresh of the studio's agents agents lately may
// believe a machine's silence: at least one and at least half of them. A supervisor cut off from
// the network sees all its machines fall silent at once, the first a little before the others;
// without this it would fail the first over to a backup it cannot hear either.
func Quorum(fresh, agents int) bool { return agents == 0 || (fresh >= 1 && 2*fresh >= agents) }

// majority reports whether n agents are a strict majority of the studio's.
func (m *Machine) majority(n int) bool { return 2*n > m.cfg.Agents }

func (m *Machine) evaluate(now time.Time) []Action {
	var acts []Action
	gone := m.peerGone(now)
	if gone {
		m.gotState = false // what it said is old news by the time it is back
	}
	switch {
	case m.incompatible != "":
		acts = m.setStatus(acts, Incompatible, m.incompatible)
		return acts
	case !m.heard:
		acts = m.setStatus(acts, Connecting, "waiting for peer")
	case gone:
		acts = m.setStatus(acts, Unavailable, fmt.Sprintf("no beat from %s for %s", m.peer.Name, now.Sub(m.lastPeer).Round(time.Millisecond)))
	case m.acked():
		st, detail := m.syncStatus(now)
		acts = m.setStatus(acts, st, detail)
	default:
		acts = m.setStatus(acts, Syncing, "the peer does not hear this side yet")
	}
	lost := m.votes.Reporting - m.votes.Hear // agents reporting here that lost the peer
	// The isolated side steps down after half the offset, so it is standby before the other side
	// can take over (after the whole offset): never two active.
	halfGone := m.heard && now.Sub(m.lastPeer) >= m.cfg.FailoverOffset/2
	switch {
	case m.active && (halfGone || !m.heard) && m.cfg.Agents > 0 && !m.majority(m.votes.Reporting):
		acts = append(acts, m.setRole(false, m.term, fmt.Sprintf("isolated: the peer is silent and only %d of %d agents report here", m.votes.Reporting, m.cfg.Agents)))
	case m.active:
	case m.heard && !gone && !m.peer.Active && m.fresh(now) && m.want && m.peer.Term <= m.term:
		// The peer stepped down for this side (failback, Make primary).
		promoted := m.promoteOnHandover
		acts = append(acts, m.setRole(true, m.term+1, "the peer handed over"))
		m.promoted = promoted
	case m.cfg.Mode == conf.RedundancySecondaryCopy:
	case m.votes.HearActive > 0 && m.cfg.Agents > 0:
		// An agent hears the peer active: whatever the sync link says, it is alive and routing.
	case !m.heard && now.Sub(m.started) < m.cfg.FailoverOffset:
		// Just started: give the peer a chance to say it is there.
	case (gone || !m.heard) && m.cfg.Agents > 0 && !m.majority(lost):
		// Not enough witnesses: maybe this side is the isolated one.
	case gone || !m.heard:
		why := fmt.Sprintf("peer unavailable for %s and %d of %d agents lost it too", m.cfg.FailoverOffset, lost, m.cfg.Agents)
		if m.cfg.Agents == 0 {
			why = fmt.Sprintf("peer unavailable for %s (no agents to confirm it)", m.cfg.FailoverOffset)
		}
		if !m.heard {
			why = fmt.Sprintf("no peer heard since start (%s)", now.Sub(m.started).Round(time.Millisecond)) + whyAgents(lost, m.cfg.Agents)
		}
		acts = append(acts, m.setRole(true, m.term+1, why))
	case !m.peer.Active && m.fresh(now) && m.cfg.Mode == conf.RedundancyPrimary && !m.peer.WantActive:
		// Both standby and the peer is there: the primary takes the lead.
		acts = append(acts, m.setRole(true, m.term+1, "primary, peer "+m.peer.Name+" is standby"))
	}
	return acts
}

// syncStatus is the status of a link that works both ways: Synced when both sides hold the active
// side's document, Syncing while they have differed for less than NotSyncedAfter, Not synced with
// the reason after that or when a side could not take the document.
func (m *Machine) syncStatus(now time.Time) (Status, string) {
	switch {
	case m.active && m.peer.StateErr != "":
		return NotSynced, "the peer could not take this side's state: " + m.peer.StateErr
	case m.peer.Active && m.held.StateErr != "":
		return NotSynced, "this side could not take the active peer's state: " + m.held.StateErr
	}
	confirmed := !m.resync || m.peer.Ack > m.resyncSeq
	same := m.peer.StateTerm == m.held.StateTerm && m.peer.StateRevision == m.held.StateRevision && confirmed
	if !m.active && !m.peer.Active {
		same = confirmed // nobody writes: nothing to sync
	}
	if !m.active && m.peer.Active && !m.gotState {
		same = false
	}
	if same {
		m.differSince, m.resync = time.Time{}, false
		return Synced, ""
	}
	if m.differSince.IsZero() {
		m.differSince = now
	}
	what := fmt.Sprintf("peer holds state %d.%d, this side %d.%d", m.peer.StateTerm, m.peer.StateRevision, m.held.StateTerm, m.held.StateRevision)
	if !m.active && !m.gotState {
		what = "waiting for the active peer's state"
	}
	if d := now.Sub(m.differSince); d >= NotSyncedAfter {
		return NotSynced, fmt.Sprintf("%s for %s", what, d.Round(100*time.Millisecond))
	}
	return Syncing, what
}

func whyAgents(lost, agents int) string {
	if agents == 0 {
		return ""
	}
	return fmt.Sprintf("; %d of %d agents do not hear it", lost, agents)
}

func (m *Machine) setRole(active bool, term uint64, why string) Action {
	m.active, m.term = active, term
	m.gotState = false
	m.want, m.promoted, m.promoteOnHandover = false, false, false
	return SetRole{Active: active, Term: term, Why: why}
}

func (m *Machine) setStatus(acts []Action, s Status, detail string) []Action {
	if s == m.status && detail == m.detail {
		return acts
	}
	changed := s != m.status
	m.status, m.detail = s, detail
	if !changed && (s == Unavailable || s == NotSynced) {
		return acts // the growing silence or lag is not news
	}
	return append(acts, StatusChanged{Status: s, Detail: detail})
}
