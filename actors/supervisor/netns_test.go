package supervisor

import (
	"fmt"
	"os"
	"testing"
)

// noNetns skips a test that needs network namespaces where they cannot be had (not root, no ip
// command, `ip netns add` refused), or fails it when STANDBY_REQUIRE_NETNS is set, as .ci/run
// does: CI must run the partition tests, not skip them quietly.
func noNetns(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("STANDBY_REQUIRE_NETNS") != "" {
		t.Fatal(msg + " and STANDBY_REQUIRE_NETNS is set")
	}
	t.Skip(msg)
}
