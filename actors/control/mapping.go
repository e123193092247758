package control

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/rs/zerolog"

	"standby/conf"
	"standby/conf/atomicfile"
	"standby/protocol/pb"
)

// MappingFile is the name, under [supervisor] state_dir, of the pair mapping edited from the
// control surfaces. While it is valid together with the config file's machines and routers, it
// replaces the file's [[pair]] list.
const MappingFile = "mapping.toml"

const mappingHeader = `# The pair mapping as edited from Standby's control surfaces (written by standby; edit with care).
# While it is valid together with the config file's machines and routers, it replaces the file's
# [[pair]] list at start and on reload. Delete this file to go back to the file's pairs.
`

// Mapping is MappingFile's content.
type Mapping struct {
	Version int         `toml:"version"`
	Pairs   []conf.Pair `toml:"pair"`
	// WithPools: the file also records the pools (written since pools can be edited); an older
	// file without it leaves the config file's pools alone.
	WithPools bool        `toml:"with_pools"`
	Pools     []conf.Pool `toml:"pool"`
}

// editMapping applies one edit to a copy of the config in force, validates the result exactly like
// a config file, persists it and reloads the supervisor. Nothing changes when any step refuses.
func (s *Service) editMapping(pairName string, edit func(*conf.Config) *pb.ControlReply) *pb.ControlReply {
	if pairName == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "pair: missing")
	}
	s.editMu.Lock()
	defer s.editMu.Unlock()
	cur := s.sup.Config()
	next := *cur
	next.Pairs = clonePairs(cur.Pairs)
	next.Pools = clonePools(cur.Pools)
	if r := edit(&next); r != nil {
		return r
	}
	// Mode and failback set by operators live in the pair actors: the saved mapping records every
	// pair as it runs, so neither this reload nor a restart reverts them.
	views, err := s.sup.Pools()
	if err != nil {
		return refusal(pb.Code_CODE_INTERNAL, "nothing changed: %v", err)
	}
	for _, v := range views {
		if p := next.Pair(v.Name); p != nil && cur.Pair(v.Name) != nil {
			p.Mode, p.Failback = policy(v.Automatic), policy(v.Failback)
		}
		if p := next.Pool(v.Name); p != nil && cur.Pool(v.Name) != nil {
			p.Mode, p.Failback = policy(v.Automatic), policy(v.Failback)
		}
	}
	valid, err := validate(&next)
	if err != nil {
		r := refusal(pb.Code_CODE_INVALID_MAPPING, "invalid mapping")
		var errs conf.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				r.Errors = append(r.Errors, e.Error())
			}
		} else {
			r.Errors = []string{err.Error()}
		}
		r.Reason = "invalid mapping: " + strings.Join(r.Errors, "; ")
		return r
	}
	dir := valid.Supervisor.StateDir
	previous, prevErr := LoadMapping(dir)
	if err := SaveMapping(dir, valid.Pairs, valid.Pools); err != nil {
		return refusal(pb.Code_CODE_INTERNAL, "mapping not saved, nothing changed: %v", err)
	}
	if err := s.sup.Reload(valid); err != nil {
		// What is on disk must be what runs (or ran): put the previous mapping back.
		if prevErr == nil {
			err = errors.Join(err, saveDoc(dir, &previous))
		} else {
			err = errors.Join(err, os.Remove(filepath.Join(dir, MappingFile)))
		}
		return refusal(pb.Code_CODE_INTERNAL, "mapping not applied: %v", err)
	}
	r := &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("mapping saved (%s)", filepath.Join(valid.Supervisor.StateDir, MappingFile)),
		Warnings: pairWarnings(valid, pairName)}
	return r
}

