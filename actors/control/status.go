package control

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"standby/actors/failover"
	"standby/actors/machine"
	"standby/actors/pool"
	"standby/actors/router"
	"standby/actors/supervisor"
	"standby/conf"
	"standby/protocol/pb"
	vh "standby/protocol/videohub"
)

// Status gathers everything the panels show.
func (s *Service) Status() (*pb.Status, error) {
	cfg := s.sup.Config()
	views, err := s.sup.Pools()
	if err != nil {
		return nil, err
	}
	snaps, err := s.sup.Machines()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	role := s.role()
	st := &pb.Status{
		Supervisor: &pb.Status_Supervisor{Name: cfg.Supervisor.Name, Role: role.Name, Chip: role.chip(), ReadOnly: role.ReadOnly,
			Address: s.sup.Address(), Simulation: s.sim != nil && hasSimulated(cfg),
			LinksAuthenticated: s.sup.LinksAuthenticated(), Identity: s.sup.Identity(), Version: s.version},
		Warnings: append(cfg.Warnings(), s.startWarnings...),
		Time:     timestamppb.New(now),
	}
	if w := s.hub.overloadWarning(); w != "" {
		st.Warnings = append([]string{w}, st.Warnings...) // first: it is about now
	}
	if st.Supervisor.Role == "" {
		st.Supervisor.Role = Standalone.Name
	}
	st.Supervisor.SyncStatus, st.Supervisor.Active = "No redundancy", true
	if v, err := s.sup.Redundancy(); err != nil {
		st.Supervisor.SyncStatus, st.Supervisor.SyncDetail, st.Supervisor.Active = "Unavailable", err.Error(), false
	} else if v != nil {
		st.Supervisor.SyncStatus, st.Supervisor.SyncDetail = string(v.Status), v.Detail
		st.Supervisor.Active, st.Supervisor.Term, st.Supervisor.Peer = v.Active, v.Term, v.Peer+" ("+v.PeerAddress+")"
	}
	type place struct {
		pair, side string
		onAir      bool
	}
	places := map[string]place{}
	pairs := make(map[string]*conf.Pair, len(cfg.Pairs))
	for i := range cfg.Pairs {
		pairs[cfg.Pairs[i].Name] = &cfg.Pairs[i]
	}
	warnings := cfg.WarningsAbout()
	for i := range views {
		v := &views[i]
		p := pairs[v.Name]
		if p == nil {
			if e := s.sup.PoolEntry(v.Name); e != nil {
				ps := s.poolStatus(e, v, snaps, warnings[v.Name])
				st.Pools = append(st.Pools, ps)
				for _, sl := range ps.Slots {
					places[sl.Main] = place{v.Name, "main", sl.OnAir == sl.Main}
				}
				for _, b := range ps.Backups {
					places[b.Name] = place{v.Name, "backup", b.Covering != ""}
				}
			}
			continue
		}
		slot, _ := v.Slot("")
		st.Pairs = append(st.Pairs, s.pairStatus(p, v, slot, snaps, warnings[v.Name]))
		places[p.Main] = place{v.Name, "main", slot.OnAir == p.Main}
		places[p.Backup] = place{v.Name, "backup", slot.OnAir == p.Backup}
	}
	st.Pairs = s.inConfigOrder(cfg, st.Pairs, snaps)
	for _, m := range cfg.Machines {
		ms := machineStatus(&m, snaps[m.Name], now)
		for _, a := range ms.Alarms {
			if t, ok := s.hub.seen(m.Name, "").clearedAt[a.Kind]; ok && !a.Active {
				a.ClearedAt = timestamppb.New(t)
			}
		}
		if p, ok := places[m.Name]; ok {
			ms.Pair, ms.Side, ms.OnAir = p.pair, p.side, p.onAir
		}
		st.Machines = append(st.Machines, ms)
	}
	down := map[string]bool{}
	for _, r := range s.sup.Routers() {
		st.Routers = append(st.Routers, &pb.Status_Router{Name: r.Router, Conn: string(r.Conn), Detail: r.Detail, Model: r.Model,
			Inputs: int32(r.Inputs), Outputs: int32(r.Outputs)})
		down[r.Router] = r.Conn != router.Connected
	}
	// A pair whose router is away is not armed and fine, whatever its engine state says.
	for _, p := range st.Pairs {
		if down[p.Router] {
			p.CannotSwitch = CannotSwitchRouter
		}
	}
	for _, p := range st.Pools {
		if down[p.Router] {
			p.CannotSwitch = CannotSwitchRouter
		}
	}
	if st.Actions, err = s.actionsStatus(); err != nil {
		return nil, err
	}
	return st, nil
}

