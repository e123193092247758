package redundancy

import (
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"standby/actors/script"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected output in testdata/*.txt")

// TestScripts runs the scenario scripts in testdata (`go test ./actors/redundancy -rewrite`
// after a deliberate change, then read the diff). Commands:
//
//	config mode=MODE [agents=N] [offset=DUR] [failback=automatic|manual] [term=T]   (a new machine, now)
//	advance DUR                                 (time passes; a tick)
//	peer MODE TERM active|standby [hears|stale] [wants] [promoted] [protocol=N] [name=NAME]   (a beat from the peer)
//	votes REPORTING HEAR [HEAR_ACTIVE]          (the agents' tally)
//	make-primary
//	state                                       (the active peer's state arrived)
//	beat                                        (what this side sends)
//	status
func TestScripts(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.txt")
	if len(files) == 0 {
		t.Fatal("no scripts in testdata")
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			sc := &scenario{t: t, now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
			script.Run(t, f, *rewrite, sc.run)
		})
	}
}

type scenario struct {
	t   *testing.T
	m   *Machine
	now time.Time
	// held is the state document this side holds (sent with every tick); peerDoc the one an
	// active peer's beats say it holds (default 1.1); a standby peer's beats say it holds held.
	held    Tick
	peerDoc [2]uint64
}

// stateOf reads T.R.
func stateOf(t *testing.T, v string) [2]uint64 {
	a, b, _ := strings.Cut(v, ".")
	x, err1 := strconv.ParseUint(a, 10, 64)
	y, err2 := strconv.ParseUint(b, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("bad state %q (want TERM.REVISION)", v)
	}
	return [2]uint64{x, y}
}

func (sc *scenario) run(cmd string) []string {
	t := sc.t
	f := strings.Fields(cmd)
	var ev Event
	switch f[0] {
	case "config":
		cfg := Config{Name: "here", FailoverOffset: time.Second, AutoFailback: true}
		var term uint64
		for _, o := range f[1:] {
			k, v, _ := strings.Cut(o, "=")
			switch k {
			case "mode":
				cfg.Mode = v
			case "agents":
				cfg.Agents, _ = strconv.Atoi(v)
			case "offset":
				cfg.FailoverOffset = dur(t, v)
			case "failback":
				cfg.AutoFailback = v == "automatic"
			case "term":
				term, _ = strconv.ParseUint(v, 10, 64)
			default:
				t.Fatalf("config: unknown option %q", o)
			}
		}
		sc.m = New(cfg, term, sc.now)
		sc.held, sc.peerDoc = Tick{}, [2]uint64{1, 1}
		return nil
	case "advance":
		sc.now = sc.now.Add(dur(t, f[1]))
		ev = sc.held
	case "holds": // holds TERM.REVISION [err=WHY]: the document this side holds
		st := stateOf(t, f[1])
		sc.held = Tick{StateTerm: st[0], StateRevision: st[1]}
		if len(f) > 2 {
			sc.held.StateErr = strings.TrimPrefix(strings.Join(f[2:], " "), "err=")
		}
		ev = sc.held
	case "resync":
		ev = Resync{}
	case "peer":
		term, _ := strconv.ParseUint(f[2], 10, 64)
		b := PeerBeat{Name: "there", Mode: f[1], Protocol: Protocol, Term: term, Active: f[3] == "active",
			StateTerm: sc.held.StateTerm, StateRevision: sc.held.StateRevision}
		if b.Active {
			b.StateTerm, b.StateRevision = sc.peerDoc[0], sc.peerDoc[1]
		}
		for _, o := range f[4:] {
			switch k, v, _ := strings.Cut(o, "="); k {
			case "state": // the document the peer holds; an active peer's stays its own
				st := stateOf(t, v)
				b.StateTerm, b.StateRevision = st[0], st[1]
				if b.Active {
					sc.peerDoc = st
				}
			case "staterr":
				b.StateErr = v
			case "wantstate":
				b.WantState = true
			case "hears":
				b.HearsYou, b.Ack = true, sc.m.seq
			case "stale": // says it hears this side, but acknowledges none of its recent beats
				b.HearsYou, b.Ack = true, 0
			case "wants":
				b.WantActive = true
			case "promoted":
				b.Promoted = true
			case "protocol":
				n, _ := strconv.Atoi(v)
				b.Protocol = uint32(n)
			case "name":
				b.Name = v
			default:
				t.Fatalf("peer: unknown option %q", o)
			}
		}
		ev = b
	case "votes":
		var v Votes
		v.Reporting, _ = strconv.Atoi(f[1])
		v.Hear, _ = strconv.Atoi(f[2])
		if len(f) > 3 {
			v.HearActive, _ = strconv.Atoi(f[3])
		}
		ev = v
	case "make-primary":
		ev = MakePrimary{By: "op"}
	case "state": // the active peer's document arrived and was taken
		sc.held = Tick{StateTerm: sc.peerDoc[0], StateRevision: sc.peerDoc[1], Adopted: sc.held.Adopted + 1}
		ev = sc.held
	case "beat":
		b := sc.m.Beat(sc.now)
		return []string{fmt.Sprintf("beat term=%d active=%v hears=%v wants=%v promoted=%v state=%d.%d wantstate=%v send=%v", b.Term, b.Active, b.HearsYou, b.WantActive, b.Promoted,
			b.StateTerm, b.StateRevision, b.WantState, sc.m.SendState())}
	case "status":
		active, term := sc.m.Active()
		st, detail := sc.m.Status()
		return []string{fmt.Sprintf("active=%v term=%d status=%s (%s)", active, term, st, detail)}
	default:
		t.Fatalf("unknown command %q", cmd)
	}
	return actionLines(sc.m.Step(sc.now, ev))
}

func actionLines(acts []Action) []string {
	var out []string
	for _, a := range acts {
		switch a := a.(type) {
		case SetRole:
			role := "standby"
			if a.Active {
				role = "active"
			}
			out = append(out, fmt.Sprintf("role %s term=%d: %s", role, a.Term, a.Why))
		case StatusChanged:
			out = append(out, fmt.Sprintf("status %s (%s)", a.Status, a.Detail))
		}
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

// TestQuorum: a silence is believed when at least one and at least half of the agents report.
func TestQuorum(t *testing.T) {
	for _, c := range []struct {
		fresh, agents int
		ok            bool
	}{{0, 0, true}, {0, 2, false}, {1, 2, true}, {1, 3, false}, {2, 3, true}, {5, 10, true}, {4, 10, false}} {
		if got := Quorum(c.fresh, c.agents); got != c.ok {
			t.Errorf("Quorum(%d, %d) = %v", c.fresh, c.agents, got)
		}
	}
}
