package node

import (
	"bytes"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"
)

// TestQuietWhenStopping: protoactor's errors are kept while the node runs and demoted to debug
// (below the library's warn level, so dropped) once it is stopping.
func TestQuietWhenStopping(t *testing.T) {
	var buf bytes.Buffer
	stopping := &atomic.Bool{}
	log := slog.New(quietWhenStopping{Handler: zerolog.NewSlogHandler(zerolog.New(&buf).Level(zerolog.WarnLevel)), stopping: stopping}).
		With("lib", "protoactor")
	log.Error("EndpointWriter lost connection", "when", "running")
	stopping.Store(true)
	log.Error("EndpointWriter lost connection", "when", "stopping")
	out := buf.String()
	if !strings.Contains(out, `"when":"running"`) || strings.Contains(out, `"when":"stopping"`) {
		t.Fatalf("log:\n%s", out)
	}
}
