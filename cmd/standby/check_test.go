package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"standby/protocol/identity"
)

func TestCheckListsEveryErrorAndExits1(t *testing.T) {
	var out, errs bytes.Buffer
	if code := check(&out, &errs, "../../conf/testdata/bad.toml"); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errs.String(), "13 error(s)") || !strings.Contains(errs.String(), `pair "cam1".backup: "render-9" is not a [[machine]]`) {
		t.Fatalf("stderr:\n%s", errs.String())
	}
}

func TestCheckSummarisesDemo(t *testing.T) {
	var out, errs bytes.Buffer
	if code := check(&out, &errs, ""); code != 0 {
		t.Fatalf("exit %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), `pair "cam1": render-1 → render-1b`) {
		t.Fatalf("summary:\n%s", out.String())
	}
}

// TestCheckTLS: check loads the [tls] files as start would: a valid supervisor certificate is
// summarised, a missing file or another role's certificate is an error naming it (exit 1), and
// a config without [tls] is warned about.
func TestCheckTLS(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	if err := identity.Init(dir, "test", now); err != nil {
		t.Fatal(err)
	}
	write := func(name string) string {
		crt, key := identity.CertFiles(dir, name)
		path := filepath.Join(dir, name+".toml")
		text := fmt.Sprintf("[supervisor]\nname = %q\n[tls]\nca = %q\ncert = %q\nkey = %q\n", name, filepath.Join(dir, identity.CAFile), crt, key)
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var out, errs bytes.Buffer
	if code := check(&out, &errs, write("studio-a")); code != 1 || !strings.Contains(errs.String(), "studio-a.crt") {
		t.Fatalf("missing certificate: exit %d, %s", code, errs.String())
	}
	for _, o := range []identity.IssueOptions{{Role: identity.RoleSupervisor, Names: []string{"studio-a"}}, {Role: identity.RoleAgent, Names: []string{"render-1"}}} {
		if _, _, err := identity.Issue(dir, o, now); err != nil {
			t.Fatal(err)
		}
	}
	out.Reset()
	errs.Reset()
	if code := check(&out, &errs, write("studio-a")); code != 0 || !strings.Contains(out.String(), "links: mutual TLS as supervisor studio-a") || strings.Contains(errs.String(), "not authenticated") {
		t.Fatalf("valid: exit %d\n%s%s", code, out.String(), errs.String())
	}
	errs.Reset()
	if code := check(&out, &errs, write("render-1")); code != 1 || !strings.Contains(errs.String(), "not of a supervisor") {
		t.Fatalf("agent certificate: exit %d, %s", code, errs.String())
	}
	errs.Reset()
	plain := filepath.Join(dir, "plain.toml")
	_ = os.WriteFile(plain, []byte("[supervisor]\nname = \"p\"\n"), 0o644)
	if code := check(&out, &errs, plain); code != 0 || !strings.Contains(errs.String(), "warning: tls: not set") {
		t.Fatalf("plaintext: exit %d, %s", code, errs.String())
	}
}

// TestPackagedConfigsAreValid: the configs the Debian package installs in /etc/standby pass
// `standby check` (exit 0) and `standby check --agent`.
func TestPackagedConfigsAreValid(t *testing.T) {
	var out, errs bytes.Buffer
	if code := check(&out, &errs, "../../.packaging/standby.toml"); code != 0 {
		t.Errorf("standby.toml: exit %d\n%s", code, errs.String())
	}
	out.Reset()
	errs.Reset()
	if code := checkAgent(&out, &errs, "../../.packaging/agent.toml"); code != 0 || !strings.Contains(out.String(), `agent "render-1"`) {
		t.Errorf("agent.toml: exit %d\n%s%s", code, out.String(), errs.String())
	}
	if code := checkAgent(&out, &errs, "../../conf/testdata/bad.toml"); code != 1 {
		t.Errorf("a supervisor's bad config as an agent's: exit %d", code)
	}
}
