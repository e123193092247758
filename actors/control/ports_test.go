package control

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"standby/protocol/pb"
)

// TestEditCheckedAgainstRouter: a mapping edit with a port the router does not have, a label it
// does not carry, or text that is no port is refused with the router's real size or labels in
// the message, and nothing changes (seen before: 99, 13, "nosuchlabel" and "1.5" were all
// "mapping saved" on a 12×12 router).
func TestEditCheckedAgainstRouter(t *testing.T) {
	e := start(t, Options{})
	for _, c := range []struct{ input, want string }{
		{"99", `input 99: router "hub1" is simulated with 12 inputs (1..12)`},
		{"13", `input 13: router "hub1" is simulated with 12 inputs (1..12)`},
		{"nosuchlabel", `input "nosuchlabel": no input of hub1 carries that label`},
		{"1.5", `input "1.5": no input of hub1 carries that label`},
	} {
		body := `{"backup":"s2","main":"s1","feeds":[{"main_input":"5","backup_input":"` + c.input + `","outputs":["3"]}]}`
		status, reply := e.httpDo("PUT", "/api/pairs/cam3/backup", tokConfigure, body)
		if status != http.StatusUnprocessableEntity || reply["code"] != pb.Code_CODE_INVALID_MAPPING.String() {
			t.Errorf("backup_input %s: %d %v", c.input, status, reply)
			continue
		}
		if r, _ := reply["reason"].(string); !strings.Contains(r, c.want) {
			t.Errorf("backup_input %s: reason %q, want it to say %q", c.input, r, c.want)
		}
	}
	if p := pairOf(e.status(), "cam3"); p != nil {
		t.Errorf("a refused edit added cam3: %v", p)
	}
	if n := mappingEdits(t, e.dir); n != 0 {
		t.Errorf("a refused edit was recorded: %d overrides", n)
	}
}

// TestMappingInvalidAlarm: a config whose mapping names a label the router does not carry is an
// alarm on the pair as soon as the router is read, not a switch failure when the main dies; a
// switch to the backup it cannot route is refused with the reason.
func TestMappingInvalidAlarm(t *testing.T) {
	dir := t.TempDir()
	text := strings.Replace(studio(dir), "main_input = 3\nbackup_input = 4", "main_input = 3\nbackup_input = \"ghost\"", 1)
	e := startConfig(t, dir, text, Options{})
	const want = `backup "b2": input "ghost": no input of hub1 carries that label`
	e.waitStatus("cam2 carries mapping_invalid", 5*time.Second, func(st *pb.Status) bool {
		p := pairOf(st, "cam2")
		for _, a := range p.GetAlarms() {
			if a.GetKind() == "mapping_invalid" && a.GetActive() && strings.Contains(a.GetMessage(), want) {
				return true
			}
		}
		return false
	})
	status, reply := e.httpDo("POST", "/api/pairs/cam2/switch", tokOperate, `{"to":"backup"}`)
	if r, _ := reply["reason"].(string); status == http.StatusOK || !strings.Contains(r, "cannot route") || !strings.Contains(r, want) {
		t.Errorf("switch onto the unroutable backup: %d %v", status, reply)
	}
	if p := pairOf(e.status(), "cam2"); p.GetOnAir() != "main" {
		t.Errorf("cam2 on air: %s", p.GetOnAir())
	}
	// cam1's mapping fits the router: no alarm there.
	for _, a := range pairOf(e.status(), "cam1").GetAlarms() {
		if a.GetKind() == "mapping_invalid" {
			t.Errorf("cam1: %v", a)
		}
	}
}
