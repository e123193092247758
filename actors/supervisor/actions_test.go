package supervisor

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"standby/actors/action"
	"standby/actors/failover"
	"standby/actors/pool"
)

// A hung action never delays a failover, of its own pair or another: the switches are confirmed
// while its HTTP request is provably still waiting (the handler has not returned), and a run past
// its timeout is reported as timed out. Order of events only, no wall-clock bounds.
func TestHungActionDoesNotDelayFailovers(t *testing.T) {
	entered, release := make(chan string, 16), make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		entered <- req.URL.Path
		select {
		case <-release:
		case <-req.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	h := start(t, threePairs+`
[[action]]
name = "hung"
on = ["failover", "failback"]
kind = "http"
url = "`+srv.URL+`/hung/{{.Pair}}/{{.Event}}"
timeout = "10m"
[[action]]
name = "short"
on = ["failover"]
pairs = ["cam2"]
kind = "http"
url = "`+srv.URL+`/short"
timeout = "50ms"
`, Options{})
	// One ordered stream of what happened: confirmed switches and action results.
	type seen struct{ what, pair, detail string }
	stream := make(chan seen, 100)
	h.sup.System().EventStream.Subscribe(func(evt any) {
		switch e := evt.(type) {
		case *pool.Event:
			if tr, ok := e.Action.(failover.Transition); ok && (tr.To == failover.OnBackup || tr.To == failover.OnMain) {
				stream <- seen{"on " + tr.Machine, e.Pool, tr.To.String()}
			}
		case *action.Result:
			stream <- seen{"result " + e.Action, e.Event.Pair, e.Result}
		}
	})
	var held []seen // seen while waiting for something else
	next := func() seen {
		t.Helper()
		if len(held) > 0 {
			s := held[0]
			held = held[1:]
			return s
		}
		select {
		case s := <-stream:
			return s
		case <-time.After(10 * time.Second):
			t.Fatal("nothing happened")
		}
		return seen{}
	}
	waitFor := func(want seen) {
		t.Helper()
		var later []seen
		defer func() { held = append(later, held...) }()
		for {
			s := next()
			if s.what == want.what && s.pair == want.pair {
				return
			}
			if s.what == "result hung" {
				t.Fatalf("hung action ended (%+v) before %+v", s, want)
			}
			later = append(later, s)
		}
	}
	for _, m := range []string{"m1", "b1", "m2", "b2"} {
		h.report(m, up("engine"))
	}
	waitFor(seen{"on m1", "cam1", ""})
	waitFor(seen{"on m2", "cam2", ""})

	h.report("m1", down("engine"))
	waitFor(seen{"on b1", "cam1", ""})
	if p := <-entered; p != "/hung/cam1/failover" {
		t.Fatalf("request %s", p)
	}
	// The hung request is in flight: the same pair switches back and another pair fails over.
	h.report("m1", up("engine"))
	h.report("b1", down("engine")) // the backup on air fails: back to the healthy main
	waitFor(seen{"on m1", "cam1", ""})
	h.report("m2", down("engine"))
	waitFor(seen{"on b2", "cam2", ""})
	for {
		s := next()
		if s.what == "result hung" {
			t.Fatalf("hung action ended: %+v", s)
		}
		if s.what == "result short" {
			if s.detail != action.ResultTimedOut {
				t.Fatalf("short: %+v", s)
			}
			break
		}
	}
	st, err := h.sup.Actions()
	if err != nil {
		t.Fatal(err)
	}
	if st[0].Name != "hung" || st[0].Running != 1 || st[0].Queued != 2 || st[1].Counts[action.ResultTimedOut] != 1 {
		t.Fatalf("status %+v", st)
	}
}
