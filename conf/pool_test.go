package conf

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const poolBase = `
[[router]]
name = "hub1"
address = "10.0.0.50"
[[machine]]
name = "render-1"
features = ["ar"]
[machine.feed.pgm]
input = 1
outputs = [1, 5]
[machine.feed.key]
input = 2
outputs = [2]
[[machine]]
name = "render-2"
[machine.feed.pgm]
input = "Render 2"
outputs = [3]
[[machine]]
name = "spare-1"
[machine.feed.pgm]
input = 9
[[pool]]
name = "renders"
router = "hub1"
mains = ["render-1", "render-2"]
backups = ["spare-1"]
`

func TestPoolSpecs(t *testing.T) {
	c, err := Parse([]byte(poolBase + `
[[machine]]
name = "a"
[[machine]]
name = "b"
[[pair]]
name = "cam1"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = 11
backup_input = 12
outputs = [11]
`))
	if err != nil {
		t.Fatal(err)
	}
	p := c.Pool("renders")
	if p.Mode != ModeAutomatic || p.Failback != ModeAutomatic || p.FailbackAfter.String() != "30s" {
		t.Fatalf("pool defaults: %+v", p)
	}
	specs := c.PoolSpecs()
	if len(specs) != 2 || specs[0].Name != "cam1" || !specs[0].Pair || specs[1].Name != "renders" || specs[1].Pair {
		t.Fatalf("specs %+v", specs)
	}
	pair := specs[0]
	want := []Member{{Name: "a", Feeds: []RoleFeed{{Role: "feed1", Input: N(11), Outputs: []Port{N(11)}}}}}
	if !reflect.DeepEqual(pair.Mains, want) || pair.Backups[0].Feeds[0].Input != N(12) {
		t.Fatalf("pair as a pool: %+v", pair)
	}
	pool := specs[1]
	if len(pool.Mains) != 2 || pool.Mains[0].Feeds[0].Role != "key" || pool.Mains[0].Feeds[1].Role != "pgm" ||
		pool.Mains[1].Feeds[0].Input.Label != "Render 2" || pool.Backups[0].Name != "spare-1" || !pool.AutoFailback {
		t.Fatalf("pool spec %+v", pool)
	}
	w := strings.Join(c.Warnings(), "\n")
	for _, s := range []string{
		`pool "renders": spare-1 has no 'key' feed; when it covers render-1, render-1's key outputs [2] stay on render-1`,
		`pool "renders": main "render-1" has features [ar] but backup "spare-1" has []`,
	} {
		if !strings.Contains(w, s) {
			t.Errorf("warnings lack %q:\n%s", s, w)
		}
	}
	// Encode and Parse give the same config back.
	b, err := Encode(c)
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(b)
	if err != nil {
		t.Fatalf("encoded config does not parse: %v\n%s", err, b)
	}
	if !reflect.DeepEqual(c2.PoolSpecs(), specs) {
		t.Fatalf("round trip changed the pools:\n%+v\n%+v", c2.PoolSpecs(), specs)
	}
}

func TestPoolErrors(t *testing.T) {
	_, err := Parse([]byte(poolBase + `
[[machine]]
name = "spare-2"
[machine.feed.pgm]
input = 1
outputs = [7]
[[machine]]
name = "render-3"
[[machine]]
name = "a"
[machine.feed.pgm]
input = 20
[[machine]]
name = "b"
[[pair]]
name = "cam1"
router = "hub1"
main = "a"
backup = "b"
[[pair.feed]]
main_input = 11
backup_input = 12
outputs = [5]
[[pool]]
name = "cam1"
router = "nohub"
mains = ["render-1", "render-3", "ghost", "a"]
backups = ["spare-2", "spare-2"]
roles = ["fill"]
mode = "sometimes"
[[pool]]
name = "empty"
router = "hub1"
`))
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v", err)
	}
	got := err.Error()
	for _, want := range []string{
		`pool "cam1".name: "cam1" is also a [[pair]]`,
		`pool "cam1".router: "nohub" is not a [[router]]`,
		`pool "cam1".mode: "sometimes" is not automatic or manual`,
		`pool "cam1".mains[0]: "render-1" is already in pool "renders"`,
		`pool "cam1".mains[1]: "render-3" has no [machine.feed.ROLE]`,
		`pool "cam1".mains[2]: "ghost" is not a [[machine]]`,
		`pool "cam1".mains[3]: "a" is already the main of pair "cam1"`,
		`pool "cam1".backups[1]: "spare-2" is listed twice in the pool`,
		`machine "spare-2".feed.pgm.outputs: a backup declares only its input`,
		`pool "cam1".roles[0]: "fill" is not a role of any main of the pool`,
		`pool "empty".mains: missing`,
		`pool "empty".backups: missing`,
		`machine "a".feed: "a" is in pair "cam1": pair machines declare feeds in [[pair.feed]]`,
		`machine "render-1".feed.pgm.outputs[1]: output 5 of router "hub1" is already claimed by "cam1"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q", want)
		}
	}
	if t.Failed() {
		t.Log(got)
	}
}
