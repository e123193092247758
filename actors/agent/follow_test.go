package agent

import (
	"fmt"
	"slices"
	"testing"
)

// TestFollower walks the follower through a script of beats and answers, checking who the next report
// goes to after each step.
func TestFollower(t *testing.T) {
	type step struct {
		do      string // "beat", "ans i active|standby"
		targets []int
		changed bool
	}
	for _, c := range []struct {
		name  string
		steps []step
	}{
		{"starts reporting to all, follows the first active", []step{
			{"start", []int{0, 1}, false},
			{"ans 1 standby", []int{0, 1}, false},
			{"ans 0 active", []int{0}, true},
			{"beat", []int{0}, false},
		}},
		{"follows the active one even when it is not the primary", []step{
			{"ans 0 standby", []int{0, 1}, false},
			{"ans 1 active", []int{1}, true},
		}},
		{"silence for more than missLimit beats means search", []step{
			{"ans 0 active", []int{0}, true},
			{"beat", []int{0}, false},
			{"beat", []int{0}, false},
			{"beat", []int{0}, false},
			{"beat", []int{0, 1}, true},
			{"ans 1 active", []int{1}, true},
		}},
		{"an answer resets the silence", []step{
			{"ans 0 active", []int{0}, true},
			{"beat", []int{0}, false},
			{"beat", []int{0}, false},
			{"beat", []int{0}, false},
			{"ans 0 active", []int{0}, false},
			{"beat", []int{0}, false},
			{"beat", []int{0}, false},
			{"beat", []int{0}, false},
		}},
		{"the followed one stepping down means search", []step{
			{"ans 0 active", []int{0}, true},
			{"ans 0 standby", []int{0, 1}, true},
			{"ans 0 standby", []int{0, 1}, false},
			{"ans 1 active", []int{1}, true},
		}},
		{"a standby answer from another one changes nothing", []step{
			{"ans 0 active", []int{0}, true},
			{"ans 1 standby", []int{0}, false},
		}},
		{"another one claiming active is followed", []step{
			{"ans 0 active", []int{0}, true},
			{"ans 1 active", []int{1}, true},
		}},
		{"silence while searching keeps searching", []step{
			{"beat", []int{0, 1}, false},
			{"beat", []int{0, 1}, false},
			{"beat", []int{0, 1}, false},
			{"beat", []int{0, 1}, false},
			{"beat", []int{0, 1}, false},
		}},
		{"an answer from an unknown index is ignored", []step{
			{"ans 7 active", []int{0, 1}, false},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFollower([]string{"a:1", "b:1"}, 3)
			for n, s := range c.steps {
				var changed bool
				var i int
				var role string
				switch {
				case s.do == "start":
				case s.do == "beat":
					changed = f.beat()
				default:
					if _, err := fmt.Sscanf(s.do, "ans %d %s", &i, &role); err != nil {
						t.Fatal(err)
					}
					changed = f.answered(i, role == "active")
				}
				if got := f.targets(); !slices.Equal(got, s.targets) || changed != s.changed {
					t.Fatalf("step %d %q: targets %v changed %v, want %v %v", n, s.do, got, changed, s.targets, s.changed)
				}
			}
		})
	}
}

func TestSentLog(t *testing.T) {
	var l sentLog
	for seq := uint64(1); seq <= 300; seq++ {
		l.put(seq, int(seq%3))
	}
	if to, ok := l.lookup(300); !ok || to != 0 {
		t.Fatalf("lookup(300) = %d %v", to, ok)
	}
	if to, ok := l.lookup(299); !ok || to != 2 {
		t.Fatalf("lookup(299) = %d %v", to, ok)
	}
	if _, ok := l.lookup(10); ok {
		t.Fatal("an overwritten seq was found")
	}
	if _, ok := l.lookup(0); ok {
		t.Fatal("seq 0 found")
	}
	if _, ok := l.lookup(301); ok {
		t.Fatal("an unsent seq was found")
	}
}
