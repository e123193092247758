package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"standby/protocol/videohub/vhsim"
)

// pairOfSupervisors is a studio with two supervisors (primary A, secondary-failover B) sharing
// the simulator, and agents reporting to both.
type pairOfSupervisors struct {
	*studio
	addrA, addrB string
	cfgA, cfgB   string
	agentListen  string
}

const redundantBody = `
[[operator]]
name = "eng"
token = "engineer-token"
level = 3
[[machine]]
name = "m1"
[[machine]]
name = "b1"
[[pair]]
name = "cam1"
router = "hub1"
main = "m1"
backup = "b1"
failback = "automatic"
failback_after = "300ms"
[[pair.feed]]
main_input = 1
backup_input = 2
outputs = [1, 3]
`

func newPairOfSupervisors(t *testing.T) *pairOfSupervisors {
	t.Helper()
	return newPairAt(t, newStudio(t, "", 8), freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1"), "127.0.0.1:0")
}

// newPairAt is newPairOfSupervisors with the supervisors' listen addresses and the address the
// agents listen on given.
func newPairAt(t *testing.T, st *studio, addrA, addrB, agentListen string) *pairOfSupervisors {
	t.Helper()
	p := &pairOfSupervisors{studio: st, addrA: addrA, addrB: addrB, agentListen: agentListen}
	if err := p.hub.SetRoute(2, 0); err != nil {
		t.Fatal(err)
	}
	write := func(name, listen, peer, mode string) string {
		cfg := fmt.Sprintf(`
[supervisor]
name = %q
listen = %q
http = "127.0.0.1:0"
state_dir = %q
heartbeat_timeout = "250ms"
agent_token = %q
flap_max = 100 # the random test fails over and back every step
[redundancy]
mode = %q
peer = %q
failover_offset = "500ms"
sync_interval = "25ms"
[[router]]
name = "hub1"
address = %q
ping_interval = "200ms"
`, name, listen, filepath.Join(p.dir, name+"-state"), procToken, mode, peer, p.hub.Addr()) + redundantBody
		path := filepath.Join(p.dir, name+".toml")
		if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.cfgA = write("studio-a", p.addrA, p.addrB, "primary")
	p.cfgB = write("studio-b", p.addrB, p.addrA, "secondary-failover")
	return p
}

func (p *pairOfSupervisors) start(t *testing.T, name, cfg string, wrap ...string) *proc {
	t.Helper()
	sp := startProc(t, name, append(append([]string(nil), wrap...), p.bin, "run", "--config", cfg, "--log-level", "info")...)
	sp.waitLog(10*time.Second, map[string]string{"message": "standby running"})
	return sp
}

// agent starts machine name's agent reporting to both supervisors.
func (p *pairOfSupervisors) agent(t *testing.T, name string) *proc {
	t.Helper()
	cfg := fmt.Sprintf(`
name = %q
supervisors = [%q, %q]
listen = %q
token = %q
heartbeat_interval = "25ms"
[[service]]
name = "engine"
kind = "process"
pidfile = %q
`, name, p.addrA, p.addrB, p.agentListen, procToken, filepath.Join(p.dir, name+".pid"))
	path := filepath.Join(p.dir, name+"-agent.toml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return startProc(t, "agent "+name, p.bin, "agent", "--config", path)
}

// TestProcessesSupervisorTakeover: a primary and a secondary-failover supervisor with agents
// reporting to both. The primary becomes active and arms the pair; the secondary is Synced and
// standby. kill -9 of the primary: the secondary becomes active after failover_offset (the agents
// confirm they lost it too) without touching the router, then handles a main failure. The primary
// restarts: it takes control back (automatic failback) without any crosspoint change.
func TestProcessesSupervisorTakeover(t *testing.T) {
	p := newPairOfSupervisors(t)
	mainEngine := engine(t, filepath.Join(p.dir, "m1.pid"))
	engine(t, filepath.Join(p.dir, "b1.pid"))
	supA := p.start(t, "primary", p.cfgA)
	supB := p.start(t, "secondary", p.cfgB)
	p.agent(t, "m1")
	p.agent(t, "b1")
	supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	supB.waitLog(10*time.Second, map[string]string{"message": "sync link", "status": "Synced"})
	p.waitRoute(t, 0) // the pair arms on its main on both sides (a standby one follows too)

	killed := time.Now()
	if err := supA.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	t.Logf("kill -9 of the primary → secondary active: %s (failover_offset 500ms)", time.Since(killed))
	if r := p.hub.State().Routes; r[0] != 0 || r[2] != 0 {
		t.Fatalf("the takeover moved the router: %v", r)
	}

	crashed := time.Now()
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitRoute(t, 1)
	t.Logf("then kill -9 of the main's engine → router on the backup: %s", time.Since(crashed))
	supB.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})

	// The primary returns: it hands back through a moment with nobody active and routes nothing.
	supA2 := p.start(t, "primary again", p.cfgA)
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now standby"})
	supA2.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	if err := p.hub.WaitRoute(ctx, 0, 0); err == nil {
		t.Fatal("the failback of the supervisor put the dead main back on air")
	}
	if r := p.hub.State().Routes; r[0] != 1 || r[2] != 1 {
		t.Fatalf("routes after the primary returned: %v, want the backup (input 2) on outputs 1 and 3", r)
	}

	// Make primary on the secondary: the primary hands over, and does not take it back by itself.
	out, err := exec.Command(p.bin, "ctl", "--supervisor", p.addrB, "--token", "engineer-token", "make-primary").CombinedOutput()
	if err != nil {
		t.Fatalf("standby ctl make-primary: %v\n%s", err, out)
	}
	t.Logf("ctl make-primary: %s", strings.TrimSpace(string(out)))
	supA2.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now standby"})
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	supA2.noLine(time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	if r := p.hub.State().Routes; r[0] != 1 || r[2] != 1 {
		t.Fatalf("routes after Make primary: %v", r)
	}
}

// noLine fails when p logs a line with want within d: a window in which something must not
// happen (nothing signals its absence).
func (p *proc) noLine(d time.Duration, want map[string]string) {
	p.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case m := <-p.lines:
			ok := true
			for k, v := range want {
				ok = ok && fmt.Sprint(m[k]) == v
			}
			if ok {
				p.t.Fatalf("%s logged %v within %s: %v", p.name, want, d, m)
			}
		case <-deadline:
			return
		}
	}
}

