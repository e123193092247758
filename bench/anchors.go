package bench

import "time"

// Anchor is a published figure a result is compared with (shared/notes/anchors.md).
type Anchor struct {
	// Key is a short column name.
	Key string `json:"key"`
	// Name says what the figure is.
	Name string `json:"name"`
	// Value is the figure.
	Value time.Duration `json:"-"`
	// ValueMS is Value in milliseconds (for JSON).
	ValueMS float64 `json:"value_ms"`
	// Source is where it comes from and how sure it is.
	Source string `json:"source"`
	// Manual tells which scenarios it is compared with: the manual switch (true) or the automatic
	// failovers (false).
	Manual bool `json:"manual"`
}

// Anchors are the figures every result is set against.
var Anchors = []Anchor{
	{Key: "frame60", Name: "Pixotope manual switch, 1 frame at 59.94p", Value: 16700 * time.Microsecond, Manual: true,
		Source: "quoted 'manual ~1 frame' (help.pixotope.com render backups; values truncated in the retrieved copy, unverified); 59.94p frame = 16.7 ms"},
	{Key: "frame25", Name: "Pixotope manual switch, 1 frame at 25p", Value: 40 * time.Millisecond, Manual: true,
		Source: "as above; 25p frame = 40 ms"},
	{Key: "bfd", Name: "BFD 3 x 50 ms (Cisco Nexus default)", Value: 150 * time.Millisecond,
		Source: "Cisco Nexus 9000 NX-OS 'bfd interval 50 min_rx 50 multiplier 3'"},
	{Key: "pixauto", Name: "Pixotope automatic failover, at most 1 s", Value: time.Second,
		Source: "quoted 'automatic max 1 s' (help.pixotope.com render backups; unverified)"},
	{Key: "keepalived", Name: "keepalived/VRRP default, at most 3.6 s", Value: 3600 * time.Millisecond,
		Source: "3 x advert_int 1 s + skew (256-100)/256 s, priority 100 (macdevcenter keepalived article)"},
}

func init() {
	for i := range Anchors {
		Anchors[i].ValueMS = ms(Anchors[i].Value)
	}
}

// anchorsFor returns the anchors a scenario is compared with.
func anchorsFor(sc string) []Anchor {
	var out []Anchor
	for _, a := range Anchors {
		if a.Manual == (sc == Manual) {
			out = append(out, a)
		}
	}
	return out
}

// Goal is a target a scenario's p99 must meet (from the issue), or none.
type Goal struct {
	P99   time.Duration `json:"-"`
	P99MS float64       `json:"p99_ms"`
	Text  string        `json:"text"`
}

// goalFor returns the p99 goal of a scenario for a heartbeat timeout, and false when there is none.
func goalFor(sc string, heartbeatTimeout time.Duration) (Goal, bool) {
	var g Goal
	switch sc {
	case Crash:
		g = Goal{P99: 5 * time.Millisecond, Text: "p99 <= 5 ms"}
	case Critical:
		g = Goal{P99: 5 * time.Millisecond, Text: "p99 <= 5 ms (as crash: an event, not a timeout)"}
	case Hang:
		g = Goal{P99: heartbeatTimeout + 10*time.Millisecond, Text: "p99 <= heartbeat_timeout + 10 ms"}
	case Manual:
		g = Goal{P99: time.Millisecond, Text: "p99 <= 1 ms"}
	case Takeover:
		g = Goal{P99: takeoverOffset + 250*time.Millisecond, Text: "p99 <= failover_offset + 250 ms"}
	default:
		return Goal{}, false
	}
	g.P99MS = ms(g.P99)
	return g, true
}
