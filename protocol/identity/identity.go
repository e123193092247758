// Package identity is Standby's studio PKI: a studio CA, certificates that say what a peer is
// (a supervisor, the agent of named machines, an operator's client), the mutual-TLS configs every
// protoactor link uses, and the table of which role may send which remote message.
//
// A role and its names travel in the certificate as URI SANs, "standby://agent/render-1": the
// identity is the certificate, not the address it comes from, so links are checked against the
// studio CA and not against host names (agents dial supervisors by IP). Only the standard library's
// crypto is used; nothing here is cryptography of its own.
package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
)

// Role is what a certificate's holder is.
type Role string

// Roles.
const (
	RoleSupervisor Role = "supervisor" // a Standby supervisor (the peer of a pair, a witness)
	RoleAgent      Role = "agent"      // the agent of the machines it names
	RoleOperator   Role = "operator"   // an operator's remote client (standby ctl)
)

// Roles lists the roles, for messages.
var Roles = []Role{RoleSupervisor, RoleAgent, RoleOperator}

func (r Role) valid() bool { return slices.Contains(Roles, r) }

// uriScheme is the scheme of the SANs carrying the identity.
const uriScheme = "standby"

// Identity is a certificate's role and names. An agent's names are the machines it may report
// as; a name ending in "*" covers every machine with that prefix (a host running many agents,
// the bench's load generator).
type Identity struct {
	Role  Role
	Names []string
}

func (id Identity) String() string {
	if id.Role == "" {
		return "unauthenticated"
	}
	return string(id.Role) + " " + strings.Join(id.Names, ",")
}

// Name is the first name (the one files and logs use).
func (id Identity) Name() string {
	if len(id.Names) == 0 {
		return ""
	}
	return id.Names[0]
}

// Covers reports whether an agent identity may report as machine.
func (id Identity) Covers(machine string) bool {
	if id.Role != RoleAgent {
		return false
	}
	for _, n := range id.Names {
		if n == machine || (strings.HasSuffix(n, "*") && strings.HasPrefix(machine, n[:len(n)-1])) {
			return true
		}
	}
	return false
}

// ErrNoIdentity is returned for a certificate that carries no Standby identity.
var ErrNoIdentity = errors.New("certificate carries no standby identity (issue it with `standby certs issue`)")

// Of reads the identity of a certificate. All its standby:// SANs must agree on the role.
func Of(c *x509.Certificate) (Identity, error) {
	var id Identity
	for _, u := range c.URIs {
		if u.Scheme != uriScheme {
			continue
		}
		role, name := Role(u.Host), strings.TrimPrefix(u.Path, "/")
		if !role.valid() || name == "" {
			return Identity{}, fmt.Errorf("certificate SAN %q: want standby://ROLE/NAME with ROLE one of %v", u.String(), Roles)
		}
		if id.Role != "" && id.Role != role {
			return Identity{}, fmt.Errorf("certificate names two roles, %s and %s", id.Role, role)
		}
		id.Role = role
		id.Names = append(id.Names, name)
	}
	if id.Role == "" {
		return Identity{}, ErrNoIdentity
	}
	return id, nil
}

// uris are the SANs of an identity.
func (id Identity) uris() []*url.URL {
	us := make([]*url.URL, len(id.Names))
	for i, n := range id.Names {
		us[i] = &url.URL{Scheme: uriScheme, Host: string(id.Role), Path: "/" + n}
	}
	return us
}

// CheckName reports what is wrong with a name for a certificate: names become file names and URI
// paths, so they are kept to what machine names use.
func CheckName(role Role, name string) error {
	if name == "" {
		return fmt.Errorf("empty %s name", role)
	}
	if len(name) > 128 {
		return fmt.Errorf("%s name %q is longer than 128 bytes", role, name)
	}
	for i, r := range name {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') ||
			(r == '*' && role == RoleAgent && i == len(name)-1)
		if !ok {
			return fmt.Errorf("%s name %q: %q is not allowed (letters, digits, '-', '_', '.'; an agent name may end in '*')", role, name, r)
		}
	}
	if name[0] == '.' {
		return fmt.Errorf("%s name %q may not start with '.'", role, name)
	}
	return nil
}
