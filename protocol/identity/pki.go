package identity

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"standby/conf/atomicfile"
)

// File names in a certificate directory.
const (
	CAFile    = "ca.crt"
	CAKeyFile = "ca.key"
)

// Validity of what Init and Issue create.
const (
	CAValidity   = 10 * 365 * 24 * time.Hour
	CertValidity = 2 * 365 * 24 * time.Hour
	// backdate covers clocks a little behind the issuer's.
	backdate = time.Hour
)

// ErrExists is returned when Init or Issue would overwrite a file.
var ErrExists = errors.New("already exists")

// CertFiles are the paths of one holder's certificate and key in dir.
func CertFiles(dir, name string) (cert, key string) {
	base := strings.ReplaceAll(name, "*", "all")
	return filepath.Join(dir, base+".crt"), filepath.Join(dir, base+".key")
}

// Init creates a studio CA in dir (dir/ca.crt, dir/ca.key; the key readable by its owner only).
// It never overwrites: an existing CA is ErrExists.
func Init(dir, studio string, now time.Time) error {
	if studio == "" {
		studio = "studio"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	crt, key := filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile)
	for _, p := range []string{crt, key} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s: %w", p, ErrExists)
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "standby studio CA " + studio, Organization: []string{"Standby"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		return err
	}
	return writePair(crt, key, der, k)
}

// IssueOptions say what to issue.
type IssueOptions struct {
	Role  Role
	Names []string
	// Validity defaults to CertValidity.
	Validity time.Duration
	// Overwrite replaces existing files (re-issuing an expired certificate).
	Overwrite bool
}

// Issue signs a certificate for o with the CA in dir and writes it next to it as NAME.crt and
// NAME.key (NAME the first name). It returns the paths.
func Issue(dir string, o IssueOptions, now time.Time) (certPath, keyPath string, err error) {
	if !o.Role.valid() {
		return "", "", fmt.Errorf("role %q: want one of %v", o.Role, Roles)
	}
	if len(o.Names) == 0 {
		return "", "", fmt.Errorf("no %s name", o.Role)
	}
	for _, n := range o.Names {
		if err := CheckName(o.Role, n); err != nil {
			return "", "", err
		}
	}
	if o.Validity <= 0 {
		o.Validity = CertValidity
	}
	ca, caKey, err := loadCA(dir)
	if err != nil {
		return "", "", err
	}
	certPath, keyPath = CertFiles(dir, o.Names[0])
	if !o.Overwrite {
		for _, p := range []string{certPath, keyPath} {
			if _, err := os.Stat(p); err == nil {
				return "", "", fmt.Errorf("%s: %w (pass --force to replace it)", p, ErrExists)
			}
		}
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", err
	}
	id := Identity{Role: o.Role, Names: o.Names}
	notAfter := now.Add(o.Validity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "standby " + id.String(), Organization: []string{"Standby"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		// Every node is a server (peers dial back to answer) and a client.
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		URIs:        id.uris(),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
	if err != nil {
		return "", "", err
	}
	return certPath, keyPath, writePair(certPath, keyPath, der, k)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return n
}

func writePair(crtPath, keyPath string, der []byte, k *ecdsa.PrivateKey) error {
	kd, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	if err := writeFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		return err
	}
	return writeFile(crtPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

// writeFile writes atomically (a crash leaves the old file or the new one).
func writeFile(path string, b []byte, mode os.FileMode) error { return atomicfile.Write(path, b, mode) }

func loadCA(dir string) (*x509.Certificate, any, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, CAFile), filepath.Join(dir, CAKeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("studio CA in %s: %w (create one with `standby certs init --dir %s`)", dir, err, dir)
	}
	ca, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, nil, err
	}
	if !ca.IsCA {
		return nil, nil, fmt.Errorf("%s is not a CA certificate", filepath.Join(dir, CAFile))
	}
	return ca, pair.PrivateKey, nil
}

// ReadCert parses the first certificate of a PEM file.
func ReadCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("%s: no PEM certificate in it", path)
		}
		if blk.Type == "CERTIFICATE" {
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			return c, nil
		}
	}
}

// Describe is what `standby certs show` prints of a certificate.
func Describe(c *x509.Certificate, now time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "subject:   %s\n", c.Subject.CommonName)
	fmt.Fprintf(&b, "issuer:    %s\n", c.Issuer.CommonName)
	if c.IsCA {
		fmt.Fprintf(&b, "kind:      studio CA\n")
	} else if id, err := Of(c); err != nil {
		fmt.Fprintf(&b, "identity:  none (%v)\n", err)
	} else {
		fmt.Fprintf(&b, "role:      %s\nnames:     %s\n", id.Role, strings.Join(id.Names, ", "))
	}
	fmt.Fprintf(&b, "valid:     %s to %s", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	switch {
	case now.After(c.NotAfter):
		b.WriteString(" (EXPIRED)")
	case now.Before(c.NotBefore):
		b.WriteString(" (NOT YET VALID)")
	default:
		fmt.Fprintf(&b, " (%d days left)", int(c.NotAfter.Sub(now).Hours()/24))
	}
	fmt.Fprintf(&b, "\nserial:    %x\n", c.SerialNumber)
	return b.String()
}

// Ensure returns the files of o's first name in dir, issuing them with the CA in dir first when
// they are missing or expire within a day (the demo studio, bench and tests keep their own CA). It
// creates the CA too when dir has none.
func Ensure(dir string, o IssueOptions, now time.Time) (certPath, keyPath string, err error) {
	if _, err := os.Stat(filepath.Join(dir, CAFile)); errors.Is(err, os.ErrNotExist) {
		if err := Init(dir, "generated", now); err != nil {
			return "", "", err
		}
	}
	certPath, keyPath = CertFiles(dir, o.Names[0])
	if c, err := ReadCert(certPath); err == nil && now.Add(24*time.Hour).Before(c.NotAfter) {
		id, err := Of(c)
		same := err == nil && id.Role == o.Role && slices.Equal(id.Names, o.Names)
		if _, err := os.Stat(keyPath); err == nil && same {
			return certPath, keyPath, nil
		}
	}
	o.Overwrite = true
	return Issue(dir, o, now)
}