// CannotSwitchRouter is a pair's or pool's cannot_switch while its router is not connected.
const CannotSwitchRouter = "router unavailable — cannot switch"

func (s *Service) pairStatus(p *conf.Pair, v *pool.View, slot failover.SlotStatus, snaps map[string]machine.Snapshot, warnings []string) *pb.Status_Pair {
	onAir, switchTo := "main", "backup"
	if slot.OnAir != p.Main {
		onAir, switchTo = "backup", "main"
	}
	ps := &pb.Status_Pair{
		Name: v.Name, Router: p.Router, Main: p.Main, Backup: p.Backup,
		Mode: policy(v.Automatic), Failback: policy(v.Failback),
		State: slot.State.String(), OnAir: onAir, SwitchTo: switchTo,
		Critical: snaps[p.Main].Condition.Level == failover.Critical || snaps[p.Backup].Condition.Level == failover.Critical,
		Latched:  slot.Latched, Epoch: v.Epoch, SwitchOnCritical: p.SwitchOnCritical, FailbackAfter: p.FailbackAfter.Duration.String(),
		ForceUnlock: p.ForceUnlock, LockOutputs: p.LockOutputs,
		Warnings: warnings,
	}
	ps.Active = slot.OnAir
	labels := s.labels(p.Router)
	for _, f := range p.Feeds {
		ps.Feeds = append(ps.Feeds, feedStatus(f, labels))
	}
	x := s.slotExtra(v.Name, slot)
	ps.Alarms, ps.OnAirSince, ps.FailedOverOn, ps.FailbackAt = x.alarms, x.onAirSince, x.failedOverOn, x.failbackAt
	return ps
}

// slotExtra is what a pair's or a pool main's status tells beyond the engine's slot: its alarms
// with when they cleared, since when its machine is on air and why a failure put it there (as
// the event hub saw them), and the engine's own failback due time.
type slotExtra struct {
	alarms                 []*pb.Status_Alarm
	onAirSince, failbackAt *timestamppb.Timestamp
	failedOverOn           string
}

func (s *Service) slotExtra(pool string, sl failover.SlotStatus) slotExtra {
	var x slotExtra
	sn := s.hub.seen(pool, sl.Main)
	for _, a := range sl.Alarms {
		as := alarmStatus(a)
		if t, ok := sn.clearedAt[as.Kind]; ok && !a.Active {
			as.ClearedAt = timestamppb.New(t)
		}
		x.alarms = append(x.alarms, as)
	}
	if !sn.onAirSince.IsZero() {
		x.onAirSince = timestamppb.New(sn.onAirSince)
	}
	if sl.OnAir != sl.Main && sl.FailedOver {
		x.failedOverOn = string(sn.failedOverOn)
	}
	if !sl.FailbackAt.IsZero() {
		x.failbackAt = timestamppb.New(sl.FailbackAt)
	}
	return x
}

