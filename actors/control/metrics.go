package control

import (
	stdlog "log"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"

	"standby/actors/failover"
	"standby/actors/node"
	"standby/actors/router"
	"standby/conf"
)

// latencyBuckets are the switch latency histogram's upper bounds, in seconds: a switch is a few
// milliseconds on a LAN; the confirm timeout is 500 ms by default.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5}

// eventMetrics are the counters and histograms that come from events, kept by the hub.
type eventMetrics struct {
	switches        *prometheus.CounterVec   // pair, trigger: confirmed switches
	failures        *prometheus.CounterVec   // pair: switches not confirmed
	latency         *prometheus.HistogramVec // pair
	alarms          *prometheus.CounterVec   // pair, kind: pool alarms raised
	machineAlarms   *prometheus.CounterVec   // machine, kind: a machine's own alarms raised
	machineFailures *prometheus.CounterVec   // machine, trigger: conditions turning failed
	overloaded      prometheus.Gauge         // 1 during an overload episode
	overloads       prometheus.Counter       // overload episodes
}

func newEventMetrics() *eventMetrics {
	return &eventMetrics{
		switches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "standby_switches_total",
			Help: "Switches confirmed by the router, by pair and trigger."}, []string{"pair", "trigger"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "standby_switch_failures_total",
			Help: "Switches the router refused or did not confirm, by pair."}, []string{"pair"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "standby_switch_latency_seconds",
			Help: "Time from switch request to the router's confirmation.", Buckets: latencyBuckets}, []string{"pair"}),
		alarms: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "standby_alarms_raised_total",
			Help: "Alarms raised by pairs and pools, by pair and kind."}, []string{"pair", "kind"}),
		machineAlarms: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "standby_machine_alarms_raised_total",
			Help: "A machine's own alarms raised (duplicate_agent), by machine and kind."}, []string{"machine", "kind"}),
		machineFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "standby_machine_failures_total",
			Help: "Times a machine's condition turned failed, by machine and trigger (engine, videoio, service, network)."},
			[]string{"machine", "trigger"}),
		overloaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "standby_supervisor_overloaded",
			Help: "1 while reports wait in the supervisor's queue longer than its bound (machines are excused, not declared silent)."}),
		overloads: prometheus.NewCounter(prometheus.CounterOpts{Name: "standby_supervisor_overloads_total",
			Help: "Episodes of the supervisor falling behind its agents' reports."}),
	}
}

func (m *eventMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.switches, m.failures, m.latency, m.alarms, m.machineAlarms, m.machineFailures, m.overloaded, m.overloads}
}

// transition counts a pool's transition: a switch confirmed or one that failed.
func (m *eventMetrics) transition(pairName string, t failover.Transition) {
	switch {
	case t.From == failover.SwitchingToBackup && t.To == failover.OnBackup, t.From == failover.SwitchingToMain && t.To == failover.OnMain:
		m.switches.WithLabelValues(pairName, string(t.Trigger)).Inc()
		m.latency.WithLabelValues(pairName).Observe(t.Latency.Seconds())
	case t.From == failover.SwitchingToBackup || t.From == failover.SwitchingToMain:
		m.failures.WithLabelValues(pairName).Inc()
	}
}

// stateCollector turns the hub's copy of the state (pool views, machine snapshots, as their
// actors published them) into the scrape-time gauges. A scrape asks no actor, so a stuck actor
// leaves its last published values instead of failing the scrape.
type stateCollector struct{ svc *Service }

