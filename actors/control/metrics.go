package control

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"standby/actors/failover"
	"standby/actors/node"
	"standby/actors/router"
)

// latencyBuckets are the switch latency histogram's upper bounds, in seconds: a switch is a few
// milliseconds on a LAN; the confirm timeout is 500 ms by default.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// counters are the metrics that come from events; the rest are read at scrape time.
type counters struct {
	switches map[[2]string]uint64 // pair, trigger → confirmed switches
	failures map[string]uint64    // pair → switches not confirmed
	latency  map[string]*histogram
}

type histogram struct {
	buckets []uint64 // cumulative counts per latencyBuckets entry
	count   uint64
	sum     float64
}

func newCounters() counters {
	return counters{switches: map[[2]string]uint64{}, failures: map[string]uint64{}, latency: map[string]*histogram{}}
}

func (c *counters) switched(pairName, trigger string, latency time.Duration) {
	c.switches[[2]string{pairName, trigger}]++
	h := c.latency[pairName]
	if h == nil {
		h = &histogram{buckets: make([]uint64, len(latencyBuckets))}
		c.latency[pairName] = h
	}
	v := latency.Seconds()
	for i, le := range latencyBuckets {
		if v <= le {
			h.buckets[i]++
		}
	}
	h.count++
	h.sum += v
}