func addBackup(c *conf.Config, op *pb.ControlRequest_AddBackupOp) *pb.ControlReply {
	if op.GetBackup() == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "backup: missing")
	}
	p := c.Pair(op.GetPair())
	if p == nil {
		c.Pairs = append(c.Pairs, conf.Pair{Name: op.GetPair()})
		p = &c.Pairs[len(c.Pairs)-1]
		if op.GetRouter() == "" && len(c.Routers) == 1 {
			p.Router = c.Routers[0].Name
		}
	}
	p.Backup = op.GetBackup()
	if op.GetMain() != "" {
		p.Main = op.GetMain()
	}
	if op.GetRouter() != "" {
		p.Router = op.GetRouter()
	}
	if len(op.GetFeeds()) > 0 {
		p.Feeds = feedsOf(op.GetFeeds())
	}
	return nil
}

func removeBackup(c *conf.Config, op *pb.ControlRequest_RemoveBackupOp) *pb.ControlReply {
	for i, p := range c.Pairs {
		if p.Name == op.GetPair() {
			c.Pairs = append(c.Pairs[:i], c.Pairs[i+1:]...)
			return nil
		}
	}
	return unknownPair(op.GetPair())
}

func setFeeds(c *conf.Config, op *pb.ControlRequest_SetFeedsOp) *pb.ControlReply {
	p := c.Pair(op.GetPair())
	if p == nil {
		return unknownPair(op.GetPair())
	}
	p.Feeds = feedsOf(op.GetFeeds())
	return nil
}

func feedsOf(fs []*pb.Feed) []conf.Feed {
	out := make([]conf.Feed, 0, len(fs))
	for _, f := range fs {
		cf := conf.Feed{MainInput: parsePort(f.GetMainInput()), BackupInput: parsePort(f.GetBackupInput())}
		for _, o := range f.GetOutputs() {
			cf.Outputs = append(cf.Outputs, parsePort(o))
		}
		out = append(out, cf)
	}
	return out
}

func setPool(c *conf.Config, op *pb.ControlRequest_SetPoolOp) *pb.ControlReply {
	p := c.Pool(op.GetPool())
	if p == nil {
		if c.Pair(op.GetPool()) != nil {
			return refusal(pb.Code_CODE_BAD_REQUEST, "%q is a pair: edit it with the pair operations", op.GetPool())
		}
		c.Pools = append(c.Pools, conf.Pool{Name: op.GetPool(), Mode: conf.ModeAutomatic, Failback: conf.ModeAutomatic})
		p = &c.Pools[len(c.Pools)-1]
		if op.GetRouter() == "" && len(c.Routers) == 1 {
			p.Router = c.Routers[0].Name
		}
	}
	p.Mains, p.Backups, p.Roles = op.GetMains(), op.GetBackups(), op.GetRoles()
	if op.GetRouter() != "" {
		p.Router = op.GetRouter()
	}
	return nil
}

func removePool(c *conf.Config, op *pb.ControlRequest_RemovePoolOp) *pb.ControlReply {
	for i, p := range c.Pools {
		if p.Name == op.GetPool() {
			c.Pools = append(c.Pools[:i], c.Pools[i+1:]...)
			return nil
		}
	}
	return refusal(pb.Code_CODE_UNKNOWN_PAIR, "unknown pool %q", op.GetPool())
}

func clonePools(ps []conf.Pool) []conf.Pool {
	out := make([]conf.Pool, len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].Mains = append([]string(nil), p.Mains...)
		out[i].Backups = append([]string(nil), p.Backups...)
		out[i].Roles = append([]string(nil), p.Roles...)
	}
	return out
}

func clonePairs(ps []conf.Pair) []conf.Pair {
	out := make([]conf.Pair, len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].Feeds = make([]conf.Feed, len(p.Feeds))
		for j, f := range p.Feeds {
			out[i].Feeds[j] = f
			out[i].Feeds[j].Outputs = append([]conf.Port(nil), f.Outputs...)
		}
	}
	return out
}

// validate checks a config exactly as `standby check` checks a file: encoded, then parsed.
func validate(c *conf.Config) (*conf.Config, error) {
	b, err := conf.Encode(c)
	if err != nil {
		return nil, err
	}
	return conf.Parse(b)
}

