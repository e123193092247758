package node

import (
	"bytes"
	"log/slog"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"standby/actors/clock"
)

// TestLibHandler: protoactor's errors are logged while the node runs, at most once a minute per
// message and peer (with a count of those held back), and demoted to debug (below the library's
// warn level, so dropped) once the node is stopping.
func TestLibHandler(t *testing.T) {
	var buf bytes.Buffer
	stopping := &atomic.Bool{}
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	log := slog.New(libHandler{Handler: zerolog.NewSlogHandler(zerolog.New(&buf).Level(zerolog.WarnLevel)), stopping: stopping,
		throttle: NewThrottle(time.Minute, clk)}).With("lib", "protoactor")
	for i := range 5 {
		log.Error("EndpointWriter failed to connect", "address", "10.0.0.1:7400", "try", i)
	}
	log.Error("EndpointWriter failed to connect", "address", "10.0.0.2:7400", "try", 0)
	clk.Advance(time.Minute)
	log.Error("EndpointWriter failed to connect", "address", "10.0.0.1:7400", "try", 5)
	stopping.Store(true)
	log.Error("EndpointWriter lost connection", "when", "stopping")
	out := buf.String()
	for _, want := range []string{`"address":"10.0.0.1:7400","try":0`, `"address":"10.0.0.2:7400","try":0`, `"try":5,"suppressed":4`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "\n"); n != 3 || strings.Contains(out, "stopping") {
		t.Errorf("want 3 lines and nothing while stopping, got:\n%s", out)
	}
}

// TestLibHandlerPeerRestarts: a peer restarting in a loop comes from a new port each time; its
// lines share one throttle (one line a minute), where one per port was thousands a minute.
func TestLibHandlerPeerRestarts(t *testing.T) {
	var buf bytes.Buffer
	clk := clock.NewFake(time.Unix(1_700_000_000, 0))
	log := slog.New(libHandler{Handler: zerolog.NewSlogHandler(zerolog.New(&buf)), stopping: &atomic.Bool{},
		throttle: NewThrottle(time.Minute, clk)})
	for port := range 500 {
		log.Error("EndpointWriter lost connection", "address", "10.0.0.7:"+strconv.Itoa(40000+port))
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 {
		t.Fatalf("%d lines for one restarting peer, want 1:\n%s", n, buf.String())
	}
	if Host("10.0.0.7:40000") != "10.0.0.7" || Host("[::1]:7400") != "::1" || Host("nohost") != "nohost" {
		t.Fatal("Host")
	}
}