var (
	descHeartbeatAge = prometheus.NewDesc("standby_heartbeat_age_seconds",
		"Time since each machine's last report (absent until its first; lags at most 1 s while reports come).", []string{"machine"}, nil)
	descReports = prometheus.NewDesc("standby_reports_total",
		"Reports of each machine's agent applied (a restarted machine actor resumes from its last saved count).", []string{"machine"}, nil)
	descMachineUp = prometheus.NewDesc("standby_machine_up",
		"1 when the machine reports and none of its services failed.", []string{"machine"}, nil)
	descHealthValue = prometheus.NewDesc("standby_health_value",
		"Latest health values reported by each machine.", []string{"machine", "name"}, nil)
	descHealthLevel = prometheus.NewDesc("standby_health_level",
		"Health level of each value: 0 normal, 1 warning, 2 critical.", []string{"machine", "name"}, nil)
	descRouterConnected = prometheus.NewDesc("standby_router_connected",
		"1 when the supervisor is connected to the router.", []string{"router"}, nil)
	descOnBackup = prometheus.NewDesc("standby_pair_on_backup",
		"1 when the pair's backup is on air (a pool: any backup on air).", []string{"pair"}, nil)
	descAutomatic = prometheus.NewDesc("standby_pair_automatic",
		"1 when the pair fails over automatically.", []string{"pair"}, nil)
	descAlarms = prometheus.NewDesc("standby_alarms",
		"Alarms shown (not yet acknowledged or still active), by pair, main and kind.", []string{"pair", "main", "kind"}, nil)
	descCovering = prometheus.NewDesc("standby_pool_covering",
		"1 for each backup of a pool on air for a main (the allocation).", []string{"pool", "backup", "main"}, nil)
	descWaiting = prometheus.NewDesc("standby_pool_waiting",
		"Mains of a pool waiting for a backup, by their place in the queue (1 = served first).", []string{"pool", "main"}, nil)
	descRole = prometheus.NewDesc("standby_supervisor_role",
		"1 for this supervisor's role: standalone, primary or secondary.", []string{"role"}, nil)
	descActive = prometheus.NewDesc("standby_supervisor_active",
		"1 when this supervisor drives the router (always, without a peer); 0 while standby.", nil, nil)
	descTerm = prometheus.NewDesc("standby_supervisor_term",
		"The supervisor pair's term as this supervisor knows it (it increases with every takeover).", nil, nil)
	descLinksAuth = prometheus.NewDesc("standby_links_authenticated",
		"1 when the protoactor links are mutual TLS with the studio CA; 0: anyone on the network can forge a failover.", nil, nil)
	descGatewayReports = prometheus.NewDesc("standby_agent_reports_handled_total",
		"Agents' reports the supervisor's gateway handled (a batch counts its reports): the rate it serves.", nil, nil)
	descGatewayWaiting = prometheus.NewDesc("standby_agent_reports_waiting",
		"Agents' reports waiting in the gateway's queue.", nil, nil)
	descGatewayShed = prometheus.NewDesc("standby_agent_reports_shed_total",
		"Agents' reports dropped from the gateway's full queue, by kind: heartbeat (past its bound) or change (past its limit).",
		[]string{"kind"}, nil)
	descRefused = prometheus.NewDesc("standby_remote_refused_total",
		"Inbound remote messages dropped because their sender may not send them, and refused TLS handshakes, by type and sender role.",
		[]string{"type", "role"}, nil)
)

func (stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descHeartbeatAge, descReports, descMachineUp, descHealthValue, descHealthLevel,
		descRouterConnected, descOnBackup, descAutomatic, descAlarms, descCovering, descWaiting, descRole, descActive,
		descTerm, descLinksAuth, descRefused, descGatewayReports, descGatewayWaiting, descGatewayShed} {
		ch <- d
	}
}