// writeMetrics writes the Prometheus text exposition (version 0.0.4).
func (s *Service) writeMetrics(w io.Writer) error {
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	sample := func(name string, value float64, labels ...string) {
		b.WriteString(name)
		if len(labels) > 0 {
			b.WriteByte('{')
			for i := 0; i+1 < len(labels); i += 2 {
				if i > 0 {
					b.WriteByte(',')
				}
				fmt.Fprintf(&b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
			}
			b.WriteByte('}')
		}
		b.WriteByte(' ')
		b.WriteString(strconv.FormatFloat(value, 'g', -1, 64))
		b.WriteByte('\n')
	}

	h := s.hub
	h.mu.Lock()
	family("standby_switches_total", "counter", "Switches confirmed by the router, by pair and trigger.")
	keys := make([][2]string, 0, len(h.metrics.switches))
	for k := range h.metrics.switches {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i][0]+"\x00"+keys[i][1] < keys[j][0]+"\x00"+keys[j][1] })
	for _, k := range keys {
		sample("standby_switches_total", float64(h.metrics.switches[k]), "pair", k[0], "trigger", k[1])
	}
	family("standby_switch_failures_total", "counter", "Switches the router refused or did not confirm, by pair.")
	for _, p := range sortedKeys(h.metrics.failures) {
		sample("standby_switch_failures_total", float64(h.metrics.failures[p]), "pair", p)
	}
	family("standby_switch_latency_seconds", "histogram", "Time from switch request to the router's confirmation.")
	for _, p := range sortedKeys(h.metrics.latency) {
		hist := h.metrics.latency[p]
		for i, le := range latencyBuckets {
			sample("standby_switch_latency_seconds_bucket", float64(hist.buckets[i]), "pair", p, "le", strconv.FormatFloat(le, 'g', -1, 64))
		}
		sample("standby_switch_latency_seconds_bucket", float64(hist.count), "pair", p, "le", "+Inf")
		sample("standby_switch_latency_seconds_sum", hist.sum, "pair", p)
		sample("standby_switch_latency_seconds_count", float64(hist.count), "pair", p)
	}
	h.mu.Unlock()

	cfg := s.sup.Config()
	now := s.clock.Now()
	snaps, err := s.sup.Machines()
	if err != nil {
		return err
	}
	family("standby_heartbeat_age_seconds", "gauge", "Time since each machine's last report (absent until its first).")
	for _, m := range cfg.Machines {
		if sn, ok := snaps[m.Name]; ok && !sn.LastSeen.IsZero() {
			sample("standby_heartbeat_age_seconds", now.Sub(sn.LastSeen).Seconds(), "machine", m.Name)
		}
	}
	family("standby_machine_up", "gauge", "1 when the machine reports and none of its services failed.")
	for _, m := range cfg.Machines {
		c := snaps[m.Name].Condition
		sample("standby_machine_up", boolValue(c.Known && c.Failure == failover.TriggerNone), "machine", m.Name)
	}
	family("standby_health_value", "gauge", "Latest health values reported by each machine.")
	for _, m := range cfg.Machines {
		for _, r := range snaps[m.Name].Health {
			if r.OK {
				sample("standby_health_value", r.Value, "machine", m.Name, "name", r.Name)
			}
		}
	}
	family("standby_health_level", "gauge", "Health level of each value: 0 normal, 1 warning, 2 critical.")
	for _, m := range cfg.Machines {
		levels := snaps[m.Name].Levels
		for _, n := range sortedKeys(levels) {
			sample("standby_health_level", float64(levels[n]), "machine", m.Name, "name", n)
		}
	}
	family("standby_router_connected", "gauge", "1 when the supervisor is connected to the router.")
	for _, r := range s.sup.Routers() {
		sample("standby_router_connected", boolValue(r.Conn == router.Connected), "router", r.Router)
	}
	views, err := s.sup.Pools()
	if err != nil {
		return err
	}
	family("standby_pair_on_backup", "gauge", "1 when the pair's backup is on air.")
	for _, v := range views {
		onBackup := false
		for _, sl := range v.Slots {
			onBackup = onBackup || sl.OnAir != sl.Main
		}
		sample("standby_pair_on_backup", boolValue(onBackup), "pair", v.Name)
	}
	family("standby_pair_automatic", "gauge", "1 when the pair fails over automatically.")
	for _, v := range views {
		sample("standby_pair_automatic", boolValue(v.Automatic), "pair", v.Name)
	}
	family("standby_alarms", "gauge", "Alarms shown (not yet acknowledged or still active), by pair and kind.")
	for _, v := range views {
		for _, sl := range v.Slots {
			for _, a := range sl.Alarms {
				sample("standby_alarms", 1, "pair", v.Name, "main", sl.Main, "kind", string(a.Kind))
			}
		}
	}
	family("standby_pool_covering", "gauge", "1 for each backup of a pool on air for a main (the allocation).")
	for _, v := range views {
		for _, b := range v.Backups {
			if b.Covering != "" && s.sup.Config().Pair(v.Name) == nil {
				sample("standby_pool_covering", 1, "pool", v.Name, "backup", b.Name, "main", b.Covering)
			}
		}
	}
	family("standby_pool_waiting", "gauge", "Mains of a pool waiting for a backup, by their place in the queue (1 = served first).")
	for _, v := range views {
		for i, m := range v.Queue {
			sample("standby_pool_waiting", float64(i+1), "pool", v.Name, "main", m)
		}
	}
	role := s.role()
	family("standby_supervisor_role", "gauge", "1 for this supervisor's role: standalone, primary or secondary.")
	for _, r := range []string{"standalone", "primary", "secondary"} {
		sample("standby_supervisor_role", boolValue(role.Name == r), "role", r)
	}
	active, term := s.sup.Role()
	family("standby_supervisor_active", "gauge", "1 when this supervisor drives the router (always, without a peer); 0 while standby.")
	sample("standby_supervisor_active", boolValue(active))
	family("standby_supervisor_term", "gauge", "The supervisor pair's term as this supervisor knows it (it increases with every takeover).")
	sample("standby_supervisor_term", float64(term))
	family("standby_links_authenticated", "gauge", "1 when the protoactor links are mutual TLS with the studio CA; 0: anyone on the network can forge a failover.")
	sample("standby_links_authenticated", boolValue(s.sup.LinksAuthenticated()))
	family("standby_remote_refused_total", "counter", "Inbound remote messages dropped because their sender may not send them, and refused TLS handshakes, by type and sender role.")
	refused := s.sup.RemoteRefusals()
	rkeys := make([]node.RefusalKey, 0, len(refused))
	for k := range refused {
		rkeys = append(rkeys, k)
	}
	sort.Slice(rkeys, func(i, j int) bool { return rkeys[i].Type+"\x00"+rkeys[i].Role < rkeys[j].Type+"\x00"+rkeys[j].Role })
	for _, k := range rkeys {
		sample("standby_remote_refused_total", float64(refused[k]), "type", k.Type, "role", k.Role)
	}
	if _, err = io.WriteString(w, b.String()); err != nil {
		return err
	}
	return s.writeActionMetrics(w)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// escapeLabel escapes a label value as the text format requires.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
