package agent

import (
	"fmt"
	"slices"
	"testing"
)

// TestFollower walks the follower through a script of beats and answers: reports always go to
// every supervisor, and the one followed is the active one of the highest term that is not silent.
func TestFollower(t *testing.T) {
	type step struct {
		do        string // "beat", "ans I active|standby TERM"
		following string
		changed   bool
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"follows the first active", []step{
			{"start", "", false},
			{"ans 1 standby 1", "", false},
			{"ans 0 active 1", "a:1", true},
			{"beat", "a:1", false},
		}},
		{"follows the active one even when it is not the primary", []step{
			{"ans 0 standby 2", "", false},
			{"ans 1 active 2", "b:1", true},
		}},
		{"silence for more than missLimit beats ends following", []step{
			{"ans 0 active 1", "a:1", true},
			{"beat", "a:1", false},
			{"beat", "a:1", false},
			{"beat", "a:1", false},
			{"beat", "", true},
			{"ans 1 active 2", "b:1", true},
		}},
		{"an answer resets the silence", []step{
			{"ans 0 active 1", "a:1", true},
			{"beat", "a:1", false},
			{"beat", "a:1", false},
			{"beat", "a:1", false},
			{"ans 0 active 1", "a:1", false},
			{"beat", "a:1", false},
		}},
		{"the followed one stepping down", []step{
			{"ans 0 active 1", "a:1", true},
			{"ans 0 standby 2", "", true},
			{"ans 1 active 2", "b:1", true},
		}},
		{"two claiming active: the higher term wins", []step{
			{"ans 0 active 3", "a:1", true},
			{"ans 1 active 2", "a:1", false},
			{"ans 1 active 4", "b:1", true},
			{"ans 0 active 3", "b:1", false},
		}},
		{"an answer from an unknown index is ignored", []step{
			{"ans 7 active 9", "", false},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFollower([]string{"a:1", "b:1"}, 3)
			for n, s := range c.steps {
				var changed bool
				var i int
				var role string
				var term uint64
				switch {
				case s.do == "start":
				case s.do == "beat":
					changed = f.beat()
				default:
					if _, err := fmt.Sscanf(s.do, "ans %d %s %d", &i, &role, &term); err != nil {
						t.Fatal(err)
					}
					changed = f.answered(i, fmt.Sprintf("sup%d", i), role == "active", term, 0)
				}
				if got := f.following(); got != s.following || changed != s.changed || !slices.Equal(f.targets(), []int{0, 1}) {
					t.Fatalf("step %d %q: following %q changed %v targets %v, want %q %v", n, s.do, got, changed, f.targets(), s.following, s.changed)
				}
			}
		})
	}
}

// TestFollowerHeard: each report tells what the agent hears of every supervisor that answered.
func TestFollowerHeard(t *testing.T) {
	f := newFollower([]string{"a:1", "b:1", "c:1"}, 3)
	f.answered(0, "studio-a", true, 5, 0)
	f.answered(1, "studio-b", false, 5, 0)
	f.beat()
	f.beat()
	f.answered(1, "studio-b", false, 5, 0)
	h := f.heard(func(beats int) uint32 { return uint32(beats * 50) })
	if len(h) != 2 || h[0].Supervisor != "studio-a" || !h[0].Active || h[0].Term != 5 || h[0].SilentMs != 100 ||
		h[1].Supervisor != "studio-b" || h[1].Active || h[1].SilentMs != 0 {
		t.Fatalf("heard %v", h)
	}
}

// TestFollowerQuietBeacon: a supervisor answering sparsely stays followed through its beacon's
// beats plus the miss allowance, and is lost after them.
func TestFollowerQuietBeacon(t *testing.T) {
	f := newFollower([]string{"a:1"}, 3)
	f.answered(0, "studio-a", true, 1, 10)
	for i := range 13 {
		if f.beat() {
			t.Fatalf("lost after %d beats, within beacon 10 + miss limit 3", i+1)
		}
	}
	if !f.beat() || f.following() != "" {
		t.Fatal("still followed after 14 unanswered beats")
	}
}

func TestSentLog(t *testing.T) {
	var l sentLog
	for seq := uint64(1); seq <= 3000; seq++ {
		l.put(seq, int(seq%3))
	}
	if to, ok := l.lookup(3000); !ok || to != 0 {
		t.Fatalf("lookup(3000) = %d %v", to, ok)
	}
	if to, ok := l.lookup(2999); !ok || to != 2 {
		t.Fatalf("lookup(2999) = %d %v", to, ok)
	}
	if _, ok := l.lookup(10); ok {
		t.Fatal("an overwritten seq was found")
	}
	if _, ok := l.lookup(0); ok {
		t.Fatal("seq 0 found")
	}
	if _, ok := l.lookup(3001); ok {
		t.Fatal("an unsent seq was found")
	}
}
