package redundancy

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/rs/zerolog"

	"standby/actors/agentgw"
	"standby/actors/clock"
	"standby/actors/node"
	"standby/conf/atomicfile"
	"standby/protocol/pb"
)

// TermFile is where a supervisor keeps its term, under state_dir.
const TermFile = "term"

// LinkOptions configure the sync link actor.
type LinkOptions struct {
	Config Config
	// Peer is the peer supervisor's remote endpoint; Self this one's, for its beats.
	Peer, Self string
	// SyncInterval paces the beats and the checks.
	SyncInterval time.Duration
	// StateDir holds TermFile.
	StateDir string
	// Gateway is the agent gateway whose votes are asked on every beat.
	Gateway *actor.PID
	// OnRole makes the supervisor active or standby (after the term is persisted). It runs on the
	// link's goroutine and must not block for long.
	OnRole func(active bool, term uint64) error
	// OnQuorum tells the supervisor whether it hears enough of its agents to fail over a silent
	// machine (see Quorum); called when that changes. HeartbeatTimeout is the machines' silence
	// timeout: an agent silent for half of it no longer counts.
	OnQuorum         func(ok bool)
	HeartbeatTimeout time.Duration
	// Held is the state document this side holds (term, revision) and why the active peer's
	// last one could not be taken; it is read on every beat and must be cheap. Doc, on the active
	// side, is the whole document, sent while the peer holds another (at most every StateEvery
	// beats unless it changed). Apply, on the standby side, takes the peer's (it must not block:
	// queue it). Any may be nil.
	Held       func() Tick
	Doc        func() *pb.StateDoc
	Apply      func(*pb.SyncState)
	StateEvery int
	Clock      clock.Clock
	Logger     zerolog.Logger
}

// View is the link's state for UIs (answer to GetView).
type View struct {
	Status      Status
	Detail      string
	Active      bool
	Term        uint64
	Mode        string
	Peer        string // the peer's name when heard, else its address
	PeerAddress string
}

// GetView asks the link for its View.
type GetView struct{}

// MakePrimaryRequest is an operator's Make primary; answered with MakePrimaryReply.
type MakePrimaryRequest struct{ By string }

// MakePrimaryReply answers MakePrimaryRequest: what happened, or why nothing did.
type MakePrimaryReply struct {
	Message string
	Err     error
}

// ErrAlreadyActive refuses Make primary on the active supervisor.
var ErrAlreadyActive = errors.New("this supervisor is already the active one")

// ResyncRequest is an operator's Resync now; answered with ResyncReply.
type ResyncRequest struct{ By string }

// ResyncReply says what Resync now did.
type ResyncReply struct {
	Message string
	Err     error
}

// ErrNoPeer refuses Resync now while the peer is not heard.
var ErrNoPeer = errors.New("the peer supervisor is not heard: nothing to resync with")

// SetAgents tells the link how many machines of the studio have agents (after a reload, or the
// primary's studio config reaching a secondary).
type SetAgents struct{ N int }

// StatusEvent is published on the event stream when the link's status or role changes.
type StatusEvent struct{ View View }

type linkTick struct{}

// LinkProps returns the props of the sync link actor. It reads the term from StateDir, starts
// standby, beats the peer every SyncInterval and lets Machine decide.
func LinkProps(o LinkOptions) *actor.Props {
	b := &linkBox{}
	return actor.PropsFromProducer(func() actor.Actor { return &link{o: o, box: b} })
}

// linkBox outlives actor incarnations: a restarted link keeps its decision state (and role).
type linkBox struct{ m *Machine }

type link struct {
	o         LinkOptions
	quorum    bool
	everFresh bool
	ticks     int
	box       *linkBox
	// sentAt is the tick of the last document sent, sent its (term, revision); full forces the
	// next one whole (Resync now).
	sentAt   int
	sent     [2]uint64
	full     bool
	throttle *node.Throttle
	m        *Machine
	peer     *actor.PID
	cancel   func()
	log      zerolog.Logger
}

// ReadTerm reads the persisted term; 0 when there is none yet.
func ReadTerm(dir string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, TermFile))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	t, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%s: %q is not a term", filepath.Join(dir, TermFile), strings.TrimSpace(string(b)))
	}
	return t, nil
}