// SaveMapping writes pairs and pools to dir/MappingFile atomically: a temporary file in the same
// directory, synced, renamed over the old one, and the directory synced, so a crash leaves the old
// or the new mapping, never a torn one.
func SaveMapping(dir string, pairs []conf.Pair, pools []conf.Pool) error {
	return saveDoc(dir, &Mapping{Version: 1, Pairs: pairs, WithPools: true, Pools: pools})
}

func saveDoc(dir string, m *Mapping) error { return writeState(dir, MappingFile, mappingHeader, m) }

// stateDoc is a TOML document Standby keeps under state_dir (MappingFile, PolicyFile).
type stateDoc interface{ version() int }

func (m *Mapping) version() int { return m.Version }

// readState decodes dir/name into doc and lists what is wrong with it: unknown keys and a version
// other than 1. It returns an error wrapping os.ErrNotExist when there is no file.
func readState(dir, name string, doc stateDoc) (problems []string, err error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return nil, err
	}
	md, err := toml.NewDecoder(bytes.NewReader(b)).Decode(doc)
	if err != nil {
		return nil, err
	}
	for _, k := range md.Undecoded() {
		problems = append(problems, k.String()+": unknown key")
	}
	if v := doc.version(); v != 1 {
		problems = append(problems, fmt.Sprintf("version: %d is not 1", v))
	}
	return problems, nil
}

// problemsError joins every problem found in a state file into one error; nil when there is none.
func problemsError(problems []string) error {
	if len(problems) == 0 {
		return nil
	}
	sort.Strings(problems)
	return errors.New(strings.Join(problems, "\n"))
}

// writeState writes doc under header to dir/name atomically.
func writeState(dir, name, header string, doc any) error {
	var b bytes.Buffer
	b.WriteString(header)
	if err := toml.NewEncoder(&b).Encode(doc); err != nil {
		return err
	}
	return writeAtomic(dir, name, b.Bytes())
}

// writeAtomic replaces dir/name with data so that a crash leaves the old or the new content.
func writeAtomic(dir, name string, data []byte) error {
	return atomicfile.Write(filepath.Join(dir, name), data, 0o644)
}

// LoadMapping reads dir/MappingFile. It returns an error wrapping os.ErrNotExist when there is none.
func LoadMapping(dir string) (Mapping, error) {
	var m Mapping
	problems, err := readState(dir, MappingFile, &m)
	if err == nil {
		err = problemsError(problems)
	}
	if err != nil {
		return Mapping{}, err
	}
	return m, nil
}

// WithMapping returns cfg with its pairs replaced by the persisted mapping under its state_dir,
// when there is one and it is valid together with cfg's machines and routers; otherwise cfg
// itself. It logs what it did.
func WithMapping(log zerolog.Logger, cfg *conf.Config) *conf.Config {
	dir := cfg.Supervisor.StateDir
	m, err := LoadMapping(dir)
	if errors.Is(err, os.ErrNotExist) {
		return cfg
	}
	path := filepath.Join(dir, MappingFile)
	if err != nil {
		log.Error().Str("file", path).Msgf("persisted mapping unreadable, using the config file's pairs:\n%v", err)
		return cfg
	}
	next := *cfg
	next.Pairs = m.Pairs
	if m.WithPools {
		next.Pools = m.Pools
	}
	valid, err := validate(&next)
	if err != nil {
		log.Error().Str("file", path).Msgf("persisted mapping invalid with this config, using the config file's pairs:\n%v", err)
		return cfg
	}
	log.Info().Str("file", path).Int("pairs", len(valid.Pairs)).Int("pools", len(valid.Pools)).Msg("persisted mapping replaces the config file's pairs and pools")
	return valid
}

// Reloads passes every config from in through WithOperatorState, so a reload (SIGHUP) keeps the
// mapping, mode and failback operators set from the control surfaces. The returned channel is never closed (a receive must
// not yield nil); its goroutine ends with ctx.
func Reloads(ctx context.Context, log zerolog.Logger, in <-chan *conf.Config) <-chan *conf.Config {
	out := make(chan *conf.Config)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case cfg := <-in:
				select {
				case out <- WithOperatorState(log, cfg):
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out
}
