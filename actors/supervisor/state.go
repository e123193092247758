package supervisor

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"standby/actors/failover"
	"standby/actors/pool"
	"standby/actors/redundancy"
	"standby/actors/state"
	"standby/conf"
	"standby/protocol/pb"
)

// The supervisor owns its state document (actors/state): operators' overrides of the config
// file and the pools' durable runtime state. It is read at start (a restart resumes where it
// left off), changed by Edit and SetPolicy and by the pools' transitions while this supervisor is
// the active one, persisted on every change, and sent to the standby supervisor by the sync link.

// stateBox is the supervisor's document and what it is applied to.
type stateBox struct {
	// write serializes the document's writers (changeDoc, adoptDoc), which save it to disk; mu
	// guards the fields for readers, such as the sync link on every beat, and is never held
	// across disk I/O.
	write sync.Mutex
	mu    sync.Mutex
	// own is this supervisor's config file; file is what runs as "the file": own, or on a
	// secondary own with the primary's studio sections.
	own, file *conf.Config
	doc       *pb.StateDoc
	// adoptErr says why the active peer's last document could not be taken ("" when it was).
	adoptErr string
	// adopted counts the active peer's documents taken (redundancy.Tick).
	adopted uint64
	// studioWarned is the primary's studio last warned about (differences from the own file).
	studioWarned string
	// studio is file's studio sections as TOML, made for studioOf (under write): the file
	// changes on reloads only, and encoding 1000 pairs on every save was most of its cost.
	studioOf *conf.Config
	studio   string
	dirty    chan struct{}
	adopt    chan *pb.SyncState
	done     chan struct{}
	// running is runState's goroutine, which stopState waits for: a save it has under way must
	// not land in a state_dir that its owner removes once Stop returns.
	running sync.WaitGroup
}

// openState reads the document and returns the config to run: the file with the overrides.
func (s *Supervisor) openState(file *conf.Config) *conf.Config {
	b := &s.state
	b.own, b.file = file, file
	b.dirty, b.adopt, b.done = make(chan struct{}, 1), make(chan *pb.SyncState, 1), make(chan struct{})
	b.doc = state.Open(s.log, file.Supervisor.StateDir, file, s.opts.Clock.Now())
	b.file = s.withStudio(file, b.doc)
	return state.Apply(s.log, b.file, b.doc.GetOverrides())
}

// withStudio is own with, on a secondary, the primary's studio sections the document holds; own
// itself on a primary, before the first sync, or when they do not fit (logged).
func (s *Supervisor) withStudio(own *conf.Config, d *pb.StateDoc) *conf.Config {
	if !s.secondary() || d.GetStudio() == "" {
		return own
	}
	merged, err := conf.WithStudio(own, d.GetStudio())
	if err != nil {
		s.log.Error().Err(err).Msg("the primary's studio config last synced does not fit this file; running this file's")
		return own
	}
	return merged
}

func (s *Supervisor) secondary() bool {
	r := s.opts.Config.Redundancy
	return r.Paired() && r.Mode != conf.RedundancyPrimary
}

// resumePools hands each pool what the document says of it.
func (s *Supervisor) resumePools() {
	s.state.mu.Lock()
	pools := s.state.doc.GetPools()
	s.state.mu.Unlock()
	for _, p := range pools {
		if s.PoolEntry(p.GetName()) == nil {
			continue
		}
		s.sys.Root.Send(s.PID(PoolsDir, p.GetName()), &pool.Resume{Slots: adoptSlots(p)})
	}
}

func adoptSlots(p *pb.SyncState_Pool) []failover.AdoptSlot {
	out := make([]failover.AdoptSlot, 0, len(p.GetSlots()))
	for _, sl := range p.GetSlots() {
		a := failover.AdoptSlot{Main: sl.GetMain(), OnAir: sl.GetOnAir(), FailedOver: sl.GetFailedOver(), Latched: sl.GetLatched()}
		for _, al := range sl.GetAlarms() {
			a.Alarms = append(a.Alarms, failover.Alarm{Kind: failover.ParseAlarmKind(al.GetKind()), Message: al.GetMessage(),
				Since: time.UnixMilli(al.GetSinceMs()), Active: al.GetActive(), Acked: al.GetAcked()})
		}
		out = append(out, a)
	}
	return out
}

