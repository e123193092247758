package control

import (
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"standby/protocol/pb"
)

// poolStudio: three simulated mains sharing two spares (spare-2 lacking the key role) on an
// in-process Videohub simulator; manual mode, so only operators move things.
func poolStudio(dir string) string {
	head := studio(dir)
	head = head[:strings.Index(head, "[[machine]]")]
	return head + `
[[machine]]
name = "r1"
simulated = true
[machine.feed.pgm]
input = 1
outputs = [1]
[machine.feed.key]
input = 2
outputs = [2]
[[machine]]
name = "r2"
simulated = true
[machine.feed.pgm]
input = 3
outputs = [3]
[[machine]]
name = "r3"
simulated = true
[machine.feed.pgm]
input = 4
outputs = [4]
[[machine]]
name = "spare-1"
simulated = true
[machine.feed.pgm]
input = 9
[machine.feed.key]
input = 10
[[machine]]
name = "spare-2"
simulated = true
[machine.feed.pgm]
input = 11
[[pool]]
name = "renders"
router = "hub1"
mains = ["r1", "r2", "r3"]
backups = ["spare-1", "spare-2"]
mode = "manual"
failback = "manual"
`
}

func poolOf(st *pb.Status, name string) *pb.Status_Pool {
	for _, p := range st.Pools {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func slotOf(p *pb.Status_Pool, main string) *pb.Status_Slot {
	for _, s := range p.GetSlots() {
		if s.Main == main {
			return s
		}
	}
	return nil
}

// TestPoolMoveTo: operators move a main's feeds to a named backup, to any free one, and back
// ("Move To"), over the HTTP API; the router's routing follows role by role; refusals say why
// and change nothing; status shows who covers whom and what stayed on the main.
func TestPoolMoveTo(t *testing.T) {
	dir := t.TempDir()
	e := startConfig(t, dir, poolStudio(dir), Options{})
	sim := e.sup.Simulator("hub1")
	move := func(main, to string) (int, map[string]any) {
		return e.httpDo("POST", "/api/pools/renders/switch", tokOperate, fmt.Sprintf(`{"main":%q,"to":%q}`, main, to))
	}
	expect := func(what string, code int, reply map[string]any, wantHTTP int, wantReason string) {
		t.Helper()
		if code != wantHTTP || !strings.Contains(fmt.Sprint(reply["reason"]), wantReason) {
			t.Errorf("%s: %d %v, want %d with %q", what, code, reply["reason"], wantHTTP, wantReason)
		}
	}

	code, reply := move("r1", "spare-1")
	expect("r1 to spare-1", code, reply, 200, `backup "spare-1" on air for r1`)
	if r := sim.State().Routes; r[0] != 8 || r[1] != 9 {
		t.Fatalf("r1's pgm and key not on spare-1's inputs: %v", r)
	}
	code, reply = move("r2", "spare-1")
	expect("r2 to the busy spare-1", code, reply, 409, "covers r1")
	code, reply = move("r2", "r3")
	expect("r2 to another main", code, reply, 404, "is a main, not a backup")
	code, reply = move("nobody", "any")
	expect("an unknown main", code, reply, 404, `"nobody" is not a main`)
	code, reply = move("r2", "any")
	expect("r2 to any free backup", code, reply, 200, `backup "spare-2" on air for r2`)
	code, reply = move("r3", "any")
	expect("r3 with no backup free", code, reply, 409, "no backup free")
	if r := sim.State().Routes; r[3] != 3 {
		t.Fatalf("r3's output moved although refused: %v", r)
	}

	st := e.status()
	p := poolOf(st, "renders")
	if p == nil || p.Backups[0].Covering != "r1" || p.Backups[1].Covering != "r2" || slotOf(p, "r2").OnAir != "spare-2" {
		t.Fatalf("status: %s", mustJSON(p))
	}

	// Move r1 back to its main: spare-1 is free again and takes r3.
	code, reply = move("r1", "main")
	expect("r1 back to its main", code, reply, 200, `main "r1" on air`)
	code, reply = move("r3", "any")
	expect("r3 to the freed spare", code, reply, 200, `backup "spare-1" on air for r3`)
	if r := sim.State().Routes; r[0] != 0 || r[1] != 1 || r[3] != 8 {
		t.Fatalf("routing after the moves: %v", r)
	}

	// Partial coverage: spare-2 lacks key; r1 to spare-2 leaves output 2 on r1, and says so.
	code, reply = move("r2", "main")
	expect("r2 back", code, reply, 200, `main "r2" on air`)
	code, reply = move("r1", "spare-2")
	expect("r1 to spare-2", code, reply, 200, `backup "spare-2" on air for r1`)
	st = e.waitStatus("r1 on spare-2 with output 2 staying", 5*time.Second, func(st *pb.Status) bool {
		s := slotOf(poolOf(st, "renders"), "r1")
		return s.OnAir == "spare-2" && len(s.Stay) == 1 && s.Stay[0] == "2"
	})
	if r := sim.State().Routes; r[0] != 10 || r[1] != 1 {
		t.Fatalf("partial coverage routing: %v", r)
	}
	if w := strings.Join(poolOf(st, "renders").Warnings, "\n"); !strings.Contains(w, "spare-2 has no 'key' feed") {
		t.Errorf("pool warnings: %q", w)
	}
	res, err := e.metricsGet(tokView)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`standby_pool_covering{backup="spare-2",main="r1",pool="renders"} 1`,
		`standby_pool_covering{backup="spare-1",main="r3",pool="renders"} 1`,
		`standby_pair_on_backup{pair="renders"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Level 1 may not move anything.
	code, _ = e.httpDo("POST", "/api/pools/renders/switch", tokView, `{"main":"r2","to":"any"}`)
	if code != 403 {
		t.Errorf("viewer's move: %d, want 403", code)
	}
}

// TestPoolEdit: a level-3 operator changes a pool's membership over the API; the edit is validated
// like the config file (every error with its key path, nothing changed), saved under state_dir
// and applied without dropping the router connection; removing the pool dissolves it.
func TestPoolEdit(t *testing.T) {
	dir := t.TempDir()
	e := startConfig(t, dir, poolStudio(dir), Options{})
	sim := e.sup.Simulator("hub1")
	accepted := sim.State().Accepted
	code, reply := e.httpDo("PUT", "/api/pools/renders", tokConfigure, `{"mains":["r1","ghost"],"backups":["r2"]}`)
	if code != 422 || !strings.Contains(fmt.Sprint(reply["reason"]), `pool "renders".mains[1]: "ghost" is not a [[machine]]`) {
		t.Fatalf("invalid edit: %d %v", code, reply["reason"])
	}
	if p := poolOf(e.status(), "renders"); len(p.Slots) != 3 {
		t.Fatalf("a refused edit changed the pool: %s", mustJSON(p))
	}
	code, reply = e.httpDo("PUT", "/api/pools/renders", tokOperate, `{"mains":["r1"],"backups":["spare-1"]}`)
	if code != 403 {
		t.Fatalf("level 2 edit: %d %v", code, reply["reason"])
	}
	code, reply = e.httpDo("PUT", "/api/pools/renders", tokConfigure, `{"mains":["r1","r2"],"backups":["spare-2","spare-1"]}`)
	if code != 200 {
		t.Fatalf("edit: %d %v", code, reply["reason"])
	}
	p := poolOf(e.waitStatus("two mains, spare-2 first", 5*time.Second, func(st *pb.Status) bool {
		p := poolOf(st, "renders")
		return p != nil && len(p.Slots) == 2 && p.Backups[0].Name == "spare-2" && p.Slots[0].State != "unarmed"
	}), "renders")
	if p.Slots[1].Main != "r2" {
		t.Fatalf("slots %s", mustJSON(p))
	}
	if cfg, _ := savedWith(t, dir, poolStudio(dir)); len(cfg.Pools) != 1 || len(cfg.Pools[0].Mains) != 2 {
		t.Fatalf("saved pools %+v", cfg.Pools)
	}
	code, reply = e.httpDo("POST", "/api/pools/renders/switch", tokOperate, `{"main":"r1","to":"any"}`)
	if code != 200 || !strings.Contains(fmt.Sprint(reply["reason"]), `backup "spare-2" on air for r1`) {
		t.Fatalf("move after the edit: %d %v", code, reply["reason"])
	}
	if got := sim.State().Accepted; got != accepted {
		t.Fatalf("the pool edit reconnected the router (%d connections, was %d)", got, accepted)
	}
	code, reply = e.httpDo("DELETE", "/api/pools/renders", tokConfigure, ``)
	if code != 200 || poolOf(e.status(), "renders") != nil {
		t.Fatalf("remove: %d %v", code, reply["reason"])
	}
}
