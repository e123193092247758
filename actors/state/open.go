package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/rs/zerolog"

	"standby/conf"
	"standby/conf/atomicfile"
	"standby/protocol/pb"
)

// Files of earlier versions that the document replaces; Open migrates them once.
const (
	legacyMapping = "mapping.toml"
	legacyPolicy  = "policy.toml"
)

// Open returns the document under dir for the config file file: the saved one; else one migrated
// from an earlier version's mapping.toml and policy.toml (saved, the old files renamed with a
// ".migrated" suffix); else an empty one. A saved document that cannot be read is renamed aside
// (".bad-TIME") so nothing overwrites it, and an empty one is used; both are logged.
//
// Open first removes temporary files a crash left in dir, and logs an error when dir cannot be
// written (see Problem).
func Open(log zerolog.Logger, dir string, file *conf.Config, now time.Time) *pb.StateDoc {
	log = log.With().Str("state", filepath.Join(dir, File)).Logger()
	if removed, err := atomicfile.RemoveStale(dir); err != nil {
		log.Warn().Err(err).Msg("temporary files left in state_dir not removed")
	} else if len(removed) > 0 {
		log.Info().Strs("removed", removed).Msg("removed temporary files left in state_dir by an interrupted write")
	}
	if p := Problem(dir); p != "" {
		log.Error().Msg(p)
	}
	d, err := Load(dir)
	switch {
	case err == nil:
		return d
	case !errors.Is(err, os.ErrNotExist):
		aside := filepath.Join(dir, File+".bad-"+now.UTC().Format("20060102T150405Z"))
		rerr := os.Rename(filepath.Join(dir, File), aside)
		log.Error().Err(err).Str("moved_to", aside).AnErr("rename", rerr).
			Msg("state document unreadable: starting without operators' changes (the file is kept aside)")
		return New()
	}
	d, migrated, err := migrate(dir, file, now)
	if err != nil {
		log.Error().Err(err).Msg("earlier mapping.toml / policy.toml not migrated (kept as they are)")
		return New()
	}
	if len(migrated) == 0 {
		return d
	}
	if err := Save(dir, d); err != nil {
		log.Error().Err(err).Msg("migrated state document not saved; the earlier files stay in use")
		return d
	}
	for _, name := range migrated {
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(dir, name+".migrated")); err != nil {
			log.Warn().Err(err).Str("file", name).Msg("migrated file not renamed")
		}
	}
	log.Info().Strs("from", migrated).Int("overrides", len(d.GetOverrides())).Msg("migrated operators' mapping and policy into the state document")
	return d
}

// Problem is why state_dir cannot be written, as a warning for the log and the status ("" when
// it can): operators' edits, mode changes and the term would be lost at the next restart.
func Problem(dir string) string {
	if err := atomicfile.CheckWritable(dir); err != nil {
		return fmt.Sprintf("supervisor.state_dir: %s cannot be written (%v): operators' edits, mode and failback changes and the redundancy term will not be saved", dir, err)
	}
	return ""
}

// legacyMappingDoc is an earlier version's mapping.toml: whole [[pair]] (and [[pool]]) entries.
type legacyMappingDoc struct {
	Version   int         `toml:"version"`
	Pairs     []conf.Pair `toml:"pair"`
	WithPools bool        `toml:"with_pools"`
	Pools     []conf.Pool `toml:"pool"`
}

// legacyPolicyDoc is an earlier version's policy.toml: mode and failback per pair or pool.
type legacyPolicyDoc struct {
	Version int `toml:"version"`
	Pairs   map[string]struct {
		Mode     string `toml:"mode"`
		Failback string `toml:"failback"`
		By       string `toml:"by"`
	} `toml:"pair"`
}

// migrate builds a document from the earlier files under dir; migrated names the files used.
func migrate(dir string, file *conf.Config, now time.Time) (*pb.StateDoc, []string, error) {
	d := New()
	edited := *file // only whole entries' top-level fields change below: a shallow copy of the lists will do
	edited.Pairs, edited.Pools = append([]conf.Pair(nil), file.Pairs...), append([]conf.Pool(nil), file.Pools...)
	var migrated []string
	var m legacyMappingDoc
	if _, err := toml.DecodeFile(filepath.Join(dir, legacyMapping), &m); err == nil {
		edited.Pairs = m.Pairs
		if m.WithPools {
			edited.Pools = m.Pools
		}
		migrated = append(migrated, legacyMapping)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %v", legacyMapping, err)
	}
	var p legacyPolicyDoc
	by := "migrated"
	if _, err := toml.DecodeFile(filepath.Join(dir, legacyPolicy), &p); err == nil {
		for name, pol := range p.Pairs {
			if pol.By != "" {
				by = pol.By
			}
			if e := edited.Pair(name); e != nil {
				e.Mode, e.Failback = or(pol.Mode, e.Mode), or(pol.Failback, e.Failback)
			}
			if e := edited.Pool(name); e != nil {
				e.Mode, e.Failback = or(pol.Mode, e.Mode), or(pol.Failback, e.Failback)
			}
		}
		migrated = append(migrated, legacyPolicy)
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, nil, fmt.Errorf("%s: %v", legacyPolicy, err)
	}
	if len(migrated) == 0 {
		return d, nil, nil
	}
	valid, err := conf.Check(&edited)
	if err != nil {
		return nil, nil, fmt.Errorf("%v: not valid with this config file:\n%v", migrated, err)
	}
	if d.Overrides, err = Diff(file, valid, nil, by, now); err != nil {
		return nil, nil, err
	}
	return d, migrated, nil
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
