package conf

import (
	"path/filepath"

	"standby/protocol/identity"
)

// TLS is the [tls] table, the same in a supervisor's and an agent's config: the files `standby
// certs` writes. With it every protoactor link (agents, the peer supervisor, control clients) is
// mutual TLS with the studio CA; without it links are plaintext, which Standby warns about at
// start, in `standby check`, on the panel and in /metrics. Nothing falls back from TLS to
// plaintext on its own.
type TLS struct {
	// CA is the studio CA's certificate (ca.crt); every peer's certificate must chain to it.
	// Required with [tls] unless generate is set.
	CA string `toml:"ca"`
	// Cert is this node's certificate (NAME.crt from `standby certs issue`): a supervisor's for a
	// supervisor, an agent's naming this machine for an agent. Required with [tls] unless generate.
	Cert string `toml:"cert"`
	// Key is Cert's private key (NAME.key). Required with [tls] unless generate.
	Key string `toml:"key"`
	// Generate (supervisor only; the demo studio, tests) creates a studio CA in state_dir/tls when
	// there is none, this supervisor's certificate, an "operator" certificate for `standby ctl
	// --tls-dir state_dir/tls --as operator`, and one for each demo agent process it starts.
	// ca/cert/key default to the files there. Not for production: the CA key sits next to the
	// supervisor. Default false.
	Generate bool `toml:"generate"`
}

// Enabled reports whether the table asks for TLS.
func (t TLS) Enabled() bool { return t.CA != "" || t.Cert != "" || t.Key != "" || t.Generate }

// Files are the paths to load.
func (t TLS) Files() identity.Files { return identity.Files{CA: t.CA, Cert: t.Cert, Key: t.Key} }

// GeneratedDir is where generate keeps the studio CA of a supervisor with this state_dir.
func GeneratedDir(stateDir string) string { return filepath.Join(stateDir, "tls") }

// applyGenerated fills the defaults of a generated [tls] table.
func (t *TLS) applyGenerated(stateDir, supervisor string) {
	if !t.Generate {
		return
	}
	dir := GeneratedDir(stateDir)
	crt, key := identity.CertFiles(dir, supervisor)
	if t.CA == "" {
		t.CA = filepath.Join(dir, identity.CAFile)
	}
	if t.Cert == "" {
		t.Cert = crt
	}
	if t.Key == "" {
		t.Key = key
	}
}

func (t TLS) validate(e *errs, path string, generateAllowed bool) {
	if !t.Enabled() {
		return
	}
	if t.Generate && !generateAllowed {
		e.add(path+".generate", "only a supervisor generates certificates; give ca, cert and key from `standby certs`")
	}
	for _, k := range []struct{ key, v string }{{"ca", t.CA}, {"cert", t.Cert}, {"key", t.Key}} {
		if k.v == "" {
			e.add(path+"."+k.key, "missing (all of ca, cert and key, from `standby certs`; or generate = true on a demo supervisor)")
		}
	}
}
