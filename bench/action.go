package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"sync/atomic"
	"time"
)

// SlowActionDelay is how long the slow action's HTTP endpoint takes to answer.
const SlowActionDelay = time.Second

// ActionCost is the crash p99 of a setup whose pairs have a slow [[action]] (an HTTP endpoint
// that takes SlowActionDelay, on every failover, failback, machine_down and machine_up) against
// the same setup without one, in the same run: actions run off the switch path, so it should be
// unchanged within noise.
type ActionCost struct {
	WithoutP99MS float64 `json:"without_p99_ms"`
	WithP99MS    float64 `json:"with_p99_ms"`
	WithoutP50MS float64 `json:"without_p50_ms"`
	WithP50MS    float64 `json:"with_p50_ms"`
	Runs         int     `json:"runs"`
	DeltaMS      float64 `json:"delta_ms"` // with − without
	// Requests is how many requests the slow endpoint received (the action did run).
	Requests int64  `json:"requests"`
	Error    string `json:"error,omitempty"`
}

// slowEndpoint is the slow action's HTTP server: every request waits SlowActionDelay (or until
// the client gives up) and answers 200.
type slowEndpoint struct {
	srv  *http.Server
	url  string
	hits atomic.Int64
}

func startSlowEndpoint() (*slowEndpoint, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	e := &slowEndpoint{url: "http://" + ln.Addr().String()}
	e.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		t := time.NewTimer(SlowActionDelay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(ln) }()
	return e, nil
}

func (e *slowEndpoint) close() { _ = e.srv.Close() }

// slowActionTOML is the [[action]] of the setup with a slow action.
func slowActionTOML(url string) string {
	return fmt.Sprintf(`
[[action]]
name = "slow-http"
on = ["failover", "failback", "machine_down", "machine_up"]
kind = "http"
url = "%s/{{.Pair}}/{{.Event}}"
body = '{"pair":"{{.Pair}}","from":"{{.From}}","to":"{{.To}}"}'
timeout = "2s"
`, url)
}

// actionCost runs the crash scenario runs times on without (the setup of the scenarios) and on a
// fresh setup of the same shape whose pairs have the slow action, alternating blocks of tlsBlock
// runs so both see the same machine noise.
func actionCost(ctx context.Context, without *Studio, so studioOptions, dir string, o Options, runs int, progress func(string, ...any)) *ActionCost {
	ep, err := startSlowEndpoint()
	if err != nil {
		return &ActionCost{Error: err.Error()}
	}
	defer ep.close()
	so.pool, so.actions = false, slowActionTOML(ep.url)
	so.dir = filepath.Join(dir, "slow-action")
	progress("%s without and with a slow action (HTTP, %s per request), alternating blocks of %d: %d runs each", Crash, SlowActionDelay, tlsBlock, runs)
	with, err := startStudio(ctx, so)
	if err != nil {
		return &ActionCost{Error: err.Error()}
	}
	defer with.Close()
	for _, st := range []*Studio{without, with} {
		if err := st.warm(ctx, Crash, targetPairs(st, o)); err != nil {
			return &ActionCost{Error: err.Error()}
		}
	}
	var withoutSamples, withSamples []sample
	next := 0
	for len(withSamples) < runs {
		for _, side := range []struct {
			st  *Studio
			out *[]sample
		}{{without, &withoutSamples}, {with, &withSamples}} {
			for k := 0; k < tlsBlock && len(*side.out) < runs; k++ {
				if err := ctx.Err(); err != nil {
					return nil
				}
				smp, err := runOnce(ctx, side.st, Crash, pairAt(next%targetPairs(side.st, o)))
				if err != nil {
					return &ActionCost{Error: fmt.Sprintf("crash with the slow action: %v", err)}
				}
				*side.out = append(*side.out, smp)
			}
		}
		next++
	}
	a, b := scenarioResult(Crash, withoutSamples, o.HeartbeatTimeout), scenarioResult(Crash, withSamples, o.HeartbeatTimeout)
	c := &ActionCost{WithoutP99MS: a.Stats.P99, WithP99MS: b.Stats.P99, WithoutP50MS: a.Stats.P50, WithP50MS: b.Stats.P50, Runs: b.Stats.Runs,
		DeltaMS: b.Stats.P99 - a.Stats.P99, Requests: ep.hits.Load()}
	progress("%s: p99 %.3f ms without an action, %.3f ms with the slow action (%d requests to it)", Crash, c.WithoutP99MS, c.WithP99MS, c.Requests)
	return c
}
