// Package state is the supervisor's one state document (pb.StateDoc): what operators changed
// against the config file, as per-field overrides of its pairs and pools, and the pools' durable
// runtime state (which machine is on air for each main and why, the flap latch, the mode and
// failback in force). The supervisor owns it; it is persisted as state_dir/state.json, restores a
// restarted supervisor and is what the sync link sends the standby supervisor.
//
// Overrides are kept against the file, field by field: an operator who edited a pair's feeds
// overrides its feeds only, so a later edit of the same pair's mode in the file takes effect. A
// field set back to the file's value stops being an override. This file's functions are pure
// (no I/O but Load, Save and Open).
package state

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/rs/zerolog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"standby/conf"
	"standby/conf/atomicfile"
	"standby/protocol/pb"
)

// File is the document's name under state_dir.
const File = "state.json"

// Format is the document format this version writes and reads.
const Format = 1

// Changes of an Override.
const (
	Edited  = "edited"
	Added   = "added"
	Removed = "removed"
)

// Kinds of an Override.
const (
	KindPair = "pair"
	KindPool = "pool"
)

// New returns an empty document.
func New() *pb.StateDoc { return &pb.StateDoc{Format: Format} }

// Load reads dir/File. It returns an error wrapping os.ErrNotExist when there is none, and an
// error naming the file and the problem when it cannot be used.
func Load(dir string) (*pb.StateDoc, error) {
	path := filepath.Join(dir, File)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d := &pb.StateDoc{}
	if err := protojson.Unmarshal(b, d); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if err := Check(d); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	return d, nil
}

// Check lists what makes d unusable (a document from the network or a file).
func Check(d *pb.StateDoc) error {
	var problems []string
	if d.GetFormat() != Format {
		problems = append(problems, fmt.Sprintf("format: %d is not %d", d.GetFormat(), Format))
	}
	for i, o := range d.GetOverrides() {
		at := fmt.Sprintf("overrides[%d]", i)
		if o.GetKind() != KindPair && o.GetKind() != KindPool {
			problems = append(problems, fmt.Sprintf("%s.kind: %q is not pair or pool", at, o.GetKind()))
		}
		if o.GetName() == "" {
			problems = append(problems, at+".name: missing")
		}
		switch o.GetChange() {
		case Edited, Added:
			if err := decodeEntry(o.GetKind(), o.GetEntry(), new(map[string]any)); err != nil {
				problems = append(problems, fmt.Sprintf("%s.entry: %v", at, err))
			}
		case Removed:
		default:
			problems = append(problems, fmt.Sprintf("%s.change: %q is not edited, added or removed", at, o.GetChange()))
		}
	}
	if len(problems) == 0 {
		return nil
	}
	return errors.New(strings.Join(problems, "; "))
}

// Save writes d to dir/File atomically (see conf/atomicfile).
func Save(dir string, d *pb.StateDoc) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(d)
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, File), append(b, '\n'), 0o644)
}

// Same reports whether a and b hold the same content, whoever wrote them and whatever their
// revisions.
func Same(a, b *pb.StateDoc) bool {
	x, y := proto.Clone(a).(*pb.StateDoc), proto.Clone(b).(*pb.StateDoc)
	for _, d := range []*pb.StateDoc{x, y} {
		d.Term, d.Revision, d.Writer = 0, 0, ""
	}
	return proto.Equal(x, y)
}

// Diff returns the overrides that make the file's config into edited: one per pair or pool whose
// entry differs from the file's. An override that prev already holds unchanged keeps its author
// and time; new ones are by and at now.
func Diff(file, edited *conf.Config, prev []*pb.Override, by string, now time.Time) ([]*pb.Override, error) {
	var out []*pb.Override
	for _, kind := range []string{KindPair, KindPool} {
		fileEntries, err := entries(file, kind)
		if err != nil {
			return nil, err
		}
		editedEntries, err := entries(edited, kind)
		if err != nil {
			return nil, err
		}
		names := slices.Sorted(maps.Keys(fileEntries))
		for n := range editedEntries {
			if _, ok := fileEntries[n]; !ok {
				names = append(names, n)
			}
		}
		for _, n := range names {
			o, err := override(kind, n, fileEntries[n], editedEntries[n])
			if err != nil {
				return nil, err
			}
			if o == nil {
				continue
			}
			if p := find(prev, kind, n); p != nil && p.GetChange() == o.GetChange() && slices.Equal(p.GetFields(), o.GetFields()) && p.GetEntry() == o.GetEntry() {
				o.By, o.AtMs = p.GetBy(), p.GetAtMs()
			} else {
				o.By, o.AtMs = by, now.UnixMilli()
			}
			out = append(out, o)
		}
	}
	return out, nil
}

