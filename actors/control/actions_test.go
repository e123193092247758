package control

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// An action shows its results everywhere: the Test endpoint (level 3) answers with the run's
// result, the event stream carries it, the status keeps the latest per action and /metrics counts
// runs by result. A switch runs it too.
func TestActionResultsAreVisible(t *testing.T) {
	hits := make(chan string, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- string(b)
		if strings.Contains(string(b), "test") {
			w.WriteHeader(http.StatusAccepted)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	e := startConfig(t, dir, studio(dir)+`
[[action]]
name = "tell-companion"
on = ["failover"]
pairs = ["cam1"]
kind = "http"
url = "`+srv.URL+`/press"
body = "{{.Event}} {{.Pair}} {{.Main}} {{.To}} {{.Detail}}"
[[action]]
name = "nowhere"
on = ["failback"]
kind = "tcp"
address = "127.0.0.1:1"
data = "x"
`, Options{Heartbeat: time.Hour})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", e.ctl.URL()+"/api/events", nil)
	req.Header.Set("Authorization", "Bearer "+tokView)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := make(chan map[string]any, 100)
	go func() {
		defer close(events)
		sc := bufio.NewScanner(res.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var ev map[string]any
				if json.Unmarshal([]byte(data), &ev) == nil && ev["kind"] == "action" {
					events <- ev
				}
			}
		}
	}()

	// Level 3 only; unknown actions are 404.
	if code, _ := e.httpDo("POST", "/api/actions/tell-companion/test", tokOperate, ""); code != http.StatusForbidden {
		t.Fatalf("operator test: %d", code)
	}
	if code, r := e.httpDo("POST", "/api/actions/nope/test", tokConfigure, ""); code != http.StatusNotFound || !strings.Contains(r["reason"].(string), `unknown action "nope"`) {
		t.Fatalf("unknown: %d %v", code, r)
	}
	code, r := e.httpDo("POST", "/api/actions/tell-companion/test", tokConfigure, "")
	if code != http.StatusOK || !strings.Contains(r["reason"].(string), `action "tell-companion" (http) with a sample event of pair "cam1": ok`) ||
		!strings.Contains(r["reason"].(string), "HTTP 202") {
		t.Fatalf("test: %d %v", code, r)
	}
	if got := <-hits; got != "test cam1 m1 b1 test run by cora" {
		t.Fatalf("test request body %q", got)
	}
	if ev := <-events; ev["action"] != "tell-companion" || ev["result"] != "ok" || ev["event"] != "test" || ev["pair"] != "cam1" {
		t.Fatalf("event %v", ev)
	}
	// A failing test is 502 with the reason.
	if code, r := e.httpDo("POST", "/api/actions/nowhere/test", tokConfigure, ""); code != http.StatusBadGateway ||
		!strings.Contains(r["reason"].(string), "failed") || !strings.Contains(r["reason"].(string), "could not connect") {
		t.Fatalf("nowhere: %d %v", code, r)
	}
	<-events

	// A real switch to the backup runs it for cam1 (and the event stream shows it).
	if code, r := e.httpDo("POST", "/api/pairs/cam1/switch", tokOperate, `{"to":"backup"}`); code != http.StatusOK {
		t.Fatalf("switch: %d %v", code, r)
	}
	if got := <-hits; !strings.HasPrefix(got, "failover cam1 m1 b1") {
		t.Fatalf("failover request body %q", got)
	}
	if ev := <-events; ev["action"] != "tell-companion" || ev["event"] != "failover" || ev["result"] != "ok" {
		t.Fatalf("event %v", ev)
	}

	st := e.status()
	if len(st.Actions) != 2 || st.Actions[0].Name != "tell-companion" || st.Actions[0].Result != "ok" || st.Actions[0].Event != "failover" ||
		st.Actions[0].Ok != 2 || st.Actions[1].Failed != 1 || st.Actions[1].Detail == "" {
		t.Fatalf("status actions %v", st.Actions)
	}
	mres, err := e.metricsGet(tokView)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(mres.Body)
	mres.Body.Close()
	for _, want := range []string{
		`standby_action_runs_total{action="tell-companion",result="ok"} 2`,
		`standby_action_runs_total{action="nowhere",result="failed"} 1`,
		`standby_action_duration_seconds_count{action="tell-companion"} 2`,
		`standby_action_duration_seconds_bucket{action="nowhere",le="+Inf"} 1`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