func writeTerm(dir string, t uint64) error {
	return atomicfile.Write(filepath.Join(dir, TermFile), []byte(strconv.FormatUint(t, 10)+"\n"), 0o644)
}

func (l *link) Receive(ctx actor.Context) {
	now := l.o.Clock.Now()
	var acts []Action
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		l.log = l.o.Logger.With().Str("component", "sync").Str("peer", l.o.Peer).Logger()
		l.throttle = node.NewThrottle(time.Minute, l.o.Clock)
		term, err := ReadTerm(l.o.StateDir)
		if err != nil {
			l.log.Error().Err(err).Msg("cannot read the term; starting from 0 (a higher term from the peer wins)")
		}
		if l.box.m == nil { // a restart keeps the machine
			l.box.m = New(l.o.Config, term, now)
		}
		l.m = l.box.m
		l.peer = actor.NewPID(l.o.Peer, pb.SyncActorID)
		l.quorum = true // the pools start with quorum; the first votes say otherwise
		root, self := ctx.ActorSystem().Root, ctx.Self()
		l.cancel = clock.Repeat(l.o.SyncInterval, l.o.SyncInterval, func() { root.Send(self, &linkTick{}) })
		l.log.Info().Str("mode", l.o.Config.Mode).Uint64("term", term).Int("agents", l.o.Config.Agents).
			Dur("failover_offset", l.o.Config.FailoverOffset).Msg("sync link started: standby until the pair decides")
		l.publish(ctx)
		return
	case *actor.Stopping, *actor.Restarting:
		if l.cancel != nil {
			l.cancel()
		}
		return
	case *linkTick:
		var held Tick
		if l.o.Held != nil {
			held = l.o.Held()
		}
		acts = l.m.Step(now, held)
		l.ticks++
		l.sendState(ctx, held)
		b := l.m.Beat(now)
		ctx.Send(l.peer, &pb.SyncBeat{Supervisor: b.Name, Mode: b.Mode, Protocol: b.Protocol, Term: b.Term, Active: b.Active,
			HearsYou: b.HearsYou, WantActive: b.WantActive, Promoted: b.Promoted, Seq: b.Seq, Ack: b.Ack, Address: l.o.Self,
			StateTerm: b.StateTerm, StateRevision: b.StateRevision, StateError: clip(b.StateErr), WantState: b.WantState})
		if l.o.Gateway != nil {
			peer, _ := l.m.Peer()
			// Half the offset: an isolated side must see its agents gone before the other side may
			// take over (see Machine).
			half := l.o.Config.FailoverOffset / 2
			ctx.Request(l.o.Gateway, &agentgw.GetVotes{Peer: peer.Name, Self: l.o.Config.Name, Within: half, LostAfter: half,
				FreshWithin: l.o.HeartbeatTimeout / 2})
		}
	case *pb.SyncState:
		// Only a standby takes the active side's view, and only of its current term or newer.
		if active, term := l.m.Active(); !active && msg.Term >= term && l.o.Apply != nil {
			l.o.Apply(msg) // taken off this goroutine; the next Held says when it was
		}
	case *ResyncRequest:
		if _, heard := l.m.Peer(); !heard {
			ctx.Respond(&ResyncReply{Err: ErrNoPeer})
			return
		}
		acts = l.m.Step(now, Resync{})
		what := "asked the active peer for its whole state"
		if active, _ := l.m.Active(); active {
			l.full = true
			what = "sending the whole state to the peer"
		}
		l.log.Info().Str("by", msg.By).Msg("Resync now: " + what)
		ctx.Respond(&ResyncReply{Message: what})
	case *agentgw.Votes:
		acts = l.m.Step(now, Votes{Reporting: msg.Reporting, Hear: msg.Hear, HearActive: msg.HearActive})
		l.everFresh = l.everFresh || msg.Fresh > 0 // before any agent reported there is no silence to judge
		if q := Quorum(msg.Fresh, l.o.Config.Agents); l.everFresh && q != l.quorum && l.o.OnQuorum != nil {
			l.quorum = q
			ev := l.log.Info()
			if !q {
				ev = l.log.Warn()
			}
			ev.Bool("quorum", q).Int("fresh", msg.Fresh).Int("agents", l.o.Config.Agents).Msg("agents heard lately")
			l.o.OnQuorum(q)
		}
	case *pb.SyncBeat:
		acts = l.m.Step(now, PeerBeat{Name: clip(msg.Supervisor), Mode: clip(msg.Mode), Protocol: msg.Protocol, Term: msg.Term,
			Active: msg.Active, HearsYou: msg.HearsYou, WantActive: msg.WantActive, Promoted: msg.Promoted, Seq: msg.Seq, Ack: msg.Ack,
			StateTerm: msg.StateTerm, StateRevision: msg.StateRevision, StateErr: clip(msg.StateError), WantState: msg.WantState})
	case *MakePrimaryRequest:
		if active, _ := l.m.Active(); active {
			ctx.Respond(&MakePrimaryReply{Err: ErrAlreadyActive})
			return
		}
		acts = l.m.Step(now, MakePrimary{By: msg.By})
		reply := &MakePrimaryReply{Message: "asked the peer to hand over; this supervisor becomes active once it has"}
		if active, term := l.m.Active(); active {
			reply.Message = fmt.Sprintf("this supervisor is now active (term %d)", term)
		}
		ctx.Respond(reply)
	case *SetAgents:
		l.o.Config.Agents = msg.N
		l.m.SetAgents(msg.N)
		l.log.Info().Int("agents", msg.N).Msg("witnesses: agents of the studio")
		return
	case *GetView:
		ctx.Respond(l.view())
		return
	default:
		return
	}
	l.carryOut(ctx, acts)
}

