package control

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/rs/zerolog"

	"standby/conf"
)

// PolicyFile is the name, under [supervisor] state_dir, of the mode and failback operators set
// from the control surfaces. They outlive a restart or a reload: an operator who put a pair in
// manual for a show must not find it automatic again after the supervisor restarted.
const PolicyFile = "policy.toml"

const policyHeader = `# Mode and failback of pairs as last set by operators from Standby's control surfaces (written by
# standby). They override the config file's values for pairs of these names. Delete an entry (or
# the file) to go back to the config file's values.
`

// policyDoc is PolicyFile's content.
type policyDoc struct {
	Version int                   `toml:"version"`
	Pairs   map[string]pairPolicy `toml:"pair"`
}

// pairPolicy is what operators set on one pair; empty means not set.
type pairPolicy struct {
	Mode     string `toml:"mode,omitempty"`
	Failback string `toml:"failback,omitempty"`
	By       string `toml:"by,omitempty"` // the operator who set the latest value
}

// LoadPolicy reads dir/PolicyFile. It returns an error wrapping os.ErrNotExist when there is none.
func LoadPolicy(dir string) (map[string]pairPolicy, error) {
	var d policyDoc
	problems, err := readState(dir, PolicyFile, &d)
	if err != nil {
		return nil, err
	}
	for name, p := range d.Pairs {
		for key, v := range map[string]string{"mode": p.Mode, "failback": p.Failback} {
			if v != "" && v != conf.ModeAutomatic && v != conf.ModeManual {
				problems = append(problems, fmt.Sprintf("pair.%s.%s: %q is not automatic or manual", name, key, v))
			}
		}
	}
	if err := problemsError(problems); err != nil {
		return nil, err
	}
	return d.Pairs, nil
}

func (d *policyDoc) version() int { return d.Version }

// setPolicy records what an operator set on a pair (what is "mode" or "failback").
func setPolicy(dir, pairName, what, value, by string) error {
	pol, err := LoadPolicy(dir)
	if err != nil || pol == nil {
		pol = map[string]pairPolicy{} // none yet, or unreadable: replaced by what operators set from now on
	}
	p := pol[pairName]
	if what == "mode" {
		p.Mode = value
	} else {
		p.Failback = value
	}
	p.By = by
	pol[pairName] = p
	return writeState(dir, PolicyFile, policyHeader, policyDoc{Version: 1, Pairs: pol})
}

// withPolicy returns cfg with the mode and failback operators set (PolicyFile) applied to its
// pairs; cfg itself when there is nothing to apply. It logs each value it overrides.
func withPolicy(log zerolog.Logger, cfg *conf.Config) *conf.Config {
	dir := cfg.Supervisor.StateDir
	pol, err := LoadPolicy(dir)
	if errors.Is(err, os.ErrNotExist) {
		return cfg
	}
	path := filepath.Join(dir, PolicyFile)
	if err != nil {
		log.Error().Str("file", path).Msgf("operators' mode and failback unreadable, using the config's:\n%v", err)
		return cfg
	}
	next := *cfg
	next.Pairs = clonePairs(cfg.Pairs)
	next.Pools = append([]conf.Pool(nil), cfg.Pools...)
	changed := false
	apply := func(name string, mode, failback *string) {
		set, ok := pol[name]
		if !ok {
			return
		}
		for _, f := range []struct {
			what     string
			field    *string
			operator string
		}{{"mode", mode, set.Mode}, {"failback", failback, set.Failback}} {
			if f.operator == "" || f.operator == *f.field {
				continue
			}
			log.Info().Str("pair", name).Str("file", path).Str("by", set.By).
				Msgf("%s %s as an operator set it, not %s as configured", f.what, f.operator, *f.field)
			*f.field, changed = f.operator, true
		}
	}
	for i := range next.Pairs {
		apply(next.Pairs[i].Name, &next.Pairs[i].Mode, &next.Pairs[i].Failback)
	}
	for i := range next.Pools {
		apply(next.Pools[i].Name, &next.Pools[i].Mode, &next.Pools[i].Failback)
	}
	if !changed {
		return cfg
	}
	return &next
}

// WithOperatorState returns cfg with what operators changed from the control surfaces applied:
// the persisted mapping (MappingFile), then mode and failback (PolicyFile).
func WithOperatorState(log zerolog.Logger, cfg *conf.Config) *conf.Config {
	return withPolicy(log, WithMapping(log, cfg))
}
