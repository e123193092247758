package control

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/BurntSushi/toml"

	"standby/actors/state"
	"standby/conf"
	"standby/protocol/pb"
)

// editMapping applies one edit to a copy of the config in force, validates the result exactly like
// a config file, persists it and reloads the supervisor. Nothing changes when any step refuses.
func (s *Service) editMapping(by, pairName string, edit func(*conf.Config) *pb.ControlReply) *pb.ControlReply {
	if pairName == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "pair: missing")
	}
	s.editMu.Lock()
	defer s.editMu.Unlock()
	s.pendingDetach = nil
	cur := s.sup.Config()
	next := *cur
	next.Pairs = clonePairs(cur.Pairs)
	next.Pools = clonePools(cur.Pools)
	if r := edit(&next); r != nil {
		return r
	}
	valid, err := conf.Check(&next)
	if err != nil {
		r := refusal(pb.Code_CODE_INVALID_MAPPING, "invalid mapping")
		r.Errors, r.ErrorFields = panelErrors(pairName, err)
		r.Reason = "invalid mapping: " + strings.Join(r.Errors, "; ")
		return r
	}
	if lacks := s.sup.RouterLacks(valid, pairName); len(lacks) > 0 {
		r := refusal(pb.Code_CODE_INVALID_MAPPING, "invalid mapping: %s", strings.Join(lacks, "; "))
		r.Errors = lacks
		return r
	}
	// The pairs whose backup is removed after this edit, written with it (nil: unchanged).
	detached, changed := s.detachedAfter(valid, pairName)
	var docDetached []*pb.StateDoc_Detached
	if changed {
		var err error
		if docDetached, err = encodeDetached(detached, by, s.clock.Now().UnixMilli()); err != nil {
			return refusal(pb.Code_CODE_INTERNAL, "mapping not applied, nothing changed: %v", err)
		}
	}
	if err := s.sup.EditDetached(valid, by, docDetached); err != nil {
		return refusal(pb.Code_CODE_INTERNAL, "mapping not applied, nothing changed: %v", err)
	}
	s.detachMu.Lock()
	s.detached, s.pendingDetach = detached, nil
	s.detachMu.Unlock()
	return &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("mapping saved (%s)", filepath.Join(valid.Supervisor.StateDir, state.File)),
		Warnings: valid.WarningsAbout()[pairName]}
}

// detachedPair is a pair whose backup was removed: what it was and where it stood, so adding a
// backup again brings back its mode, failback and feeds in its place. They are kept in the state
// document (StateDoc.detached), so a restart keeps them too.
type detachedPair struct {
	pair  conf.Pair
	index int
	by    string
	atMs  int64
}

// detachedAfter is the detached pairs once valid runs: the pending one added, pairName's dropped
// when valid has that pair again; changed says whether that differs from now.
func (s *Service) detachedAfter(valid *conf.Config, pairName string) (map[string]detachedPair, bool) {
	s.detachMu.Lock()
	defer s.detachMu.Unlock()
	next := maps.Clone(s.detached)
	if next == nil {
		next = map[string]detachedPair{}
	}
	_, had := next[pairName]
	changed := false
	if had && valid.Pair(pairName) != nil {
		delete(next, pairName)
		changed = true
	}
	if d := s.pendingDetach; d != nil {
		next[d.pair.Name] = *d
		changed = true
	}
	return next, changed
}

// detachedEntry is how a detached pair is written in the state document: its [[pair]] entry.
type detachedEntry struct {
	Pair []conf.Pair `toml:"pair"`
}

func encodeDetached(ds map[string]detachedPair, by string, atMs int64) ([]*pb.StateDoc_Detached, error) {
	out := []*pb.StateDoc_Detached{} // not nil: an empty list is "none", not "unchanged"
	for _, name := range slices.Sorted(maps.Keys(ds)) {
		d := ds[name]
		var b bytes.Buffer
		if err := toml.NewEncoder(&b).Encode(detachedEntry{Pair: []conf.Pair{d.pair}}); err != nil {
			return nil, fmt.Errorf("pair %q: %v", name, err)
		}
		if d.by == "" {
			d.by, d.atMs = by, atMs
		}
		out = append(out, &pb.StateDoc_Detached{Name: name, Entry: b.String(), Index: int32(d.index), By: d.by, AtMs: d.atMs})
	}
	return out, nil
}