func find(os []*pb.Override, kind, name string) *pb.Override {
	for _, o := range os {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// override compares one entry of the file (nil when absent) with its edited form (nil when
// removed).
func override(kind, name string, file, edited map[string]any) (*pb.Override, error) {
	o := &pb.Override{Kind: kind, Name: name}
	switch {
	case edited == nil && file == nil:
		return nil, nil
	case edited == nil:
		o.Change = Removed
		return o, nil
	case file == nil:
		o.Change = Added
	default:
		for _, k := range slices.Sorted(maps.Keys(union(file, edited))) {
			if !reflect.DeepEqual(file[k], edited[k]) {
				o.Fields = append(o.Fields, k)
			}
		}
		if len(o.Fields) == 0 {
			return nil, nil
		}
		o.Change = Edited
	}
	b, err := encodeEntry(edited)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %v", kind, name, err)
	}
	o.Entry = b
	return o, nil
}

func union(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	maps.Copy(out, b)
	return out
}

// Apply returns file with the overrides applied, validated like a config file. It logs each
// override in force and each that no longer applies. When the result is invalid (the file changed
// under an override: a machine renamed, a router removed), the file's config is used as it is and
// the errors are logged; the overrides stay in the document for the file to be put right.
func Apply(log zerolog.Logger, file *conf.Config, overrides []*pb.Override) *conf.Config {
	if len(overrides) == 0 {
		return file
	}
	next, notes, err := apply(file, overrides)
	for _, n := range notes {
		log.Info().Str("state", File).Msg(n)
	}
	if err != nil {
		log.Error().Str("state", File).Msgf("operators' changes do not fit this config file, running the file as it is:\n%v", err)
		return file
	}
	return next
}

// Strict is Apply that says why instead of falling back to the file: a standby must run what the
// active supervisor runs, or say that it cannot.
func Strict(file *conf.Config, overrides []*pb.Override) (*conf.Config, error) {
	if len(overrides) == 0 {
		return file, nil
	}
	next, _, err := apply(file, overrides)
	return next, err
}

// apply is Apply without the logging: the config, what was done, or why it cannot be.
func apply(file *conf.Config, overrides []*pb.Override) (*conf.Config, []string, error) {
	next := *file
	var notes []string
	var err error
	for _, kind := range []string{KindPair, KindPool} {
		var got []map[string]any
		if got, notes, err = applyKind(file, kind, overrides, notes); err != nil {
			return nil, notes, err
		}
		b, err := toml.Marshal(map[string]any{kind: got})
		if err != nil {
			return nil, notes, err
		}
		var holder struct {
			Pairs []conf.Pair `toml:"pair"`
			Pools []conf.Pool `toml:"pool"`
		}
		if _, err := toml.Decode(string(b), &holder); err != nil {
			return nil, notes, fmt.Errorf("%s entries: %v", kind, err)
		}
		if kind == KindPair {
			next.Pairs = holder.Pairs
		} else {
			next.Pools = holder.Pools
		}
	}
	valid, err := conf.Check(&next)
	if err != nil {
		return nil, notes, err
	}
	return valid, notes, nil
}

// applyKind applies the overrides of one kind to the file's entries of that kind, in the file's
// order, added entries after them.
func applyKind(file *conf.Config, kind string, overrides []*pb.Override, notes []string) ([]map[string]any, []string, error) {
	list, err := entryList(file, kind)
	if err != nil {
		return nil, notes, err
	}
	var out []map[string]any
	seen := map[string]bool{}
	for _, e := range list {
		name, _ := e["name"].(string)
		seen[name] = true
		o := find(overrides, kind, name)
		switch {
		case o == nil:
			out = append(out, e)
		case o.GetChange() == Removed:
			notes = append(notes, fmt.Sprintf("%s %s: removed by %s, as operators left it", kind, name, author(o)))
		default:
			var edited map[string]any
			if err := decodeEntry(kind, o.GetEntry(), &edited); err != nil {
				return nil, notes, fmt.Errorf("%s %s: %v", kind, name, err)
			}
			fields := o.GetFields()
			if o.GetChange() == Added {
				// Added by operators, since written into the file too: the operators' entry stands.
				fields = slices.Sorted(maps.Keys(union(e, edited)))
			}
			var changed []string
			for _, k := range fields {
				if v, ok := edited[k]; ok {
					if !reflect.DeepEqual(e[k], v) {
						changed = append(changed, k)
					}
					e[k] = v
				} else {
					delete(e, k)
				}
			}
			if len(changed) > 0 {
				notes = append(notes, fmt.Sprintf("%s %s: %s as %s set it, not as the config file says", kind, name, strings.Join(changed, ", "), author(o)))
			}
			out = append(out, e)
		}
	}
	for _, o := range overrides {
		if o.GetKind() != kind || seen[o.GetName()] {
			continue
		}
		switch o.GetChange() {
		case Added:
			var edited map[string]any
			if err := decodeEntry(kind, o.GetEntry(), &edited); err != nil {
				return nil, notes, fmt.Errorf("%s %s: %v", kind, o.GetName(), err)
			}
			notes = append(notes, fmt.Sprintf("%s %s: added by %s", kind, o.GetName(), author(o)))
			out = append(out, edited)
		default:
			notes = append(notes, fmt.Sprintf("%s %s: %s by %s but no longer in the config file; ignored", kind, o.GetName(), o.GetChange(), author(o)))
		}
	}
	return out, notes, nil
}

func author(o *pb.Override) string {
	s := o.GetBy()
	if s == "" {
		s = "an operator"
	}
	if o.GetAtMs() > 0 {
		s += " at " + time.UnixMilli(o.GetAtMs()).UTC().Format("2006-01-02 15:04:05Z")
	}
	return s
}

// entries maps each entry of kind in c by name, as TOML values.
func entries(c *conf.Config, kind string) (map[string]map[string]any, error) {
	list, err := entryList(c, kind)
	if err != nil {
		return nil, err
	}
	out := make(map[string]map[string]any, len(list))
	for _, e := range list {
		name, _ := e["name"].(string)
		out[name] = e
	}
	return out, nil
}

// entryList is c's entries of kind as TOML values: what a file holds, so fields compare as they
// read there (ports as numbers or labels).
func entryList(c *conf.Config, kind string) ([]map[string]any, error) {
	var v any = c.Pairs
	if kind == KindPool {
		v = c.Pools
	}
	b, err := toml.Marshal(map[string]any{kind: v})
	if err != nil {
		return nil, err
	}
	var holder map[string][]map[string]any
	if _, err := toml.Decode(string(b), &holder); err != nil {
		return nil, err
	}
	return holder[kind], nil
}

func encodeEntry(e map[string]any) (string, error) {
	var b bytes.Buffer
	if err := toml.NewEncoder(&b).Encode(e); err != nil {
		return "", err
	}
	return b.String(), nil
}

// decodeEntry reads an override's entry, refusing keys that are not keys of a pair or pool.
func decodeEntry(kind, entry string, into *map[string]any) error {
	if _, err := toml.Decode(entry, into); err != nil {
		return err
	}
	var probe any = &conf.Pair{}
	if kind == KindPool {
		probe = &conf.Pool{}
	}
	md, err := toml.Decode(entry, probe)
	if err != nil {
		return err
	}
	if u := md.Undecoded(); len(u) > 0 {
		keys := make([]string, len(u))
		for i, k := range u {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		return fmt.Errorf("unknown keys %s", strings.Join(keys, ", "))
	}
	return nil
}