// inConfigOrder sorts the pairs as the config lists them, with each pair whose backup was removed
// in the place it had (state "no-backup", its main only), so the panel's columns stay put
// across edits.
func (s *Service) inConfigOrder(cfg *conf.Config, pairs []*pb.Status_Pair, snaps map[string]machine.Snapshot) []*pb.Status_Pair {
	index := map[string]int{}
	for i, p := range cfg.Pairs {
		index[p.Name] = i
	}
	sort.SliceStable(pairs, func(i, j int) bool { return index[pairs[i].Name] < index[pairs[j].Name] })
	for _, d := range s.detachedPairs() {
		if cfg.Pair(d.pair.Name) != nil || cfg.Pool(d.pair.Name) != nil || inUse(cfg, d.pair.Main) {
			continue // the name or the main went to another pairing since
		}
		p := d.pair
		ps := &pb.Status_Pair{Name: p.Name, Router: p.Router, Main: p.Main, Mode: policy(p.Mode == conf.ModeAutomatic),
			Failback: policy(p.Failback == conf.ModeAutomatic), State: "no-backup", OnAir: "main", Active: p.Main, SwitchTo: "backup",
			Critical: snaps[p.Main].Condition.Level == failover.Critical, SwitchOnCritical: p.SwitchOnCritical,
			FailbackAfter: p.FailbackAfter.Duration.String(), ForceUnlock: p.ForceUnlock, LockOutputs: p.LockOutputs}
		labels := s.labels(p.Router)
		for _, f := range p.Feeds {
			ps.Feeds = append(ps.Feeds, feedStatus(f, labels))
		}
		at := min(d.index, len(pairs))
		pairs = append(pairs[:at], append([]*pb.Status_Pair{ps}, pairs[at:]...)...)
	}
	return pairs
}

func (s *Service) poolStatus(e *supervisor.PoolEntry, v *pool.View, snaps map[string]machine.Snapshot, warnings []string) *pb.Status_Pool {
	ps := &pb.Status_Pool{Name: v.Name, Router: e.Router, Mode: policy(v.Automatic), Failback: policy(v.Failback),
		FailbackAfter: e.Engine.FailbackAfter.String(), SwitchOnCritical: e.Engine.SwitchOnCritical, Epoch: v.Epoch,
		Queue: v.Queue, Roles: e.Engine.Roles, ForceUnlock: e.ForceUnlock, LockOutputs: e.LockOutputs, Warnings: warnings}
	feeds := func(fs []failover.Feed) []*pb.Status_RoleFeed {
		var out []*pb.Status_RoleFeed
		for _, f := range fs {
			rf := &pb.Status_RoleFeed{Role: f.Role, Input: portText(f.Input)}
			for _, o := range f.Outputs {
				rf.Outputs = append(rf.Outputs, portText(o))
			}
			out = append(out, rf)
		}
		return out
	}
	for i, sl := range v.Slots {
		ss := &pb.Status_Slot{Main: sl.Main, State: sl.State.String(), OnAir: sl.OnAir, Target: sl.Target, Latched: sl.Latched,
			Critical: snaps[sl.Main].Condition.Level == failover.Critical || snaps[sl.OnAir].Condition.Level == failover.Critical}
		if i < len(e.Engine.Mains) && e.Engine.Mains[i].Name == sl.Main {
			ss.Feeds = feeds(e.Engine.Mains[i].Feeds)
		}
		for _, o := range sl.Stay {
			ss.Stay = append(ss.Stay, portText(o))
		}
		if !sl.WaitingSince.IsZero() {
			ss.WaitingSince = timestamppb.New(sl.WaitingSince)
		}
		x := s.slotExtra(v.Name, sl)
		ss.Alarms, ss.OnAirSince, ss.FailedOverOn, ss.FailbackAt = x.alarms, x.onAirSince, x.failedOverOn, x.failbackAt
		ps.Slots = append(ps.Slots, ss)
	}
	for i, b := range v.Backups {
		bs := &pb.Status_Backup{Name: b.Name, Covering: b.Covering}
		if i < len(e.Engine.Backups) {
			bs.Feeds = feeds(e.Engine.Backups[i].Feeds)
		}
		ps.Backups = append(ps.Backups, bs)
	}
	return ps
}

func alarmStatus(a failover.Alarm) *pb.Status_Alarm {
	return &pb.Status_Alarm{Kind: string(a.Kind), Message: a.Message, Since: timestamppb.New(a.Since), Active: a.Active, Acked: a.Acked}
}

func policy(automatic bool) string {
	if automatic {
		return conf.ModeAutomatic
	}
	return conf.ModeManual
}

