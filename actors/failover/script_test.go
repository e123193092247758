package failover

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata/*.txt")

// TestScripts runs the scenario scripts in testdata. Each block is commands, a "----" line, and
// the actions expected from the last command; blank lines separate blocks. Run
// `go test ./actors/failover -rewrite` after a deliberate change and read the diff.
//
// Commands:
//
//	config [manual] [critical] [failback=DUR] [flap=N/DUR] [timeout=DUR] [retry=DUR]
//	main|backup up [warning|critical DETAIL] | down TRIGGER [DETAIL] | unknown
//	advance DUR          (moves the clock and ticks; a tick before the pair's Wake time must do nothing)
//	wake                 (when the pair next needs a tick, from now)
//	switch main|backup   (operator)
//	mode automatic|manual, failback automatic|manual, ack KIND
//	result EPOCH ok [LATENCY] | result EPOCH fail REASON
//	router-ready
//	router-shows main|backup | router-shows mixed DETAIL
//	locked yes|no
//	status
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) { runScript(t, f) })
	}
}

type block struct {
	comments []string
	cmds     []string
	expected []string
}

func parseScript(t *testing.T, path string) []block {
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

func runScript(t *testing.T, path string) {
	blocks := parseScript(t, path)
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	p := New(Config{Machines: [2]string{"render-1", "render-1b"}, Automatic: true})
	var out strings.Builder
	for i, b := range blocks {
		var got []string
		for _, cmd := range b.cmds {
			got = runCommand(t, &p, &now, cmd)
		}
		if *rewrite {
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
	if *rewrite {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func runCommand(t *testing.T, pp **Pair, now *time.Time, cmd string) []string {
	t.Helper()
	f := strings.Fields(cmd)
	p := *pp
	var ev Event
	switch f[0] {
	case "config":
		cfg := Config{Machines: [2]string{"render-1", "render-1b"}, Automatic: true}
		for _, o := range f[1:] {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "manual":
				cfg.Automatic = false
			case "critical":
				cfg.SwitchOnCritical = true
			case "failback":
				cfg.AutoFailback, cfg.FailbackAfter = true, dur(t, v)
			case "flap":
				n, w, _ := strings.Cut(v, "/")
				cfg.FlapMax, _ = strconv.Atoi(n)
				cfg.FlapWindow = dur(t, w)
			case "timeout":
				cfg.SwitchTimeout = dur(t, v)
			case "retry":
				cfg.RetryAfter = dur(t, v)
			case "force":
				cfg.ForceUnlock = true
			default:
				t.Fatalf("config: unknown option %q", o)
			}
		}
		*pp = New(cfg)
		return nil
	case "main", "backup":
		side := Main
		if f[0] == "backup" {
			side = Backup
		}
		c := Condition{Known: true}
		switch f[1] {
		case "up":
			if len(f) > 2 {
				c.Level = map[string]Level{"warning": Warning, "critical": Critical}[f[2]]
				c.Detail = strings.Join(f[3:], " ")
			}
		case "down":
			c.Failure, c.Detail = Trigger(f[2]), strings.Join(f[3:], " ")
		case "unknown":
			c = Condition{}
		default:
			t.Fatalf("bad machine command %q", cmd)
		}
		ev = MachineChanged{Side: side, Condition: c}
	case "advance":
		wake := p.Wake(*now)
		*now = now.Add(dur(t, f[1]))
		acts, err := p.Step(*now, Tick{})
		if err != nil {
			return []string{"error: " + err.Error()}
		}
		if len(acts) > 0 && (wake.IsZero() || now.Before(wake)) {
			t.Errorf("%q: a tick before the pair's wake time (%v) acted: %v", cmd, wake, formatActions(acts))
		}
		return formatActions(acts)
	case "wake":
		if w := p.Wake(*now); !w.IsZero() {
			return []string{"wake in " + w.Sub(*now).String()}
		}
		return []string{"wake never"}
	case "switch":
		ev = Switch{To: side(t, f[1]), By: "op"}
	case "mode":
		ev = SetMode{Automatic: f[1] == "automatic", By: "op"}
	case "failback":
		ev = SetFailback{Automatic: f[1] == "automatic", By: "op"}
	case "ack":
		ev = Acknowledge{Kind: AlarmKind(f[1]), By: "op"}
	case "result":
		epoch, _ := strconv.ParseUint(f[1], 10, 64)
		r := RouteResult{Epoch: epoch, OK: f[2] == "ok"}
		if r.OK && len(f) > 3 {
			r.Latency = dur(t, f[3])
		}
		if !r.OK {
			r.Reason = strings.Join(f[3:], " ")
		}
		ev = r
	case "router-ready":
		ev = RouterReady{}
	case "router-shows":
		if f[1] == "mixed" {
			ev = RouterShows{Detail: strings.Join(f[2:], " ")}
		} else {
			ev = RouterShows{Known: true, Side: side(t, f[1])}
		}
	case "locked":
		ev = OutputsLocked{Locked: f[1] == "yes", Detail: "output 1 locked by another client"}
	case "status":
		return statusLines(p.Status())
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	acts, err := p.Step(*now, ev)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	return formatActions(acts)
}

func formatActions(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case Transition:
			s := fmt.Sprintf("transition %s -> %s", a.From, a.To)
			if a.Trigger != "" {
				s += " trigger=" + string(a.Trigger)
			}
			if a.Detail != "" {
				s += fmt.Sprintf(" (%s)", a.Detail)
			}
			if a.Latency > 0 {
				s += " in " + a.Latency.String()
			}
			out = append(out, s)
		case Route:
			out = append(out, fmt.Sprintf("route epoch=%d to=%s machine=%s trigger=%s force=%v", a.Epoch, a.To, a.Machine, a.Trigger, a.Force))
		case AlarmRaised:
			out = append(out, fmt.Sprintf("alarm+ %s: %s", a.Kind, a.Message))
		case AlarmCleared:
			out = append(out, fmt.Sprintf("alarm- %s", a.Kind))
		case Note:
			out = append(out, "note: "+a.Message)
		default:
			out = append(out, fmt.Sprintf("%T %+v", a, a))
		}
	}
	return out
}

func statusLines(s Status) []string {
	out := []string{fmt.Sprintf("state=%s on-air=%s automatic=%v failback=%v latched=%v epoch=%d", s.State, s.OnAir, s.Automatic, s.Failback, s.Latched, s.Epoch)}
	for _, a := range s.Alarms {
		out = append(out, fmt.Sprintf("alarm %s active=%v acked=%v", a.Kind, a.Active, a.Acked))
	}
	return out
}

func dur(t *testing.T, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("bad duration %q", s)
	}
	return d
}

func side(t *testing.T, s string) Side {
	switch s {
	case "main":
		return Main
	case "backup":
		return Backup
	}
	t.Fatalf("bad side %q", s)
	return 0
}
