//go:build ignore

// testsum reads `go test -json` on stdin and prints what a plain `go test` prints for packages
// (ok / FAIL / no test files lines), the full output of every failed test, every skipped test with
// its reason, and a closing "N passed, N failed, N skipped" line. It exits 1 when a test failed,
// a package failed (to build, or outside its tests), or a test was skipped that the allow list (-allow FILE: lines of
// "package TestName", # comments) does not name; a TestName ending in / also allows its subtests.
//
//	go test -json ./... | go run .ci/testsum.go -allow .ci/skips-allowed
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type key struct{ pkg, test string }

func main() {
	allowPath := flag.String("allow", "", "file of allowed skips: \"package TestName\" per line")
	flag.Parse()
	allowed, err := readAllow(*allowPath)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsum:", err)
		os.Exit(2)
	}
	os.Exit(summarize(os.Stdin, os.Stdout, allowed))
}

func readAllow(path string) (map[key]bool, error) {
	allowed := map[key]bool{}
	if path == "" {
		return allowed, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	for i, line := range strings.Split(string(b), "\n") {
		if j := strings.IndexByte(line, '#'); j >= 0 {
			line = line[:j]
		}
		f := strings.Fields(line)
		switch len(f) {
		case 0:
		case 2:
			allowed[key{f[0], f[1]}] = true
		default:
			return nil, fmt.Errorf("%s:%d: want \"package TestName\", got %q", path, i+1, line)
		}
	}
	return allowed, nil
}

func (k key) allowedBy(allowed map[key]bool) bool {
	if allowed[k] {
		return true
	}
	for name := k.test; ; {
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return false
		}
		name = name[:i]
		if allowed[key{k.pkg, name + "/"}] {
			return true
		}
	}
}

func summarize(in io.Reader, out io.Writer, allowed map[key]bool) int {
	outputs := map[key][]string{}
	var passed, failed, skipped int
	var skips []string
	var refused []string
	buildFailed, pkgFailed := false, false
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if err := json.Unmarshal(line, &e); err != nil || e.Action == "" {
			fmt.Fprintln(out, string(line)) // not an event: pass it on
			continue
		}
		k := key{e.Package, e.Test}
		switch e.Action {
		case "output", "build-output":
			if e.Test == "" {
				if e.Action == "build-output" || !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "--- ") &&
					!strings.HasPrefix(e.Output, "PASS\n") {
					fmt.Fprint(out, e.Output)
				}
				continue
			}
			outputs[k] = append(outputs[k], e.Output)
		case "build-fail":
			buildFailed = true
		case "pass":
			if e.Test != "" {
				passed++
				delete(outputs, k)
			}
		case "fail":
			if e.Test == "" {
				pkgFailed = true // a build failure, a panic outside a test, a TestMain's exit code
				continue
			}
			failed++
			fmt.Fprint(out, strings.Join(outputs[k], ""))
			delete(outputs, k)
		case "skip":
			if e.Test == "" {
				continue // a package without tests
			}
			skipped++
			reason := skipReason(outputs[k])
			delete(outputs, k)
			s := fmt.Sprintf("%s %s: %s", e.Package, e.Test, reason)
			skips = append(skips, s)
			if !k.allowedBy(allowed) {
				refused = append(refused, s)
			}
		}
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(out, "testsum: reading go test -json:", err)
		return 1
	}
	sort.Strings(skips)
	if len(skips) > 0 {
		fmt.Fprintln(out, "skipped tests:")
		for _, s := range skips {
			fmt.Fprintln(out, "  "+s)
		}
	}
	status := 0
	if len(refused) > 0 {
		fmt.Fprintln(out, "skips not on the allow list (.ci/skips-allowed) fail CI:")
		for _, s := range refused {
			fmt.Fprintln(out, "  "+s)
		}
		status = 1
	}
	if failed > 0 || buildFailed || pkgFailed {
		status = 1
	}
	fmt.Fprintf(out, "%d passed, %d failed, %d skipped\n", passed, failed, skipped)
	return status
}

// skipReason is the message t.Skip printed: the test's output after its "=== RUN" line, without
// the "--- SKIP" line.
func skipReason(lines []string) string {
	var parts []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 {
		return "(no reason given)"
	}
	return strings.Join(parts, " ")
}