func machineStatus(m *conf.Machine, sn machine.Snapshot, now time.Time) *pb.Status_Machine {
	c := sn.Condition
	ms := &pb.Status_Machine{Name: m.Name, Known: c.Known, Failure: string(c.Failure), Level: c.Level.String(), Detail: c.Detail,
		HeartbeatAgeMs: -1, Features: m.Features, Simulated: m.Simulated}
	if !sn.LastSeen.IsZero() {
		ms.LastSeen = timestamppb.New(sn.LastSeen)
		ms.HeartbeatAgeMs = float64(now.Sub(sn.LastSeen)) / float64(time.Millisecond)
	}
	for _, svc := range sn.Services {
		ms.Services = append(ms.Services, &pb.Status_Service{Name: svc.Name, Up: svc.Up, Reason: svc.Reason})
	}
	for _, r := range sn.Health {
		h := &pb.Status_Health{Name: r.Name, Value: r.Value, Ok: r.OK, Level: sn.Levels[r.Name].String()}
		if t, ok := m.Health[r.Name]; ok && t.Warning != nil && t.Critical != nil {
			h.Warning, h.Critical = *t.Warning, *t.Critical
		}
		ms.Health = append(ms.Health, h)
	}
	for _, a := range sn.Alarms {
		ms.Alarms = append(ms.Alarms, alarmStatus(a))
	}
	return ms
}

// portLabels is what is known of a router's labels and locks, 0-based as on the wire.
type portLabels struct {
	inputs, outputs map[int]string
	locked          map[int]bool // outputs locked by another client
}

// labels reads a router's labels from its latest pushed state or, before any push, from the
// in-process simulator of a simulate = true router.
func (s *Service) labels(routerName string) portLabels {
	l := portLabels{inputs: map[int]string{}, outputs: map[int]string{}, locked: map[int]bool{}}
	if m := s.hub.mirror(routerName); m != nil {
		for k, v := range m.InputLabels {
			l.inputs[k] = v
		}
		for k, v := range m.OutputLabels {
			l.outputs[k] = v
		}
		for k, v := range m.Locks {
			l.locked[k] = v == vh.LockLocked
		}
		return l
	}
	if sim := s.sup.Simulator(routerName); sim != nil {
		st := sim.State()
		for i, v := range st.InputLabels {
			l.inputs[i] = v
		}
		for i, v := range st.OutputLabels {
			l.outputs[i] = v
		}
	}
	return l
}

func feedStatus(f conf.Feed, l portLabels) *pb.Feed {
	fs := &pb.Feed{MainInput: portText(f.MainInput), BackupInput: portText(f.BackupInput),
		MainInputLabel: portLabel(f.MainInput, l.inputs), BackupInputLabel: portLabel(f.BackupInput, l.inputs)}
	for _, o := range f.Outputs {
		fs.Outputs = append(fs.Outputs, portText(o))
		fs.OutputLabels = append(fs.OutputLabels, portLabel(o, l.outputs))
		if i := portIndex(o, l.outputs); i >= 0 && l.locked[i] {
			fs.LockedOutputs = append(fs.LockedOutputs, portText(o))
		}
	}
	return fs
}

// portText is a port as an operator types it: "5" or a label.
func portText(p conf.Port) string {
	if p.Label != "" {
		return p.Label
	}
	return strconv.Itoa(p.Number)
}

// parsePort reads a port as an operator typed it.
func parsePort(s string) conf.Port {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return conf.N(n)
	}
	return conf.Port{Label: s}
}

// portIndex is a port's 0-based index, or -1 when a label is not (yet) known.
func portIndex(p conf.Port, labels map[int]string) int {
	if p.Label == "" {
		return p.Number - 1
	}
	for i, v := range labels {
		if v == p.Label {
			return i
		}
	}
	return -1
}

func portLabel(p conf.Port, labels map[int]string) string {
	if p.Label != "" {
		return p.Label
	}
	return labels[p.Number-1]
}

func hasSimulated(cfg *conf.Config) bool {
	for _, m := range cfg.Machines {
		if m.Simulated {
			return true
		}
	}
	return false
}

// inUse reports whether a pair or pool of cfg uses the machine.
func inUse(cfg *conf.Config, machine string) bool {
	for _, p := range cfg.Pairs {
		if p.Main == machine || p.Backup == machine {
			return true
		}
	}
	for _, p := range cfg.Pools {
		if slices.Contains(p.Mains, machine) || slices.Contains(p.Backups, machine) {
			return true
		}
	}
	return false
}