func (c stateCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.svc
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	cfg := s.sup.Config()
	now := s.clock.Now()
	snaps, views := s.hub.state()
	for _, m := range cfg.Machines {
		sn := snaps[m.Name]
		if !sn.LastSeen.IsZero() {
			gauge(descHeartbeatAge, max(now.Sub(sn.LastSeen), 0).Seconds(), m.Name)
		}
		ch <- prometheus.MustNewConstMetric(descReports, prometheus.CounterValue, float64(sn.Reports), m.Name)
		gauge(descMachineUp, boolValue(sn.Condition.Known && sn.Condition.Failure == failover.TriggerNone), m.Name)
		for _, r := range sn.Health {
			if r.OK {
				gauge(descHealthValue, r.Value, m.Name, r.Name)
			}
		}
		for _, n := range sortedKeys(sn.Levels) {
			gauge(descHealthLevel, float64(sn.Levels[n]), m.Name, n)
		}
	}
	for _, r := range s.sup.Routers() {
		gauge(descRouterConnected, boolValue(r.Conn == router.Connected), r.Router)
	}
	for _, e := range s.sup.PoolEntries() {
		v, ok := views[e.Name]
		if !ok {
			continue // not heard from yet
		}
		onBackup := false
		for _, sl := range v.Slots {
			onBackup = onBackup || sl.OnAir != sl.Main
			for _, a := range sl.Alarms {
				gauge(descAlarms, 1, v.Name, sl.Main, string(a.Kind))
			}
		}
		gauge(descOnBackup, boolValue(onBackup), v.Name)
		gauge(descAutomatic, boolValue(v.Automatic), v.Name)
		if !e.Pair {
			for _, b := range v.Backups {
				if b.Covering != "" {
					gauge(descCovering, 1, v.Name, b.Name, b.Covering)
				}
			}
			for i, m := range v.Queue {
				gauge(descWaiting, float64(i+1), v.Name, m)
			}
		}
	}
	role := s.metricsRole(cfg)
	for _, r := range []string{"standalone", "primary", "secondary"} {
		gauge(descRole, boolValue(role == r), r)
	}
	active, term := s.sup.Role()
	gauge(descActive, boolValue(active))
	gauge(descTerm, float64(term))
	gauge(descLinksAuth, boolValue(s.sup.LinksAuthenticated()))
	q := s.sup.Reports()
	ch <- prometheus.MustNewConstMetric(descGatewayReports, prometheus.CounterValue, float64(q.Handled()))
	gauge(descGatewayWaiting, float64(max(q.Waiting(), 0)))
	heartbeats, changes := q.Shed()
	ch <- prometheus.MustNewConstMetric(descGatewayShed, prometheus.CounterValue, float64(heartbeats), "heartbeat")
	ch <- prometheus.MustNewConstMetric(descGatewayShed, prometheus.CounterValue, float64(changes), "change")
	refused := s.sup.RemoteRefusals()
	rkeys := make([]node.RefusalKey, 0, len(refused))
	for k := range refused {
		rkeys = append(rkeys, k)
	}
	sort.Slice(rkeys, func(i, j int) bool { return rkeys[i].Type+"\x00"+rkeys[i].Role < rkeys[j].Type+"\x00"+rkeys[j].Role })
	for _, k := range rkeys {
		ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(refused[k]), k.Type, k.Role)
	}
}

// metricsRole is the role's name without asking the sync link: a paired supervisor's role name
// is its [redundancy] mode; without a peer it is the control surfaces' Role (Standalone unless a
// test says otherwise).
func (s *Service) metricsRole(cfg *conf.Config) string {
	if cfg.Redundancy.Paired() {
		if cfg.Redundancy.Mode == conf.RedundancyPrimary {
			return "primary"
		}
		return "secondary"
	}
	return s.role().Name
}

// newRegistry is the registry behind /metrics: the hub's event metrics, the state collector, the
// config's reload state, and the Go runtime and process collectors.
func newRegistry(s *Service, cs *ConfigState) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "standby_build_info",
		Help: "Always 1; version is the standby binary's (standby version).", ConstLabels: prometheus.Labels{"version": s.version}},
		func() float64 { return 1 }))
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		stateCollector{svc: s}, configCollector{cs: cs}, actionCollector{svc: s})
	reg.MustRegister(s.hub.metrics.collectors()...)
	return reg
}

// metricsHandler serves the registry in the Prometheus text (or OpenMetrics, when asked) format.
func metricsHandler(reg *prometheus.Registry, log zerolog.Logger) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      stdlog.New(log.Level(zerolog.WarnLevel), "metrics: ", 0),
		ErrorHandling: promhttp.ContinueOnError, // a broken collector leaves its metrics out, not the scrape
		Timeout:       10 * time.Second,
	})
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
