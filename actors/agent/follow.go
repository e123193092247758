package agent

// follower decides which supervisors the next report goes to. It starts by reporting to all of
// them; once one answers that it is active it reports to that one only, and goes back to all when
// that one says it is no longer active or stays silent for missLimit heartbeats. Pure: it counts
// heartbeats and reads no clock. Not safe for concurrent use.
type follower struct {
	addrs     []string
	cur       int  // the supervisor followed (meaningful when !searching)
	searching bool // reporting to all
	silent    int  // heartbeats sent to cur since it last answered
	missLimit int
}

func newFollower(addrs []string, missLimit int) *follower {
	return &follower{addrs: append([]string(nil), addrs...), searching: true, missLimit: max(missLimit, 1)}
}

// targets are the indices (into addrs) of the supervisors the next report goes to.
func (f *follower) targets() []int {
	if !f.searching {
		return []int{f.cur}
	}
	all := make([]int, len(f.addrs))
	for i := range all {
		all[i] = i
	}
	return all
}

// following returns the followed supervisor's address, or "" while searching.
func (f *follower) following() string {
	if f.searching {
		return ""
	}
	return f.addrs[f.cur]
}

// beat records that a heartbeat went out. It reports whether the follower just gave up on the
// silent supervisor it followed and now reports to all.
func (f *follower) beat() (lost bool) {
	if f.searching {
		return false
	}
	f.silent++
	if f.silent > f.missLimit {
		f.searching = true
		return true
	}
	return false
}

// answered records a reply from addrs[i] saying whether it is active. It reports whether the
// followed supervisor changed (a new one followed, or searching again because the followed one
// stepped down).
func (f *follower) answered(i int, active bool) (changed bool) {
	if i < 0 || i >= len(f.addrs) {
		return false
	}
	if i == f.cur {
		f.silent = 0
	}
	switch {
	case active && (f.searching || i != f.cur):
		f.cur, f.searching, f.silent = i, false, 0
		return true
	case !active && i == f.cur && !f.searching:
		f.searching = true
		return true
	}
	return false
}

// sentLog remembers which supervisor each recent seq went to, so a reply (which echoes the seq)
// can be credited to its sender. Older entries are overwritten.
type sentLog struct {
	entries [256]struct {
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