// sendState sends the active side's document when the peer holds another one or asked for it:
// at once when it changed since the last send, else every StateEvery beats (a lost copy is sent
// again: delivery is at-most-once).
func (l *link) sendState(ctx actor.Context, held Tick) {
	active, term := l.m.Active()
	if !active || l.o.Doc == nil || !(l.m.SendState() || l.full) {
		return
	}
	cur := [2]uint64{held.StateTerm, held.StateRevision}
	if !l.full && cur == l.sent && l.ticks-l.sentAt < max(l.o.StateEvery, 1) {
		return
	}
	d := l.o.Doc()
	peer, _ := l.m.Peer()
	ctx.Send(l.peer, &pb.SyncState{Term: term, Doc: d, Full: l.full || peer.WantState})
	l.sentAt, l.sent, l.full = l.ticks, cur, false
}

// clip bounds strings from the network before they reach logs.
func clip(s string) string {
	if len(s) > pb.MaxNameLen {
		return s[:pb.MaxNameLen]
	}
	return s
}

func (l *link) carryOut(ctx actor.Context, acts []Action) {
	if len(acts) == 0 {
		return
	}
	for _, a := range acts {
		switch a := a.(type) {
		case SetRole:
			// The term is on disk before anything routes under it: a restart never reuses it.
			if err := writeTerm(l.o.StateDir, a.Term); err != nil {
				l.log.Error().Err(err).Uint64("term", a.Term).Msg("cannot persist the term")
			}
			ev := l.log.Warn()
			if a.Active {
				ev = l.log.Error() // loud: a takeover is news in any studio
			}
			ev.Bool("active", a.Active).Uint64("term", a.Term).Str("why", a.Why).Msg(map[bool]string{true: "this supervisor is now ACTIVE", false: "this supervisor is now standby"}[a.Active])
			if l.o.OnRole != nil {
				if err := l.o.OnRole(a.Active, a.Term); err != nil {
					l.log.Error().Err(err).Msg("role change refused")
				}
			}
		case StatusChanged:
			ev := l.log.Info()
			if a.Status == Unavailable || a.Status == Incompatible {
				ev = l.log.Warn()
			}
			ev.Str("status", string(a.Status)).Str("detail", a.Detail).Msg("sync link")
		}
	}
	l.publish(ctx)
}

func (l *link) view() *View {
	st, detail := l.m.Status()
	active, term := l.m.Active()
	v := &View{Status: st, Detail: detail, Active: active, Term: term, Mode: l.o.Config.Mode, Peer: l.o.Peer, PeerAddress: l.o.Peer}
	if p, _ := l.m.Peer(); p.Name != "" {
		v.Peer = p.Name
	}
	return v
}

func (l *link) publish(ctx actor.Context) {
	ctx.ActorSystem().EventStream.Publish(&StatusEvent{View: *l.view()})
}
