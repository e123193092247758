// Package script runs the scenario scripts of Standby's pure state machines (the failover engine,
// the redundancy decision): files of blocks, each some commands, a "----" line and the output
// expected from the last command, blocks separated by blank lines, "#" comment lines above a
// block. With rewrite the expected output is replaced by what the commands print now (read the
// diff). It is the small part of cockroachdb/datadriven these tests need; that module is not
// served by the module proxy here.
package script

import (
	"bufio"
	"fmt"
	"os"
	"strings"
	"testing"
)

type block struct {
	comments []string
	cmds     []string
	expected []string
}

func parse(t testing.TB, path string) []block {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var blocks []block
	var cur *block
	var comments []string
	inExpected := false
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.TrimSpace(line) == "":
			cur, inExpected = nil, false
		case cur == nil && strings.HasPrefix(line, "#"):
			comments = append(comments, line)
		case line == "----":
			inExpected = true
		default:
			if cur == nil {
				blocks = append(blocks, block{comments: comments})
				cur, comments = &blocks[len(blocks)-1], nil
			}
			if inExpected {
				cur.expected = append(cur.expected, line)
			} else {
				cur.cmds = append(cur.cmds, line)
			}
		}
	}
	return blocks
}

// Run runs the script at path, handing each command to step and comparing what the last
// command of each block printed with the block's expected lines (rewriting them when rewrite).
func Run(t testing.TB, path string, rewrite bool, step func(cmd string) []string) {
	t.Helper()
	var out strings.Builder
	for i, b := range parse(t, path) {
		var got []string
		for _, cmd := range b.cmds {
			got = step(cmd)
		}
		if rewrite {
			for _, c := range b.comments {
				fmt.Fprintln(&out, c)
			}
			fmt.Fprintf(&out, "%s\n----\n", strings.Join(b.cmds, "\n"))
			for _, g := range got {
				fmt.Fprintln(&out, g)
			}
			out.WriteString("\n")
			continue
		}
		if strings.Join(got, "\n") != strings.Join(b.expected, "\n") {
			t.Errorf("%s block %d (%s):\n got:\n  %s\n want:\n  %s", path, i+1, strings.Join(b.cmds, "; "),
				strings.Join(got, "\n  "), strings.Join(b.expected, "\n  "))
		}
	}
	if rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
