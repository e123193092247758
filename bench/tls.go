package bench

import (
	"fmt"
	"path/filepath"
	"time"

	"standby/protocol/identity"
)

// benchTLS is a setup's own studio CA (in its work directory) and the certificates it issues:
// the bench runs the studio on mutual TLS, as a production studio should, unless --tls=false.
type benchTLS struct {
	dir, ca string
}

func newBenchTLS(dir string) (*benchTLS, error) {
	if err := identity.Init(dir, "bench", time.Now()); err != nil {
		return nil, fmt.Errorf("bench studio CA: %w", err)
	}
	return &benchTLS{dir: dir, ca: filepath.Join(dir, identity.CAFile)}, nil
}

// files issues (once) the certificate of role and names.
func (b *benchTLS) files(role identity.Role, names ...string) (identity.Files, error) {
	crt, key, err := identity.Ensure(b.dir, identity.IssueOptions{Role: role, Names: names}, time.Now())
	if err != nil {
		return identity.Files{}, fmt.Errorf("bench certificate of %s %v: %w", role, names, err)
	}
	return identity.Files{CA: b.ca, Cert: crt, Key: key}, nil
}

// table is the [tls] table of a config for role and names; "" in plaintext (b nil).
func (b *benchTLS) table(role identity.Role, names ...string) (string, error) {
	if b == nil {
		return "", nil
	}
	f, err := b.files(role, names...)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("\n[tls]\nca = %q\ncert = %q\nkey = %q\n", f.CA, f.Cert, f.Key), nil
}

// creds loads the credentials of role and names; nil in plaintext.
func (b *benchTLS) creds(role identity.Role, names ...string) (*identity.Credentials, error) {
	if b == nil {
		return nil, nil
	}
	f, err := b.files(role, names...)
	if err != nil {
		return nil, err
	}
	return identity.Load(f, time.Now())
}