// startState runs runState until stopState.
func (s *Supervisor) startState() {
	s.state.running.Add(1)
	go func() {
		defer s.state.running.Done()
		s.runState()
	}()
}

// runState persists the pools' runtime state after their transitions (coalesced) and takes the
// active peer's documents, one at a time, until stopState.
func (s *Supervisor) runState() {
	b := &s.state
	const coalesce = 50 * time.Millisecond
	for {
		select {
		case <-b.done:
			return
		case <-b.dirty:
			t := time.NewTimer(coalesce)
			select {
			case <-b.done:
				t.Stop()
				return
			case <-t.C:
			}
			s.refreshRuntime()
		case st := <-b.adopt:
			s.adoptDoc(st)
		}
	}
}

func (s *Supervisor) stopState() {
	if s.state.done != nil {
		close(s.state.done)
	}
	s.state.running.Wait()
}

// poolChanged marks the runtime state dirty (a pool transition).
func (s *Supervisor) poolChanged() {
	select {
	case s.state.dirty <- struct{}{}:
	default:
	}
}

// refreshRuntime takes the pools' state into the document when this supervisor is the one that
// writes it (the active one, or one without a peer).
func (s *Supervisor) refreshRuntime() {
	if active, _ := s.Role(); !active {
		return // a standby holds the active peer's document
	}
	st, err := s.poolsState()
	if err != nil {
		s.log.Warn().Err(err).Msg("pools' state not saved (will retry on the next change)")
		s.poolChanged()
		return
	}
	s.changeDoc(func(d *pb.StateDoc) bool {
		if slices.EqualFunc(st.Pools, d.Pools, func(a, b *pb.SyncState_Pool) bool { return proto.Equal(a, b) }) {
			return false
		}
		d.Pools = st.Pools
		return true
	})
}

// changeDoc applies change to the document; when it changed something, the document gets a new
// revision under this supervisor's term and is saved. It reports the save's error.
func (s *Supervisor) changeDoc(change func(d *pb.StateDoc) bool) error {
	_, term := s.Role()
	b := &s.state
	b.write.Lock()
	defer b.write.Unlock()
	b.mu.Lock()
	next, file := proto.Clone(b.doc).(*pb.StateDoc), b.file
	b.mu.Unlock()
	if !change(next) {
		return nil
	}
	next.Revision++
	next.Term, next.Writer = term, s.opts.Config.Supervisor.Name
	if !s.secondary() {
		if b.studioOf != file {
			studio, err := conf.StudioTOML(file)
			if err != nil {
				return err
			}
			b.studioOf, b.studio = file, studio
		}
		next.Studio = b.studio
	}
	if err := state.Save(file.Supervisor.StateDir, next); err != nil {
		s.log.Error().Err(err).Msg("state document not saved")
		return err
	}
	b.mu.Lock()
	b.doc = next
	b.mu.Unlock()
	return nil
}

// recordOverrides makes the document's overrides those that turn the file into edited, by by; it
// returns the overrides before, to put back if what follows fails.
func (s *Supervisor) recordOverrides(edited *conf.Config, by string) ([]*pb.Override, error) {
	return s.recordEdit(edited, by, nil)
}

// recordEdit is recordOverrides that also records the detached pairs when detached is not nil, in
// the same revision (one write: a removed backup is never lost between two).
func (s *Supervisor) recordEdit(edited *conf.Config, by string, detached []*pb.StateDoc_Detached) ([]*pb.Override, error) {
	s.state.mu.Lock()
	file, prev := s.state.file, s.state.doc.GetOverrides()
	s.state.mu.Unlock()
	ovs, err := state.Diff(file, edited, prev, by, s.opts.Clock.Now())
	if err != nil {
		return nil, err
	}
	return prev, s.changeDoc(func(d *pb.StateDoc) bool {
		d.Overrides = ovs
		if detached != nil {
			d.Detached = detached
		}
		return true
	})
}

