package agent

import "standby/protocol/pb"

// follower keeps what the agent hears of each supervisor it reports to. Reports go to every
// configured supervisor, always: a standby supervisor's view of the machines is then warm when it
// takes over, and the agents are its witnesses (what they hear of the active one). The agent
// follows, for its logs and the supervisors' votes, the supervisor answering active with the
// highest term; one silent for more than missLimit heartbeats is no longer followed. Pure: it
// counts heartbeats and reads no clock. Not safe for concurrent use.
type follower struct {
	addrs     []string
	sups      []supState // parallel to addrs
	missLimit int
}

// supState is what the agent last heard from one supervisor.
type supState struct {
	name     string // from its replies; "" until it answered
	active   bool
	term     uint64
	silent   int // heartbeats sent since it last answered
	answered bool
	quiet    int // heartbeats it may leave unanswered while nothing changes (its beacon), beyond missLimit
}

func newFollower(addrs []string, missLimit int) *follower {
	return &follower{addrs: append([]string(nil), addrs...), sups: make([]supState, len(addrs)), missLimit: max(missLimit, 1)}
}

// targets are the indices (into addrs) of the supervisors the next report goes to: all of them.
func (f *follower) targets() []int {
	all := make([]int, len(f.addrs))
	for i := range all {
		all[i] = i
	}
	return all
}

// followedIndex is the supervisor followed: answering, active, not silent, highest term (the
// first configured on a tie); -1 when none.
func (f *follower) followedIndex() int {
	best := -1
	for i, s := range f.sups {
		if !s.answered || !s.active || s.silent > f.missLimit+s.quiet {
			continue
		}
		if best < 0 || s.term > f.sups[best].term {
			best = i
		}
	}
	return best
}

// following returns the followed supervisor's address, or "" when none is.
func (f *follower) following() string {
	if i := f.followedIndex(); i >= 0 {
		return f.addrs[i]
	}
	return ""
}

// beat records that a heartbeat went out to every supervisor. It reports whether the followed
// supervisor changed because the one followed fell silent.
func (f *follower) beat() (lost bool) {
	before := f.followedIndex()
	for i := range f.sups {
		f.sups[i].silent++
	}
	return before >= 0 && f.followedIndex() != before
}

// answered records a reply from addrs[i]: its name, whether it is active and its term, and how
// many heartbeats it may leave unanswered while nothing changes (quiet: its beacon). It reports
// whether the followed supervisor changed.
func (f *follower) answered(i int, name string, active bool, term uint64, quiet int) (changed bool) {
	if i < 0 || i >= len(f.addrs) {
		return false
	}
	before := f.followedIndex()
	f.sups[i] = supState{name: name, active: active, term: term, answered: true, quiet: max(quiet, 0)}
	return f.followedIndex() != before
}

// heard is what the next report tells of the supervisors, silentFor converting heartbeats of
// silence to milliseconds.
func (f *follower) heard(silentMS func(beats int) uint32) []*pb.AgentReport_Heard {
	out := make([]*pb.AgentReport_Heard, 0, len(f.sups))
	for _, s := range f.sups {
		if s.answered && s.name != "" {
			out = append(out, &pb.AgentReport_Heard{Supervisor: s.name, Active: s.active, Term: s.term, SilentMs: silentMS(s.silent)})
		}
	}
	return out
}

// sentLog remembers which supervisor each recent seq went to, so a reply (which echoes the seq)
// can be credited to its sender. Older entries are overwritten.
type sentLog struct {
	// Enough for a supervisor's beacon (1 s) at the shortest interval (5 ms) to the most
	// supervisors (8), were replies ever that late.
	entries [2048]struct {
		seq uint64
		to  int
	}
}

func (l *sentLog) put(seq uint64, to int) {
	e := &l.entries[seq%uint64(len(l.entries))]
	e.seq, e.to = seq, to
}

// lookup returns the supervisor index seq went to, if still remembered.
func (l *sentLog) lookup(seq uint64) (int, bool) {
	e := l.entries[seq%uint64(len(l.entries))]
	if seq == 0 || e.seq != seq {
		return 0, false
	}
	return e.to, true
}
