package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"standby/conf"
	"standby/protocol/identity"
)

func TestPairGeometry(t *testing.T) {
	for _, tc := range []struct {
		i                         int
		router, out, main, backup int
	}{
		{0, 0, 0, 0, 1},
		{1, 0, 1, 2, 3},
		{143, 0, 143, 286, 287},
		{144, 1, 0, 0, 1},
		{999, 6, 135, 270, 271},
	} {
		p := pairAt(tc.i)
		if p.router != tc.router || p.out != tc.out || p.mainIn != tc.main || p.backupIn != tc.backup {
			t.Errorf("pairAt(%d) = %+v", tc.i, p)
		}
	}
	if n := routerCount(1000); n != 7 {
		t.Errorf("routerCount(1000) = %d", n)
	}
	if in, out := routerSize(6, 1000); in != 2*(1000-6*144) || out != 1000-6*144 {
		t.Errorf("routerSize(6, 1000) = %d, %d", in, out)
	}
	if in, out := routerSize(0, 1); in != 2 || out != 1 {
		t.Errorf("routerSize(0, 1) = %d, %d", in, out)
	}
}

func TestSupervisorTOMLIsValid(t *testing.T) {
	for _, pairs := range []int{1, 3, 300} {
		t.Run(fmt.Sprint(pairs), func(t *testing.T) {
			routers := make([]string, routerCount(pairs))
			for i := range routers {
				routers[i] = fmt.Sprintf("127.0.0.1:%d", 9990+i)
			}
			text := supervisorTOML(supConfig{pairs: pairs, simulated: func(i int) bool { return i > 0 }, routers: routers,
				http: "127.0.0.1:7480", stateDir: t.TempDir(), heartbeatTimeout: 250 * time.Millisecond, agentToken: secret(),
				operatorToken: secret(), failbackAfter: 100 * time.Millisecond, pingInterval: time.Second})
			cfg, err := conf.Parse([]byte(text + benchTLSTable(t)))
			if err != nil {
				t.Fatalf("generated config is invalid: %v\n%s", err, text)
			}
			if len(cfg.Pairs) != pairs || len(cfg.Machines) != 2*pairs || len(cfg.Routers) != len(routers) {
				t.Errorf("%d pairs, %d machines, %d routers", len(cfg.Pairs), len(cfg.Machines), len(cfg.Routers))
			}
			p := cfg.Pairs[len(cfg.Pairs)-1]
			if p.Failback != conf.ModeAutomatic || !p.SwitchOnCritical || p.FailbackAfter.Duration != 100*time.Millisecond {
				t.Errorf("pair policy: %+v", p)
			}
			if cfg.Machines[0].Simulated || (pairs > 1 && !cfg.Machines[2].Simulated) {
				t.Error("simulated flags not as asked")
			}
			if w := cfg.Warnings(); len(w) != 0 {
				t.Errorf("warnings: %v", w)
			}
		})
	}
}

func TestSupervisorTOMLPool(t *testing.T) {
	text := supervisorTOML(supConfig{pairs: 1, simulated: func(int) bool { return false }, routers: []string{"127.0.0.1:9990"},
		http: "127.0.0.1:7480", stateDir: t.TempDir(), heartbeatTimeout: 250 * time.Millisecond, agentToken: secret(),
		operatorToken: secret(), failbackAfter: 100 * time.Millisecond, pingInterval: time.Second, poolRouter: "127.0.0.1:9991"})
	cfg, err := conf.Parse([]byte(text + benchTLSTable(t)))
	if err != nil {
		t.Fatalf("generated config is invalid: %v\n%s", err, text)
	}
	if len(cfg.Pools) != 1 || len(cfg.Routers) != 2 || len(cfg.Machines) != 2+poolMains+poolBackups {
		t.Fatalf("%d pools, %d routers, %d machines", len(cfg.Pools), len(cfg.Routers), len(cfg.Machines))
	}
	p := cfg.Pools[0]
	if p.Name != poolName || p.Router != poolRouterName || len(p.Mains) != poolMains || len(p.Backups) != poolBackups ||
		p.Mode != conf.ModeAutomatic || p.Failback != conf.ModeAutomatic || p.FailbackAfter.Duration != 100*time.Millisecond {
		t.Errorf("pool: %+v", p)
	}
	if w := cfg.Warnings(); len(w) != 0 {
		t.Errorf("warnings: %v", w)
	}
	var spec *conf.PoolSpec
	for _, sp := range cfg.PoolSpecs() {
		if sp.Name == poolName {
			spec = &sp
		}
	}
	if spec == nil || len(spec.Mains) != poolMains {
		t.Fatalf("no pool spec for %s: %+v", poolName, cfg.PoolSpecs())
	}
	for k, m := range spec.Mains {
		if m.Name != poolMain(k) || len(m.Feeds) != 1 || m.Feeds[0].Role != "pgm" {
			t.Errorf("main %d: %+v", k, m)
		}
	}
	if !isPoolBackupInput(poolMains) || !isPoolBackupInput(poolMains+poolBackups-1) || isPoolBackupInput(poolMains-1) ||
		isPoolBackupInput(poolMains+poolBackups) {
		t.Error("isPoolBackupInput")
	}
}

func TestAgentTOMLIsValid(t *testing.T) {
	text := agentTOML(agentConfig{machine: "pair0-main", supervisors: []string{"127.0.0.1:7400", "127.0.0.1:7410"}, listen: "127.0.0.1:7401",
		token: secret(), interval: 20 * time.Millisecond, pidfile: "/tmp/x.pid"})
	a, err := conf.ParseAgent([]byte(text))
	if err != nil {
		t.Fatalf("generated agent config is invalid: %v\n%s", err, text)
	}
	if a.HeartbeatInterval.Duration != 20*time.Millisecond || len(a.Services) != 1 || a.Services[0].Kind != conf.KindProcess ||
		len(a.Health) != 1 || a.Health[0].HealthKind() != conf.HealthSim {
		t.Errorf("agent config: %+v", a)
	}
	if !strings.Contains(text, `pidfile = "/tmp/x.pid"`) {
		t.Error("pidfile missing")
	}
}

// benchTLSTable is the [tls] table a setup adds to its supervisor's config.
func benchTLSTable(t *testing.T) string {
	t.Helper()
	b, err := newBenchTLS(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	tbl, err := b.table(identity.RoleSupervisor, "bench-supervisor")
	if err != nil {
		t.Fatal(err)
	}
	return tbl
}
