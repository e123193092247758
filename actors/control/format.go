package control

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"standby/actors/router"
	"standby/protocol/pb"
)

// stateCell is a pair's or pool main's state, or why it cannot switch.
func stateCell(cannotSwitch, state string) string {
	if cannotSwitch != "" {
		return strings.ToUpper(cannotSwitch)
	}
	return state
}

// WriteStatus prints a status as readable tables (`standby ctl status`).
func WriteStatus(w io.Writer, st *pb.Status) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	sv := st.GetSupervisor()
	fmt.Fprintf(tw, "supervisor %s (%s)  %s  remote %s\n", sv.GetName(), sv.GetRole(), sv.GetChip(), sv.GetAddress())
	if sv.GetSyncStatus() != "" && sv.GetSyncStatus() != "No redundancy" {
		role := "standby"
		if sv.GetActive() {
			role = "ACTIVE"
		}
		fmt.Fprintf(tw, "sync with %s: %s", sv.GetPeer(), sv.GetSyncStatus())
		if sv.GetSyncDetail() != "" {
			fmt.Fprintf(tw, " (%s)", sv.GetSyncDetail())
		}
		fmt.Fprintf(tw, "; this supervisor is %s, term %d\n", role, sv.GetTerm())
	}
	if sv.GetLinksAuthenticated() {
		fmt.Fprintf(tw, "links authenticated as %s\n", sv.GetIdentity())
	} else {
		fmt.Fprintln(tw, "LINKS NOT AUTHENTICATED: anyone on the network can forge a failover; set up [tls] (standby certs)")
	}
	for _, r := range st.GetRouters() {
		fmt.Fprintf(tw, "router %s: %s", r.GetName(), r.GetConn())
		if r.GetModel() != "" {
			fmt.Fprintf(tw, " (%s %dx%d)", r.GetModel(), r.GetInputs(), r.GetOutputs())
		}
		if r.GetDetail() != "" && r.GetConn() != "connected" {
			fmt.Fprintf(tw, " %s", r.GetDetail())
		}
		fmt.Fprintln(tw)
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "PAIR\tON AIR\tMAIN\tBACKUP\tMODE\tFAILBACK\tSTATE\tFEEDS\tALARMS")
	machines := map[string]*pb.Status_Machine{}
	for _, m := range st.GetMachines() {
		machines[m.GetName()] = m
	}
	for _, p := range st.GetPairs() {
		var alarms []string
		for _, a := range p.GetAlarms() {
			s := a.GetKind()
			if a.GetAcked() {
				s += " (acked)"
			}
			alarms = append(alarms, s)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.GetName(), p.GetOnAir(),
			machineCell(machines[p.GetMain()], p.GetOnAir() == "main"), backupCell(p, machines),
			p.GetMode(), p.GetFailback(), stateCell(p.GetCannotSwitch(), p.GetState()), feedsCell(p.GetFeeds()), dash(strings.Join(alarms, ", ")))
	}
	if len(st.GetPools()) > 0 {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "POOL\tMAIN\tON AIR\tSTATE\tMODE\tFAILBACK\tSTAYS ON MAIN\tALARMS")
		for _, p := range st.GetPools() {
			for _, sl := range p.GetSlots() {
				var alarms []string
				for _, a := range sl.GetAlarms() {
					s := a.GetKind()
					if a.GetAcked() {
						s += " (acked)"
					}
					alarms = append(alarms, s)
				}
				onAir := sl.GetOnAir()
				if sl.GetTarget() != "" {
					onAir += " → " + sl.GetTarget()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.GetName(), machineCell(machines[sl.GetMain()], sl.GetOnAir() == sl.GetMain()),
					onAir, stateCell(p.GetCannotSwitch(), sl.GetState()), p.GetMode(), p.GetFailback(), dash(strings.Join(sl.GetStay(), ", ")), dash(strings.Join(alarms, ", ")))
			}
			var bs []string
			for _, b := range p.GetBackups() {
				c := "free"
				if b.GetCovering() != "" {
					c = "covering " + b.GetCovering()
				}
				bs = append(bs, b.GetName()+" "+c)
			}
			fmt.Fprintf(tw, "%s\tbackups: %s", p.GetName(), strings.Join(bs, "; "))
			if len(p.GetQueue()) > 0 {
				fmt.Fprintf(tw, "; waiting: %s", strings.Join(p.GetQueue(), ", "))
			}
			fmt.Fprintln(tw)
		}
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "MACHINE\tPAIR\tSIDE\tCONDITION\tLEVEL\tHEARTBEAT\tSERVICES\tHEALTH")
	for _, m := range st.GetMachines() {
		var svcs, health []string
		for _, s := range m.GetServices() {
			mark := "up"
			if !s.GetUp() {
				mark = "DOWN"
			}
			svcs = append(svcs, s.GetName()+" "+mark)
		}
		for _, h := range m.GetHealth() {
			health = append(health, fmt.Sprintf("%s %s (%s)", h.GetName(), value(h.GetValue()), h.GetLevel()))
		}
		age := "never"
		if m.GetHeartbeatAgeMs() >= 0 {
			age = router.Millis(time.Duration(m.GetHeartbeatAgeMs() * float64(time.Millisecond)))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.GetName(), dash(m.GetPair()), dash(m.GetSide()), condition(m),
			m.GetLevel(), age, dash(strings.Join(svcs, ", ")), dash(strings.Join(health, ", ")))
	}
	for _, m := range st.GetMachines() {
		for _, a := range m.GetAlarms() {
			state := "ACTIVE"
			switch {
			case !a.GetActive():
				state = "cleared, not acknowledged"
			case a.GetAcked():
				state = "active, acknowledged"
			}
			fmt.Fprintf(tw, "alarm %s %s (%s): %s\n", m.GetName(), a.GetKind(), state, a.GetMessage())
		}
	}
	writeActions(tw, st.GetActions())
	for _, w := range st.GetWarnings() {
		fmt.Fprintf(tw, "\nwarning: %s", w)
	}
	if len(st.GetWarnings()) > 0 {
		fmt.Fprintln(tw)
	}
	return tw.Flush()
}