// partitionLab is a pair of supervisors with the primary in its own network namespace (a veth
// pair to the host) and everything else on further addresses of the host, so blackhole routes
// inside the namespace and a port rule on the host cut exactly the links wanted while the
// processes keep running and the primary keeps its router connection. It skips where network
// namespaces are not available.
type partitionLab struct {
	*pairOfSupervisors
	cut, heal               func(addrs ...string)
	cutInbound, healInbound func()
	second, agents          string // addresses to cut: the secondary's, the agents'
	supA, supB              *proc
	mainEngine              *exec.Cmd // the main's engine; restart it with engine(t, mainPidfile)
	mainPidfile             string
}

const (
	labHostSide = "10.233.1.1"
	labPrimary  = "10.233.1.2" // in the namespace
	labAgents   = "10.233.3.1" // more addresses of the host, reached from the namespace by its default route
	labRouter   = "10.233.4.1"
	labSecond   = "10.233.5.1"
)

func newPartitionLab(t *testing.T) *partitionLab {
	if os.Geteuid() != 0 {
		noNetns(t, "network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		noNetns(t, "network namespaces need iproute2's ip command")
	}
	id := os.Getpid() % 100000
	ns, vh, vn := fmt.Sprintf("standby-pair-%d", id), fmt.Sprintf("sph%d", id), fmt.Sprintf("spn%d", id)
	ip := func(args ...string) error {
		out, err := exec.Command("ip", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return nil
	}
	if err := ip("netns", "add", ns); err != nil {
		noNetns(t, "network namespaces unavailable here: %v", err)
	}
	t.Cleanup(func() { _ = ip("link", "del", vh); _ = ip("netns", "del", ns) })
	hostSide, primary, agents, router, second := labHostSide, labPrimary, labAgents, labRouter, labSecond
	for _, args := range [][]string{
		{"link", "add", vh, "type", "veth", "peer", "name", vn},
		{"link", "set", vn, "netns", ns},
		{"addr", "add", hostSide + "/24", "dev", vh},
		{"link", "set", vh, "up"},
		{"addr", "add", agents + "/32", "dev", vh},
		{"addr", "add", router + "/32", "dev", vh},
		{"addr", "add", second + "/32", "dev", vh},
		{"-n", ns, "addr", "add", primary + "/24", "dev", vn},
		{"-n", ns, "link", "set", vn, "up"},
		{"-n", ns, "link", "set", "lo", "up"},
		{"-n", ns, "route", "add", "default", "via", hostSide},
	} {
		if err := ip(args...); err != nil {
			t.Fatal(err)
		}
	}
	// cut makes the namespace route nothing to the addresses (what the primary sends them is
	// lost); inbound, connections made by others to the primary's listen port are dropped by the
	// host (a policy rule on the destination port, so the primary's own connection to the router
	// is untouched). Processes on the host dial from the host's veth address, so inbound cannot
	// be cut per peer: the sync-link-only cut is the primary's direction.
	cut := func(addrs ...string) {
		for _, a := range addrs {
			if err := ip("-n", ns, "route", "add", "blackhole", a+"/32"); err != nil {
				t.Fatal(err)
			}
		}
	}
	heal := func(addrs ...string) {
		for _, a := range addrs {
			if err := ip("-n", ns, "route", "del", "blackhole", a+"/32"); err != nil {
				t.Fatal(err)
			}
		}
	}
	inbound := []string{"to", primary, "ipproto", "tcp", "dport", "7400", "blackhole"}
	cutInbound := func() {
		if err := ip(append([]string{"rule", "add"}, inbound...)...); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ip(append([]string{"rule", "del"}, inbound...)...) })
	}
	healInbound := func() {
		if err := ip(append([]string{"rule", "del"}, inbound...)...); err != nil {
			t.Fatal(err)
		}
	}

	st := &studio{dir: t.TempDir(), bin: standbyBinary(t)}
	hub, err := vhsim.Start(vhsim.Options{Listen: router + ":0", Inputs: 8, Outputs: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hub.Close() })
	st.hub = hub
	p := newPairAt(t, st, primary+":7400", freePort(t, second), agents+":0")
	l := &partitionLab{pairOfSupervisors: p, cut: cut, heal: heal, cutInbound: cutInbound, healInbound: healInbound,
		second: second, agents: agents, mainPidfile: filepath.Join(p.dir, "m1.pid")}
	l.mainEngine = engine(t, l.mainPidfile)
	engine(t, filepath.Join(p.dir, "b1.pid"))
	l.supA = p.start(t, "primary", p.cfgA, "ip", "netns", "exec", ns)
	l.supB = p.start(t, "secondary", p.cfgB)
	p.agent(t, "m1")
	p.agent(t, "b1")
	l.supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	l.supB.waitLog(10*time.Second, map[string]string{"message": "sync link", "status": "Synced"})
	p.waitRoute(t, 0)
	return l
}

