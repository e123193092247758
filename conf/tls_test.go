package conf

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestTLSTable: [tls] needs all three files, generate fills them from state_dir, an agent may not
// generate, and a config without [tls] is warned about.
func TestTLSTable(t *testing.T) {
	base := "[supervisor]\nname = \"studio-a\"\nstate_dir = \"/srv/standby\"\n"
	_, err := Parse([]byte(base + "[tls]\nca = \"/etc/standby/ca.crt\"\n"))
	for _, want := range []string{"tls.cert: missing", "tls.key: missing"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("half a [tls] table: want %q in %v", want, err)
		}
	}
	if _, err := Parse([]byte(base + "[tls]\nca = \"a\"\ncert = \"b\"\nkey = \"c\"\nverify = true\n")); err == nil || !strings.Contains(err.Error(), "tls.verify: unknown key") {
		t.Errorf("unknown key: %v", err)
	}
	c, err := Parse([]byte(base + "[tls]\ngenerate = true\n"))
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join("/srv/standby", "tls")
	if c.TLS.CA != filepath.Join(dir, "ca.crt") || c.TLS.Cert != filepath.Join(dir, "studio-a.crt") || c.TLS.Key != filepath.Join(dir, "studio-a.key") {
		t.Errorf("generated paths: %+v", c.TLS)
	}
	for _, w := range c.Warnings() {
		if strings.Contains(w, "not authenticated") {
			t.Errorf("warned about plaintext with [tls]: %s", w)
		}
	}
	agent := "name = \"render-1\"\nsupervisors = [\"127.0.0.1:7400\"]\ntoken = \"t\"\n"
	if _, err := ParseAgent([]byte(agent + "[tls]\ngenerate = true\n")); err == nil || !strings.Contains(err.Error(), "tls.generate") {
		t.Errorf("agent generate: %v", err)
	}
	a, err := ParseAgent([]byte(agent + "[tls]\nca = \"ca.crt\"\ncert = \"render-1.crt\"\nkey = \"render-1.key\"\n"))
	if err != nil || !a.TLS.Enabled() {
		t.Fatalf("agent [tls]: %v %+v", err, a)
	}
}

// TestRedundancyTable: defaults, every bad key reported with its path.
func TestRedundancyTable(t *testing.T) {
	c, err := Parse([]byte("[redundancy]\nmode = \"primary\"\npeer = \"10.0.0.2:7400\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Redundancy
	if !r.Paired() || r.FailoverOffset.Duration.String() != "1s" || r.SyncInterval.Duration.String() != "50ms" || r.Failback != "automatic" {
		t.Fatalf("defaults: %+v", r)
	}
	if c, _ := Parse([]byte("")); c.Redundancy.Paired() {
		t.Fatal("no table: paired")
	}
	_, err = Parse([]byte("[supervisor]\nlisten = \"127.0.0.1:7400\"\n[redundancy]\nmode = \"secondary-failover\"\npeer = \"127.0.0.1:7400\"\nfailback = \"sometimes\"\nsync_interval = \"100ms\"\nfailover_offset = \"200ms\"\n"))
	for _, want := range []string{"redundancy.peer: \"127.0.0.1:7400\" is this supervisor's own address", "redundancy.failback", "redundancy.failover_offset: 200ms must be at least 3"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("want %q in %v", want, err)
		}
	}
	if _, err := Parse([]byte("[redundancy]\nmode = \"backup\"\n")); err == nil || !strings.Contains(err.Error(), "redundancy.mode") {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := Parse([]byte("[redundancy]\nmode = \"primary\"\n")); err == nil || !strings.Contains(err.Error(), "redundancy.peer: missing") {
		t.Errorf("no peer: %v", err)
	}
}