// loadDetached reads the detached pairs of the state document; one that the config in force has
// again (the file added it back) or that cannot be read is left out, with a log line.
func (s *Service) loadDetached() {
	cfg := s.sup.Config()
	for _, d := range s.sup.Doc().GetDetached() {
		var e detachedEntry
		if _, err := toml.Decode(d.GetEntry(), &e); err != nil || len(e.Pair) != 1 || e.Pair[0].Name != d.GetName() {
			s.log.Error().Str("pair", d.GetName()).Msgf("state document: the pair whose backup was removed cannot be read (%v); it is not shown", err)
			continue
		}
		if cfg.Pair(d.GetName()) != nil {
			continue
		}
		if s.detached == nil {
			s.detached = map[string]detachedPair{}
		}
		s.detached[d.GetName()] = detachedPair{pair: e.Pair[0], index: int(d.GetIndex()), by: d.GetBy(), atMs: d.GetAtMs()}
		s.log.Info().Str("pair", d.GetName()).Msgf("pair %s has no backup: removed by %s (state document)", d.GetName(), d.GetBy())
	}
}

func (s *Service) addBackup(c *conf.Config, op *pb.ControlRequest_AddBackupOp) *pb.ControlReply {
	if op.GetBackup() == "" {
		return refusal(pb.Code_CODE_BAD_REQUEST, "pair %q: backup machine: required", op.GetPair())
	}
	if r := emptyFields(op.GetPair(), op.GetFeeds()); r != nil {
		return r
	}
	p := c.Pair(op.GetPair())
	if p == nil {
		np := conf.Pair{Name: op.GetPair()}
		at := len(c.Pairs)
		if d, ok := s.detachedPair(op.GetPair()); ok {
			np, at = clonePairs([]conf.Pair{d.pair})[0], min(d.index, len(c.Pairs))
		} else if op.GetRouter() == "" && len(c.Routers) == 1 {
			np.Router = c.Routers[0].Name
		}
		c.Pairs = append(c.Pairs[:at], append([]conf.Pair{np}, c.Pairs[at:]...)...)
		p = &c.Pairs[at]
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

// removeBackup takes a pair's backup away. The engine needs a backup, so the pair leaves the
// running config, but the service keeps it (detached) to show its main and to give it back its
// settings when a backup is added again. The backup on air is not removed: that would take the
// feed off air or leave it with no machine the supervisor watches.
func (s *Service) removeBackup(c *conf.Config, op *pb.ControlRequest_RemoveBackupOp) *pb.ControlReply {
	for i, p := range c.Pairs {
		if p.Name != op.GetPair() {
			continue
		}
		v, err := s.sup.Pool(p.Name)
		if err != nil {
			return refusal(pb.Code_CODE_INTERNAL, "pair %q: backup not removed, nothing changed: %v", p.Name, err)
		}
		if slot, _ := v.Slot(""); slot.OnAir == p.Backup || slot.Target != "" {
			return refusal(pb.Code_CODE_ALREADY_ON_AIR, "pair %q: backup %s is on air (or being switched); switch to the main %s first, then remove the backup",
				p.Name, p.Backup, p.Main)
		}
		c.Pairs = append(c.Pairs[:i], c.Pairs[i+1:]...)
		s.pendingDetach = &detachedPair{pair: clonePairs([]conf.Pair{p})[0], index: i}
		return nil
	}
	if _, ok := s.detachedPair(op.GetPair()); ok {
		return refusal(pb.Code_CODE_NO_BACKUP, "pair %q has no backup to remove", op.GetPair())
	}
	return unknownPair(op.GetPair())
}

func setFeeds(c *conf.Config, op *pb.ControlRequest_SetFeedsOp) *pb.ControlReply {
	p := c.Pair(op.GetPair())
	if p == nil {
		return unknownPair(op.GetPair())
	}
	if r := emptyFields(p.Name, op.GetFeeds()); r != nil {
		return r
	}
	p.Feeds = feedsOf(op.GetFeeds())
	return nil
}

// emptyFields refuses feeds with an empty field, each named as the panel names it: an empty port
// would reach the config check as port 0, not as "missing".
func emptyFields(pair string, fs []*pb.Feed) *pb.ControlReply {
	var msgs, fields []string
	for i, f := range fs {
		for _, c := range []struct {
			key   string
			empty bool
		}{{"main_input", strings.TrimSpace(f.GetMainInput()) == ""}, {"backup_input", strings.TrimSpace(f.GetBackupInput()) == ""},
			{"outputs", len(f.GetOutputs()) == 0}} {
			if c.empty {
				msgs = append(msgs, fmt.Sprintf("%s · feed %d · %s: required", pair, i+1, fieldWords[c.key]))
				fields = append(fields, fmt.Sprintf("feed[%d].%s", i, c.key))
			}
		}
		for _, o := range f.GetOutputs() {
			if strings.TrimSpace(o) == "" {
				msgs = append(msgs, fmt.Sprintf("%s · feed %d · %s: an output is empty", pair, i+1, fieldWords["outputs"]))
				fields = append(fields, fmt.Sprintf("feed[%d].outputs", i))
				break
			}
		}
	}
	if len(msgs) == 0 {
		return nil
	}
	r := refusal(pb.Code_CODE_INVALID_MAPPING, "invalid mapping: %s", strings.Join(msgs, "; "))
	r.Errors, r.ErrorFields = msgs, fields
	return r
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

// keyPath reads a config error's key path as the panel names things: the pair, the feed (0-based)
// and the field ("pair \"cam2\".feed[0].outputs[1]" → cam2, 0, "outputs").
var keyPath = regexp.MustCompile(`^pair(?: "((?:[^"\\]|\\.)*)"|\[\d+\])(?:\.(feed)(?:\[(\d+)\])?)?(?:\.(\w+))?(?:\[\d+\])?$`)

// fieldWords are the panel's names of a pair's fields.
var fieldWords = map[string]string{"main": "Main", "backup": "Backup machine", "router": "Router", "name": "Pair name",
	"main_input": "Main input", "backup_input": "Backup input", "outputs": "Outputs", "feed": "Feeds",
	"mode": "Mode", "failback": "Failback", "failback_after": "Failback after"}

// configWords are config keys inside messages, as the panel says them.
var configWords = strings.NewReplacer("main_input", "main input", "backup_input", "backup input", "[[pair.feed]]", "feed",
	"[[machine]]", "machine", "[[router]]", "router")

// panelErrors turns the errors of an edit of pair edited into the panel's words, each once, with
// the field it is about. A conflict the check reports on another pair (cam2's output "already
// claimed by pair cam1" when cam1 was edited) is told from the edited pair's side: that is the
// field the operator changed.
func panelErrors(edited string, err error) (msgs, fields []string) {
	var list conf.Errors
	if !errors.As(err, &list) {
		list = conf.Errors{err}
	}
	seen := map[string]bool{}
	for _, e := range list {
		msg, field := e.Error(), ""
		var ke *conf.KeyError
		if errors.As(e, &ke) {
			msg, field = panelError(edited, ke)
		}
		if !seen[msg] {
			seen[msg] = true
			msgs, fields = append(msgs, msg), append(fields, field)
		}
	}
	return msgs, fields
}

func panelError(edited string, ke *conf.KeyError) (msg, field string) {
	m := keyPath.FindStringSubmatch(ke.Path)
	if m == nil {
		return ke.Error(), ""
	}
	pair, feed, feedIdx, key := m[1], m[2], m[3], m[4]
	text := ke.Msg
	if pair != edited && pair != "" && strings.Contains(text, fmt.Sprintf("pair %q", edited)) {
		text = strings.ReplaceAll(text, fmt.Sprintf("pair %q", edited), fmt.Sprintf("pair %q", pair))
		pair = edited
	}
	text = configWords.Replace(text)
	if text == "missing" || strings.HasPrefix(text, "missing:") {
		text = "required" + strings.TrimPrefix(text, "missing")
	}
	where := []string{pair}
	if pair == "" {
		where = []string{edited}
	}
	switch {
	case feed != "" && feedIdx != "":
		n, _ := strconv.Atoi(feedIdx)
		where = append(where, fmt.Sprintf("feed %d", n+1))
		field = fmt.Sprintf("feed[%d]", n)
		if key != "" {
			field += "." + key
		}
	case feed != "":
		field = "feed"
		key = "feed"
		if strings.HasPrefix(text, "required") {
			text = "required: at least one feed (main input, backup input, outputs)"
		}
	default:
		field = key
	}
	if w, ok := fieldWords[key]; ok {
		where = append(where, w)
	} else if key != "" {
		where = append(where, key)
	}
	return strings.Join(where, " · ") + ": " + text, field
}

// detachedPair is the pair named name whose backup was removed, if any.
func (s *Service) detachedPair(name string) (detachedPair, bool) {
	s.detachMu.Lock()
	defer s.detachMu.Unlock()
	d, ok := s.detached[name]
	return d, ok
}

// detachedPairs are the pairs whose backup was removed, in their former config order.
func (s *Service) detachedPairs() []detachedPair {
	s.detachMu.Lock()
	defer s.detachMu.Unlock()
	out := make([]detachedPair, 0, len(s.detached))
	for _, d := range s.detached {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].index < out[j].index })
	return out
}