// TestProcessesSupervisorPartitions cuts links of a running pair (see partitionLab):
//   - only the sync link: the agents still hear the primary, so the secondary stays standby and
//     the primary stays active;
//   - the primary isolated from its agents and the secondary: it steps down (its machines only
//     look silent) and the secondary, whose agents lost the primary too, takes over and handles
//     a main failure;
//   - healed: exactly one active (the primary takes control back), nothing re-routed.
func TestProcessesSupervisorPartitions(t *testing.T) {
	l := newPartitionLab(t)
	p, supA, supB, cut, heal, second, agents := l.pairOfSupervisors, l.supA, l.supB, l.cut, l.heal, l.second, l.agents
	cutInbound, healInbound := l.cutInbound, l.healInbound
	// 1. Only the sync link (the primary's beats to the secondary are lost).
	cut(second)
	supB.waitLog(5*time.Second, map[string]string{"message": "sync link", "status": "Unavailable"})
	supB.noLine(2*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	supA.noLine(100*time.Millisecond, map[string]string{"message": "this supervisor is now standby"})
	heal(second)
	supB.waitLog(15*time.Second, map[string]string{"message": "sync link", "status": "Synced"})

	// 2. The primary isolated from its agents and the secondary (not from the router).
	cut(second, agents)
	cutInbound()
	supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now standby"}) // isolated
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	if r := p.hub.State().Routes; r[0] != 0 || r[2] != 0 {
		t.Fatalf("the takeover moved the router: %v", r)
	}
	if err := l.mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitRoute(t, 1)
	supB.waitLog(5*time.Second, map[string]string{"message": "pair transition", "to": "on-backup", "trigger": "engine"})

	// 3. Healed: the primary learns the higher term and takes control back; nothing re-routed.
	heal(second, agents)
	healInbound()
	supB.waitLog(20*time.Second, map[string]string{"message": "this supervisor is now standby"})
	supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	supB.noLine(time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	if r := p.hub.State().Routes; r[0] != 1 || r[2] != 1 {
		t.Fatalf("routes after healing: %v, want the backup (input 2) on outputs 1 and 3", r)
	}
}

// TestProcessesBothPrimary: two supervisors configured primary are Incompatible; neither routes,
// and both say why.
func TestProcessesBothPrimary(t *testing.T) {
	p := newPairOfSupervisors(t)
	b, err := os.ReadFile(p.cfgB)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cfgB, []byte(strings.Replace(string(b), `mode = "secondary-failover"`, `mode = "primary"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	engine(t, filepath.Join(p.dir, "m1.pid"))
	engine(t, filepath.Join(p.dir, "b1.pid"))
	supA := p.start(t, "primary a", p.cfgA)
	supB := p.start(t, "primary b", p.cfgB)
	p.agent(t, "m1")
	p.agent(t, "b1")
	for _, sp := range []*proc{supA, supB} {
		l := sp.sawLog(10*time.Second, map[string]string{"message": "sync link", "status": "Incompatible"})
		if !strings.Contains(fmt.Sprint(l["detail"]), "both supervisors are configured primary") {
			t.Errorf("%s: %v", sp.name, l)
		}
	}
	supA.noLine(2*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	supB.noLine(100*time.Millisecond, map[string]string{"message": "this supervisor is now ACTIVE"})
}

// TestProcessesSupervisorRandomPartitions drives a partitionLab through random steps (bounded in
// count and time; the seed is logged, STANDBY_SEED replays one): each step cuts the sync link
// only, isolates the primary, or heals, lets the pair settle, then kills or restarts the main's
// engine so that whoever is active must route (failover, automatic failback). After every step
// the simulator's own log of routing commands must show at most one supervisor (by the IP its
// connection comes from) sending routing commands in that step's window.
func TestProcessesSupervisorRandomPartitions(t *testing.T) {
	l := newPartitionLab(t)
	seed := time.Now().UnixNano()
	if v := os.Getenv("STANDBY_SEED"); v != "" {
		fmt.Sscan(v, &seed)
	}
	t.Logf("seed %d (STANDBY_SEED=%d replays it)", seed, seed)
	rng := rand.New(rand.NewSource(seed))
	const steps, budget = 8, 60 * time.Second
	// settle covers a takeover (failover_offset 500 ms) and the handover back; window covers a
	// switch and the pair's failback_after (300 ms).
	const settle, window = 1200 * time.Millisecond, 900 * time.Millisecond
	start := time.Now()
	cutSync, isolated := false, false
	engineUp := true
	for i := 0; i < steps && time.Since(start) < budget; i++ {
		var what string
		switch r := rng.Intn(3); {
		case r == 0 && !cutSync:
			l.cut(l.second)
			cutSync, what = true, "cut the sync link"
		case r == 1 && !isolated:
			if !cutSync {
				l.cut(l.second)
			}
			l.cut(l.agents)
			l.cutInbound()
			cutSync, isolated, what = true, true, "isolate the primary"
		default:
			if isolated {
				l.heal(l.agents)
				l.healInbound()
			}
			if cutSync {
				l.heal(l.second)
			}
			cutSync, isolated, what = false, false, "heal"
		}
		time.Sleep(settle) // a window in which the pair settles: nothing marks "settled"
		from := time.Now()
		if engineUp {
			if err := l.mainEngine.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			what += ", kill the main's engine"
		} else {
			l.mainEngine = engine(t, l.mainPidfile)
			what += ", restart the main's engine"
		}
		engineUp = !engineUp
		time.Sleep(window) // the step's observation window: who routes in it
		senders := map[string]int{}
		for _, c := range l.hub.Commands() {
			if !c.At.Before(from) {
				senders[c.From]++
			}
		}
		t.Logf("step %d: %s: routing commands by sender %v", i+1, what, senders)
		if len(senders) > 1 {
			t.Fatalf("step %d (%s, seed %d): two supervisors routed in one window: %v", i+1, what, seed, senders)
		}
	}
}

// TestProcessesSupervisorStateSync: what the operators set on the active supervisor reaches the
// standby one over the sync link: mode manual set on the primary holds on the secondary after a
// takeover (a main failure there raises on_air_failed and switches nothing).
func TestProcessesSupervisorStateSync(t *testing.T) {
	p := newPairOfSupervisors(t)
	mainEngine := engine(t, filepath.Join(p.dir, "m1.pid"))
	engine(t, filepath.Join(p.dir, "b1.pid"))
	supA := p.start(t, "primary", p.cfgA)
	supB := p.start(t, "secondary", p.cfgB)
	p.agent(t, "m1")
	p.agent(t, "b1")
	supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	p.waitRoute(t, 0)
	ctl := func(addr string, args ...string) string {
		t.Helper()
		out, err := exec.Command(p.bin, append([]string{"ctl", "--supervisor", addr, "--token", "engineer-token"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("standby ctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	waitB := func(what string, ok func(status string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for st := ctl(p.addrB, "--json", "status"); !ok(st); st = ctl(p.addrB, "--json", "status") {
			if time.Now().After(deadline) {
				t.Fatalf("the secondary never showed %s: %s", what, st)
			}
			time.Sleep(50 * time.Millisecond) // polling another process's status: nothing signals it
		}
	}
	ctl(p.addrA, "mode", "cam1", "manual")
	waitB("the mode set on the primary", func(st string) bool { return strings.Contains(st, `"mode":"manual"`) })
	// A failure in manual mode raises on_air_failed on the primary; the acknowledgement made there
	// reaches the secondary and survives the takeover.
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	supA.waitLog(5*time.Second, map[string]string{"alarm": "on_air_failed"})
	ctl(p.addrA, "ack", "cam1", "on_air_failed")
	acked := func(st string) bool {
		var reply struct {
			Status struct {
				Pairs []struct {
					Alarms []struct {
						Kind          string
						Active, Acked bool
					}
				}
			}
		}
		if err := json.Unmarshal([]byte(st), &reply); err != nil || len(reply.Status.Pairs) == 0 {
			return false
		}
		for _, a := range reply.Status.Pairs[0].Alarms {
			if a.Kind == "on_air_failed" && a.Active && a.Acked {
				return true
			}
		}
		return false
	}
	waitB("the primary's alarm, acknowledged", acked)
	if err := supA.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	if st := ctl(p.addrB, "--json", "status"); !acked(st) {
		t.Fatalf("after the takeover the acknowledgement is lost: %s", st)
	}
	if r := p.hub.State().Routes; r[0] != 0 || r[2] != 0 {
		t.Fatalf("manual mode, yet the secondary switched: %v", r)
	}
}

// TestProcessesSecondaryGetsStudio: the secondary's file holds only [supervisor] and [redundancy];
// routers, machines, pairs and operators come from the primary over the sync link. Once synced it
// knows the studio (its operators' tokens work on it), counts the agents as witnesses, and after
// kill -9 of the primary it takes over and fails a dead main over, without a studio of its own.
func TestProcessesSecondaryGetsStudio(t *testing.T) {
	p := newPairOfSupervisors(t)
	minimal := fmt.Sprintf(`
[supervisor]
name = "studio-b"
listen = %q
http = "127.0.0.1:0"
state_dir = %q
heartbeat_timeout = "250ms"
agent_token = %q
[redundancy]
mode = "secondary-failover"
peer = %q
failover_offset = "500ms"
sync_interval = "25ms"
`, p.addrB, filepath.Join(p.dir, "studio-b-state"), procToken, p.addrA)
	if err := os.WriteFile(p.cfgB, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	mainEngine := engine(t, filepath.Join(p.dir, "m1.pid"))
	engine(t, filepath.Join(p.dir, "b1.pid"))
	supA := p.start(t, "primary", p.cfgA)
	supB := p.start(t, "secondary", p.cfgB)
	p.agent(t, "m1")
	p.agent(t, "b1")
	supA.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	p.waitRoute(t, 0)
	supB.waitLog(10*time.Second, map[string]string{"message": "witnesses: agents of the studio", "agents": "2"})
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := exec.Command(p.bin, "ctl", "--supervisor", p.addrB, "--token", "engineer-token", "--json", "status").CombinedOutput()
		if err == nil && strings.Contains(string(out), `"name":"cam1"`) && strings.Contains(string(out), `"Synced"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the secondary never showed the primary's studio, synced: %v\n%s", err, out)
		}
		time.Sleep(50 * time.Millisecond) // polling another process's status: nothing signals it
	}
	if err := supA.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	supB.waitLog(10*time.Second, map[string]string{"message": "this supervisor is now ACTIVE"})
	if err := mainEngine.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	p.waitRoute(t, 1)
}
