package identity

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"
)

// Files are the paths of a holder's CA, certificate and key (the [tls] table).
type Files struct {
	CA, Cert, Key string
}

// Credentials are a loaded identity: this node's certificate and the studio CA that every peer's
// must chain to.
type Credentials struct {
	Self Identity
	// NotAfter is when this node's certificate expires.
	NotAfter time.Time
	cert     tls.Certificate
	roots    *x509.CertPool
}

// Load reads and checks f: the certificate must carry an identity, match its key, chain to the
// CA and be valid at now. Every error names the file.
func Load(f Files, now time.Time) (*Credentials, error) {
	if f.CA == "" || f.Cert == "" || f.Key == "" {
		return nil, errors.New("tls: ca, cert and key are all required")
	}
	caPEM, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("tls ca: %w", err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("tls ca %s: no PEM certificate in it", f.CA)
	}
	pair, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls cert %s / key %s: %w", f.Cert, f.Key, err)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("tls cert %s: %w", f.Cert, err)
	}
	id, err := Of(leaf)
	if err != nil {
		return nil, fmt.Errorf("tls cert %s: %w", f.Cert, err)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		return nil, fmt.Errorf("tls cert %s is not valid under ca %s: %w", f.Cert, f.CA, err)
	}
	pair.Leaf = leaf
	return &Credentials{Self: id, NotAfter: leaf.NotAfter, cert: pair, roots: roots}, nil
}

// verify checks a peer's chain against the studio CA (expiry included) and returns its identity.
func (c *Credentials) verify(chain []*x509.Certificate, usage x509.ExtKeyUsage) (Identity, error) {
	if len(chain) == 0 {
		return Identity{}, errors.New("peer sent no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range chain[1:] {
		inter.AddCert(ic)
	}
	if _, err := chain[0].Verify(x509.VerifyOptions{Roots: c.roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
		return Identity{}, fmt.Errorf("peer certificate %q: %w", chain[0].Subject.CommonName, err)
	}
	return Of(chain[0])
}

// ServerConfig is the TLS config of this node's listener: a client must present a certificate
// from the studio CA carrying an identity, or the handshake fails.
func (c *Credentials) ServerConfig() *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		ClientAuth:   tls.RequireAnyClientCert,
		VerifyConnection: func(cs tls.ConnectionState) error {
			_, err := c.verify(cs.PeerCertificates, x509.ExtKeyUsageClientAuth)
			return err
		},
	}
}

// ClientConfig is the TLS config for dialling peers. The server's certificate is checked against
// the studio CA, not against a host name (peers are dialled by address); servers, when not empty,
// are the roles this node may dial (an agent dials supervisors only, so its reports and token go
// to nobody else).
func (c *Credentials) ClientConfig(servers ...Role) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.cert},
		// The chain is verified below against the studio CA; host names are not part of the identity.
		InsecureSkipVerify: true,
		VerifyConnection: func(cs tls.ConnectionState) error {
			id, err := c.verify(cs.PeerCertificates, x509.ExtKeyUsageServerAuth)
			if err != nil {
				return err
			}
			if len(servers) > 0 && !slices.Contains(servers, id.Role) {
				return fmt.Errorf("peer is %s, expected a %v", id, servers)
			}
			return nil
		},
	}
}

// Peer is the identity of a verified TLS peer; ok is false without a certificate.
func Peer(cs tls.ConnectionState) (Identity, bool) {
	if len(cs.PeerCertificates) == 0 {
		return Identity{}, false
	}
	id, err := Of(cs.PeerCertificates[0])
	return id, err == nil
}