// Doc is a copy of the state document.
func (s *Supervisor) Doc() *pb.StateDoc {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	return proto.Clone(s.state.doc).(*pb.StateDoc)
}

// HeldState is the document this supervisor holds (term, revision), why the active peer's last
// one could not be taken ("" when it was) and how many it took, for the sync link.
func (s *Supervisor) HeldState() redundancy.Tick {
	s.state.mu.Lock()
	defer s.state.mu.Unlock()
	b := &s.state
	return redundancy.Tick{StateTerm: b.doc.GetTerm(), StateRevision: b.doc.GetRevision(), StateErr: b.adoptErr, Adopted: b.adopted}
}

// Edit runs edited (the config in force with an operator's mapping change, validated) and records
// the change in the state document as overrides of the file, by by. Nothing changes when the
// document cannot be saved or the tree refuses the config.
func (s *Supervisor) Edit(edited *conf.Config, by string) error {
	return s.EditDetached(edited, by, nil)
}

// EditDetached is Edit that also records the pairs whose backup was removed (nil: unchanged; an
// empty list: none), in the same revision of the state document.
func (s *Supervisor) EditDetached(edited *conf.Config, by string, detached []*pb.StateDoc_Detached) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prevDetached := s.Doc().GetDetached()
	prev, err := s.recordEdit(edited, by, detached)
	if err != nil {
		return fmt.Errorf("state document not saved, nothing changed: %w", err)
	}
	s.mu.Lock()
	old := s.cfg
	s.mu.Unlock()
	if err := s.apply(old, edited); err != nil {
		// What is on disk must be what runs (or ran).
		serr := s.changeDoc(func(d *pb.StateDoc) bool { d.Overrides, d.Detached = prev, prevDetached; return true })
		return errors.Join(err, serr)
	}
	return nil
}

// SetPolicy records an operator's mode or failback (what) of a pair or pool in the state document,
// so a reload or restart keeps it; the pool itself is told by the caller.
func (s *Supervisor) SetPolicy(name, what, value, by string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	next := *s.Config()
	next.Pairs, next.Pools = append([]conf.Pair(nil), next.Pairs...), append([]conf.Pool(nil), next.Pools...)
	var mode, failback *string
	if p := next.Pair(name); p != nil {
		mode, failback = &p.Mode, &p.Failback
	} else if p := next.Pool(name); p != nil {
		mode, failback = &p.Mode, &p.Failback
	} else {
		return fmt.Errorf("unknown pair or pool %q", name)
	}
	if what == "mode" {
		*mode = value
	} else {
		*failback = value
	}
	if _, err := s.recordOverrides(&next, by); err != nil {
		return err
	}
	s.mu.Lock()
	s.cfg = &next // the pool runs it already
	s.mu.Unlock()
	s.poolChanged() // the document's copy of the pools carries the mode too
	return nil
}

// Reload runs a new config file (SIGHUP), with the state document's overrides applied (and on a
// secondary, the primary's studio sections). An invalid result changes nothing.
func (s *Supervisor) Reload(file *conf.Config) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	b := &s.state
	b.mu.Lock()
	doc := b.doc
	b.mu.Unlock()
	run := s.withStudio(file, doc)
	b.mu.Lock()
	b.own, b.file = file, run
	b.mu.Unlock()
	ovs := doc.GetOverrides()
	s.mu.Lock()
	old := s.cfg
	s.mu.Unlock()
	next := state.Apply(s.log, run, ovs)
	if err := s.apply(old, next); err != nil {
		return err
	}
	s.reconfigureActions(next)
	return nil
}

