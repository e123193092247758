package control

import (
	"crypto/sha256"
	"encoding/hex"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"standby/actors/clock"
)

// ConfigState is what /metrics tells of the config file: the SHA-256 of the one running (compare
// with `sha256sum`), whether the last reload was applied, and when one last was. `standby run`
// reports to it: Loaded at start, then for each SIGHUP Rejected (the file is invalid) or Offered
// (valid, on its way to the supervisor) followed by the supervisor's Applied. Safe for
// concurrent use; a nil *ConfigState ignores everything.
type ConfigState struct {
	clk     clock.Clock
	mu      sync.Mutex
	hash    string   // of the running file; "" until Loaded
	pending []string // hashes of files offered and not yet applied, oldest first
	ok      bool
	okAt    time.Time
}

// NewConfigState returns a state that knows no file yet; clk defaults to the wall clock.
func NewConfigState(clk clock.Clock) *ConfigState {
	if clk == nil {
		clk = clock.Real{}
	}
	return &ConfigState{clk: clk}
}

// Hash is the hex SHA-256 of a config file's bytes, as sha256sum prints it.
func Hash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Loaded records the file the supervisor started with.
func (c *ConfigState) Loaded(b []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hash, c.ok, c.okAt = Hash(b), true, c.clk.Now()
}

// Rejected records a reload refused before it reached the supervisor (the file is invalid).
func (c *ConfigState) Rejected() {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.ok = false
}

// Offered records a valid file handed to the supervisor; its Applied comes in the same order.
func (c *ConfigState) Offered(b []byte) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, Hash(b))
}

// Applied records the supervisor's outcome of the oldest offered file: nil when it runs now.
func (c *ConfigState) Applied(err error) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var h string
	if len(c.pending) > 0 {
		h, c.pending = c.pending[0], c.pending[1:]
	}
	if err != nil {
		c.ok = false
		return
	}
	if h != "" {
		c.hash = h
	}
	c.ok, c.okAt = true, c.clk.Now()
}

// Running is the running file's hash ("" if not known) and whether the last reload was applied.
func (c *ConfigState) Running() (hash string, ok bool, at time.Time) {
	if c == nil {
		return "", true, time.Time{}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hash, c.ok, c.okAt
}

var (
	descReloadOK = prometheus.NewDesc("standby_config_last_reload_successful",
		"1 when the last SIGHUP reload (or the start) applied its config file; 0 when it was rejected and the previous one kept.", nil, nil)
	descReloadAt = prometheus.NewDesc("standby_config_last_reload_success_timestamp_seconds",
		"When a config file was last applied (start or reload), in Unix seconds.", nil, nil)
	descConfigInfo = prometheus.NewDesc("standby_config_info",
		"Always 1; sha256 is the SHA-256 of the running config file (sha256sum's output).", []string{"sha256"}, nil)
)

// configCollector exposes a ConfigState.
type configCollector struct{ cs *ConfigState }

func (configCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descReloadOK
	ch <- descReloadAt
	ch <- descConfigInfo
}

func (c configCollector) Collect(ch chan<- prometheus.Metric) {
	hash, ok, at := c.cs.Running()
	ch <- prometheus.MustNewConstMetric(descReloadOK, prometheus.GaugeValue, boolValue(ok))
	if !at.IsZero() {
		ch <- prometheus.MustNewConstMetric(descReloadAt, prometheus.GaugeValue, float64(at.UnixNano())/1e9)
	}
	if hash != "" {
		ch <- prometheus.MustNewConstMetric(descConfigInfo, prometheus.GaugeValue, 1, hash)
	}
}
