package router

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"standby/protocol/videohub/vhsim"
)

func TestCLI(t *testing.T) {
	s := sim(t, vhsim.Faults{})
	run := func(cmd string, args ...string) (string, error) {
		var out bytes.Buffer
		err := RunCLI(context.Background(), CLIOptions{Address: s.Addr(), Command: cmd, Args: args, Out: &out, Log: zerolog.New(zerolog.NewTestWriter(t))})
		return out.String(), err
	}
	out, err := run("route", "3", "7")
	if err != nil || !strings.Contains(out, "confirmed") || s.State().Routes[2] != 6 {
		t.Fatalf("route: %v %q, out3←%d", err, out, s.State().Routes[2]+1)
	}
	out, err = run("status")
	if err != nil || !strings.Contains(out, "12 inputs × 12 outputs") || !strings.Contains(out, "3       Output 3   7      Input 7") {
		t.Fatalf("status: %v\n%s", err, out)
	}
	if err := s.SetLockOwner(4, "10.1.1.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("route", "5", "1"); !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), "locked") {
		t.Fatalf("route to a locked output: %v", err)
	}
	if _, err := run("route", "0", "1"); err == nil || !strings.Contains(err.Error(), "numbered from 1") {
		t.Fatalf("output 0: %v", err)
	}
	if _, err := run("force-unlock", "5"); err != nil {
		t.Fatal(err)
	}
	if _, err := run("route", "5", "1"); err != nil {
		t.Fatalf("route after force-unlock: %v", err)
	}
}
