package control

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

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
	if lacks := s.sup.RouterLacks(valid, pairName); len(lacks) > 0 {
		r := refusal(pb.Code_CODE_INVALID_MAPPING, "invalid mapping: %s", strings.Join(lacks, "; "))
		r.Errors = lacks
		return r
	}
	if err := s.sup.Edit(valid, by); err != nil {
		return refusal(pb.Code_CODE_INTERNAL, "mapping not applied, nothing changed: %v", err)
	}
	return &pb.ControlReply{Ok: true, Reason: fmt.Sprintf("mapping saved (%s)", filepath.Join(valid.Supervisor.StateDir, state.File)),
		Warnings: pairWarnings(valid, pairName)}
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
