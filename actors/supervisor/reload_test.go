package supervisor

import (
	"strings"
	"testing"

	"standby/conf"
)

// TestGuardReload: removing every pair, or more than half, is refused naming them; half or less,
// additions and a secondary's file pass.
func TestGuardReload(t *testing.T) {
	cfg := func(pairs ...string) *conf.Config {
		c := &conf.Config{}
		for _, p := range pairs {
			c.Pairs = append(c.Pairs, conf.Pair{Name: p})
		}
		return c
	}
	secondary := cfg()
	secondary.Redundancy.Mode = conf.RedundancySecondaryFailover
	for _, c := range []struct {
		name          string
		running, next *conf.Config
		want          string // "" passes
	}{
		{"empty file", cfg("cam1", "cam2", "cam3"), cfg(), "the file removes every pair and pool (3 of 3: pair cam1, pair cam2, pair cam3)"},
		{"the only pair", cfg("cam1"), cfg(), "every pair and pool (1 of 1: pair cam1)"},
		{"more than half", cfg("cam1", "cam2", "cam3"), cfg("cam3"), "more than half of the pairs and pools (2 of 3: pair cam1, pair cam2)"},
		{"renamed all", cfg("cam1", "cam2"), cfg("c1", "c2"), "every pair and pool (2 of 2"},
		{"half", cfg("cam1", "cam2"), cfg("cam2"), ""},
		{"one of three", cfg("cam1", "cam2", "cam3"), cfg("cam1", "cam2"), ""},
		{"additions", cfg("cam1"), cfg("cam1", "cam2"), ""},
		{"nothing before", cfg(), cfg(), ""},
		{"secondary", cfg("cam1"), secondary, ""},
	} {
		err := GuardReload(c.running, c.next)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "standby ctl reload --force")):
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
