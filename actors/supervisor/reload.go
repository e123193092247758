package supervisor

import (
	"fmt"
	"strings"

	"standby/conf"
)

// GuardReload refuses a config file that would leave the studio unprotected by mistake: one
// that removes every pair and pool of the running file, or more than half of them (a file cut
// short, the wrong file). The error names what would go and how to confirm; the caller applies
// the file anyway only when the operator confirms (`standby ctl reload --force`). A secondary's
// file may leave the studio to its primary, so it is not guarded.
func GuardReload(running, next *conf.Config) error {
	if running == nil || next == nil || next.Redundancy.Mode == conf.RedundancySecondaryCopy || next.Redundancy.Mode == conf.RedundancySecondaryFailover {
		return nil
	}
	kept := map[string]bool{}
	for _, p := range next.Pairs {
		kept["pair "+p.Name] = true
	}
	for _, p := range next.Pools {
		kept["pool "+p.Name] = true
	}
	var had, gone []string
	for _, p := range running.Pairs {
		had = append(had, "pair "+p.Name)
	}
	for _, p := range running.Pools {
		had = append(had, "pool "+p.Name)
	}
	for _, n := range had {
		if !kept[n] {
			gone = append(gone, n)
		}
	}
	if len(gone) == 0 || 2*len(gone) <= len(had) && len(gone) < len(had) {
		return nil
	}
	what := "more than half of the pairs and pools"
	if len(gone) == len(had) {
		what = "every pair and pool"
	}
	names := gone
	if len(names) > 5 {
		names = append(names[:5:5], fmt.Sprintf("and %d more", len(gone)-5))
	}
	return fmt.Errorf("reload refused, running config kept: the file removes %s (%d of %d: %s), leaving them unprotected; "+
		"if that is meant, confirm with `standby ctl reload --force`", what, len(gone), len(had), strings.Join(names, ", "))
}