// adoptPools queues the active peer's document (the sync link's Apply); it is taken off the
// link's goroutine, the newest first.
func (s *Supervisor) adoptPools(st *pb.SyncState) {
	for {
		select {
		case s.state.adopt <- st:
			return
		default:
		}
		select {
		case <-s.state.adopt: // drop the older one
		default:
		}
	}
}

// adoptDoc takes the active peer's document (see takeDoc); a failure is the Not synced reason
// the link reports to both sides.
func (s *Supervisor) adoptDoc(st *pb.SyncState) {
	err := s.takeDoc(st)
	b := &s.state
	b.mu.Lock()
	why := ""
	if err != nil {
		why = err.Error()
	}
	changed := b.adoptErr != why
	b.adoptErr = why
	b.mu.Unlock()
	if err != nil && changed {
		s.log.Error().Err(err).Msg("the active peer's state cannot be taken (Not synced)")
	}
}

// takeDoc runs the active peer's document: its studio config (on a secondary), its overrides and
// its pools' state. It is saved as this supervisor's, so a takeover or restart continues from it.
func (s *Supervisor) takeDoc(st *pb.SyncState) error {
	d := st.GetDoc()
	if d == nil {
		return errors.New("the peer sent no state document")
	}
	if err := state.Check(d); err != nil {
		return err
	}
	if active, _ := s.Role(); active {
		return nil // became active meanwhile: a late copy changes nothing
	}
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	b := &s.state
	b.write.Lock()
	defer b.write.Unlock()
	b.mu.Lock()
	own, same := b.own, b.doc.GetTerm() == d.GetTerm() && b.doc.GetRevision() == d.GetRevision()
	b.mu.Unlock()
	file := own
	if s.secondary() && d.GetStudio() != "" {
		merged, err := conf.WithStudio(own, d.GetStudio())
		if err != nil {
			return err
		}
		file = merged
		s.warnStudio(own, merged, d.GetStudio())
	}
	run, err := state.Strict(file, d.GetOverrides())
	if err != nil {
		return err
	}
	if !same || st.GetFull() {
		if err := state.Save(own.Supervisor.StateDir, d); err != nil {
			return fmt.Errorf("state document not saved: %w", err)
		}
	}
	b.mu.Lock()
	b.file = file
	b.mu.Unlock()
	s.mu.Lock()
	old := s.cfg
	s.mu.Unlock()
	if !reflect.DeepEqual(old, run) {
		if err := s.apply(old, run); err != nil {
			return fmt.Errorf("the active peer's config refused: %w", err)
		}
		s.reconfigureActions(run)
	}
	// Mode and failback come from the config the overrides made, not from the peer's runtime
	// copy of its pools: that copy is refreshed only on pool events, so right after an operator's
	// mode change it still holds the old mode.
	for _, p := range d.GetPools() {
		pe := s.PoolEntry(p.GetName())
		if pe == nil {
			continue
		}
		s.sys.Root.Send(s.PID(PoolsDir, p.GetName()), &pool.Adopt{Automatic: pe.Engine.Automatic, AutoFailback: pe.Engine.AutoFailback, Slots: adoptSlots(p)})
	}
	// Held only now: the link lets a failback happen once it holds the peer's document, so the
	// pools must have it first.
	b.mu.Lock()
	b.doc = proto.Clone(d).(*pb.StateDoc)
	b.adopted++
	b.mu.Unlock()
	return nil
}

// warnStudio says, once per studio from the primary, how this file's own studio sections differ
// from the primary's (the primary's are used).
func (s *Supervisor) warnStudio(own, merged *conf.Config, studio string) {
	s.state.mu.Lock()
	warned := s.state.studioWarned == studio
	s.state.studioWarned = studio
	s.state.mu.Unlock()
	if warned || !conf.HasStudio(own) {
		return
	}
	if diff := conf.StudioDiff(own, merged, 5); len(diff) > 0 {
		s.log.Warn().Msgf("this file's studio sections differ from the primary's, which are used: %s (first differences; this file = first, primary = second)",
			strings.Join(diff, ", "))
	}
}
