package conf

import (
	"bytes"
	"fmt"
	"reflect"

	"github.com/BurntSushi/toml"
)

// The studio is what a supervisor pair shares: routers, machines, pairs, pools, operators,
// actions and the demo script. The primary's is synced to the secondary, whose own file needs only [supervisor],
// [redundancy] and [tls] (what differs between the two supervisors).

// StudioTOML is c's studio sections as TOML.
func StudioTOML(c *Config) (string, error) {
	s := studio(c)
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(&s); err != nil {
		return "", err
	}
	return b.String(), nil
}

// studioSections holds the studio sections of a Config, in its keys.
type studioSections struct {
	Routers   []Router   `toml:"router"`
	Machines  []Machine  `toml:"machine"`
	Pairs     []Pair     `toml:"pair"`
	Pools     []Pool     `toml:"pool"`
	Operators []Operator `toml:"operator"`
	Demo      Demo       `toml:"demo"`
	Actions   []Action   `toml:"action"`
	Limits    Actions    `toml:"actions"`
}

func studio(c *Config) studioSections {
	return studioSections{Routers: c.Routers, Machines: c.Machines, Pairs: c.Pairs, Pools: c.Pools, Operators: c.Operators, Demo: c.Demo,
		Actions: c.Actions, Limits: c.ActionLimits}
}

// WithStudio returns own (a secondary's config) with its studio sections replaced by those of
// studio (StudioTOML of the primary's), validated like a file.
func WithStudio(own *Config, studioTOML string) (*Config, error) {
	var s studioSections
	md, err := toml.Decode(studioTOML, &s)
	if err != nil {
		return nil, fmt.Errorf("studio from the primary: %v", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("studio from the primary: unknown key %s (is the peer a newer Standby?)", u[0])
	}
	next := *own
	next.Routers, next.Machines, next.Pairs, next.Pools, next.Operators, next.Demo = s.Routers, s.Machines, s.Pairs, s.Pools, s.Operators, s.Demo
	next.Actions, next.ActionLimits = s.Actions, s.Limits
	valid, err := Check(&next)
	if err != nil {
		return nil, fmt.Errorf("studio from the primary with this file's [supervisor], [redundancy] and [tls]:\n%v", err)
	}
	return valid, nil
}

// HasStudio reports whether c's file has any studio section.
func HasStudio(c *Config) bool {
	return len(c.Routers)+len(c.Machines)+len(c.Pairs)+len(c.Pools)+len(c.Operators)+len(c.Actions) > 0 || len(c.Demo.Steps) > 0
}

// StudioDiff names the studio entries that differ between a and b (at most max), e.g.
// `pair "cam1"` or `machine "render-9" (only in the first)`.
func StudioDiff(a, b *Config, max int) []string {
	var out []string
	add := func(s string) {
		if len(out) < max {
			out = append(out, s)
		}
	}
	diffNamed(add, "router", a.Routers, b.Routers, func(r Router) string { return r.Name })
	diffNamed(add, "machine", a.Machines, b.Machines, func(m Machine) string { return m.Name })
	diffNamed(add, "pair", a.Pairs, b.Pairs, func(p Pair) string { return p.Name })
	diffNamed(add, "pool", a.Pools, b.Pools, func(p Pool) string { return p.Name })
	diffNamed(add, "operator", a.Operators, b.Operators, func(o Operator) string { return o.Name })
	diffNamed(add, "action", a.Actions, b.Actions, func(x Action) string { return x.Name })
	if !reflect.DeepEqual(a.Demo, b.Demo) {
		add("demo")
	}
	return out
}

func diffNamed[T any](add func(string), kind string, a, b []T, name func(T) string) {
	inB := map[string]T{}
	for _, x := range b {
		inB[name(x)] = x
	}
	seen := map[string]bool{}
	for _, x := range a {
		n := name(x)
		seen[n] = true
		y, ok := inB[n]
		switch {
		case !ok:
			add(fmt.Sprintf("%s %q (only in the first)", kind, n))
		case !reflect.DeepEqual(x, y):
			add(fmt.Sprintf("%s %q", kind, n))
		}
	}
	for _, y := range b {
		if !seen[name(y)] {
			add(fmt.Sprintf("%s %q (only in the second)", kind, name(y)))
		}
	}
}