// backupCell is a pair's backup, or "none" once it was removed.
func backupCell(p *pb.Status_Pair, machines map[string]*pb.Status_Machine) string {
	if p.GetBackup() == "" {
		return "none"
	}
	return machineCell(machines[p.GetBackup()], p.GetOnAir() == "backup")
}

func machineCell(m *pb.Status_Machine, onAir bool) string {
	if m == nil {
		return "?"
	}
	s := m.GetName()
	if c := condition(m); c != "ok" {
		s += " (" + c + ")"
	}
	if onAir {
		s = "*" + s
	}
	return s
}

func condition(m *pb.Status_Machine) string {
	switch {
	case !m.GetKnown():
		return "not seen"
	case m.GetFailure() != "":
		return m.GetFailure() + " failed"
	case m.GetLevel() == "critical":
		return "critical: " + strings.Join(levelValues(m, "critical"), ", ")
	}
	return "ok"
}

// levelValues names a machine's health values at level: "gpu_temp 93 (≥ 90)", as the panel does.
func levelValues(m *pb.Status_Machine, level string) []string {
	var out []string
	for _, h := range m.GetHealth() {
		if h.GetLevel() != level {
			continue
		}
		op := "≥"
		if h.GetCritical() < h.GetWarning() {
			op = "≤"
		}
		out = append(out, fmt.Sprintf("%s %s (%s %s)", h.GetName(), value(h.GetValue()), op, value(h.GetCritical())))
	}
	return out
}

func feedsCell(fs []*pb.Feed) string {
	var parts []string
	for _, f := range fs {
		parts = append(parts, fmt.Sprintf("%s/%s→%s", f.GetMainInput(), f.GetBackupInput(), strings.Join(f.GetOutputs(), ",")))
	}
	return strings.Join(parts, " ")
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// FormatEvent is one event as a line (`standby ctl watch`).
func FormatEvent(e *pb.ControlEvent) string {
	ts := e.GetTime().AsTime().Local().Format("15:04:05.000")
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-13s", ts, e.GetKind())
	add := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	add("pair", e.GetPair())
	add("main", e.GetMain())
	add("machine", e.GetMachine())
	add("router", e.GetRouter())
	switch e.GetKind() {
	case "transition":
		fmt.Fprintf(&b, " %s → %s", e.GetFrom(), e.GetTo())
		add("trigger", e.GetTrigger())
		if e.GetSwitchMs() > 0 {
			fmt.Fprintf(&b, " switch_ms=%.3f", e.GetSwitchMs())
		}
	case "alarm", "alarm_cleared":
		add("alarm", e.GetAlarm())
	case "machine":
		add("failure", e.GetFailure())
		add("level", e.GetLevel())
	case "router":
		add("conn", e.GetConn())
	case "operator":
		add("operator", e.GetOperator())
		add("op", e.GetOp())
	case "action":
		add("action", e.GetAction())
		add("event", e.GetEvent())
		add("result", e.GetResult())
		fmt.Fprintf(&b, " duration_ms=%.3f", e.GetDurationMs())
	}
	if e.GetDetail() != "" {
		fmt.Fprintf(&b, " %q", e.GetDetail())
	}
	return b.String()
}

// writeActions lists the [[action]]s with their latest result.
func writeActions(w io.Writer, as []*pb.Status_Action) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "ACTION\tKIND\tON\tLAST\tEVENT\tPAIR\tMS\tRUNS ok/failed/timed_out/dropped\tQUEUED\tDETAIL")
	for _, a := range as {
		last, ms := a.GetResult(), ""
		if last == "" {
			last = "-"
		} else {
			ms = fmt.Sprintf("%.3f", a.GetDurationMs())
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d/%d/%d\t%d\t%s\n", a.GetName(), a.GetKind(), strings.Join(a.GetOn(), ","), last,
			a.GetEvent(), a.GetPair(), ms, a.GetOk(), a.GetFailed(), a.GetTimedOut(), a.GetDropped(), a.GetQueued(), a.GetDetail())
	}
}

// value is a health value as a person reads it: at most one decimal ("98", "93.5"), not
// float64's 17 digits ("cpu_load 98.00995024875621").
func value(v float64) string {
	return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
}
