package videohub

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// feedAll parses data in the given chunk sizes (cycled) and fails the test on a parse error.
func feedAll(t testing.TB, data []byte, chunk func() int) []Block {
	t.Helper()
	var p Parser
	var out []Block
	for len(data) > 0 {
		n := min(chunk(), len(data))
		blocks, err := p.Feed(data[:n])
		if err != nil {
			t.Fatalf("Feed: %v", err)
		}
		out = append(out, blocks...)
		data = data[n:]
	}
	return out
}

func whole() int   { return 1 << 30 }
func oneByte() int { return 1 }

func readSample(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/prelude_12x12.txt")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func kindsOf(blocks []Block) []Kind {
	ks := make([]Kind, len(blocks))
	for i, b := range blocks {
		ks[i] = b.Kind
	}
	return ks
}

func TestParseSamplePrelude(t *testing.T) {
	blocks := feedAll(t, readSample(t), whole)
	want := []Kind{KindPreamble, KindDevice, KindInputLabels, KindOutputLabels, KindVideoOutputLocks,
		KindVideoOutputRouting, KindConfiguration, KindEndPrelude}
	if got := kindsOf(blocks); !reflect.DeepEqual(got, want) {
		t.Fatalf("kinds = %v, want %v", got, want)
	}
	if v := blocks[0].Version; v != "2.8" {
		t.Errorf("version = %q", v)
	}
	d := blocks[1].Device
	wantDev := Device{
		Has:       FieldPresent | FieldModelName | FieldFriendlyName | FieldUniqueID | FieldVideoInputs | FieldVideoProcessingUnits | FieldVideoOutputs | FieldVideoMonitoringOutputs | FieldSerialPorts,
		Present:   PresenceTrue,
		ModelName: "Blackmagic Smart Videohub 12 x 12", FriendlyName: "Studio B Router", UniqueID: "7C2E0D0A1B2C",
		VideoInputs: 12, VideoOutputs: 12,
	}
	if d != wantDev {
		t.Errorf("device = %+v, want %+v", d, wantDev)
	}
	in := blocks[2].Labels
	if len(in) != 12 || in[3] != (Label{3, "Graphics Main"}) || in[11] != (Label{11, ""}) {
		t.Errorf("input labels = %v", in)
	}
	if l := blocks[4].Locks; len(l) != 12 || l[2].State != LockOwned || l[4].State != LockLocked || l[0].State != LockUnlocked {
		t.Errorf("locks = %v", l)
	}
	if r := blocks[5].Routes; len(r) != 12 || r[0] != (Route{Dest: 0, Source: 3}) || r[11] != (Route{11, 9}) {
		t.Errorf("routes = %v", r)
	}
	if v, ok := blocks[6].Setting("take mode"); !ok || v != "false" {
		t.Errorf("take mode = %q, %v", v, ok)
	}
	for _, b := range blocks {
		if b.Skipped != 0 {
			t.Errorf("%v: skipped %d lines", b.Kind, b.Skipped)
		}
	}
}

// Any chunking of the stream must give the same blocks: whole, one byte at a time, and split
// in two at every offset.
func TestParseChunking(t *testing.T) {
	data := readSample(t)
	want := feedAll(t, data, whole)
	if got := feedAll(t, data, oneByte); !reflect.DeepEqual(got, want) {
		t.Fatalf("byte by byte:\n%v\nwant\n%v", got, want)
	}
	for i := 1; i < len(data); i++ {
		var p Parser
		a, err1 := p.Feed(data[:i])
		b, err2 := p.Feed(data[i:])
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if got := append(a, b...); !reflect.DeepEqual(got, want) {
			t.Fatalf("split at %d: got %v", i, kindsOf(got))
		}
	}
}

func TestParseManyBlocksInOneRead(t *testing.T) {
	var buf []byte
	for i := range 500 {
		buf = AppendBlock(buf, Block{Kind: KindVideoOutputRouting, Routes: []Route{{Dest: i % 40, Source: i % 7}}})
		buf = AppendBlock(buf, Block{Kind: KindACK})
	}
	var p Parser
	blocks, err := p.Feed(buf)
	if err != nil || len(blocks) != 1000 {
		t.Fatalf("got %d blocks, err %v", len(blocks), err)
	}
	if r := blocks[998].Routes[0]; r != (Route{Dest: 499 % 40, Source: 499 % 7}) || blocks[999].Kind != KindACK {
		t.Fatalf("last blocks: %v %v", blocks[998], blocks[999])
	}
}

func TestParseLineEndings(t *testing.T) {
	lf := readSample(t)
	want := feedAll(t, lf, whole)
	for name, sep := range map[string]string{"CRLF": "\r\n", "CR": "\r"} {
		data := bytes.ReplaceAll(lf, []byte("\n"), []byte(sep))
		for cname, chunk := range map[string]func() int{"whole": whole, "bytes": oneByte} {
			if got := feedAll(t, data, chunk); !reflect.DeepEqual(got, want) {
				t.Errorf("%s/%s: got %v", name, cname, kindsOf(got))
			}
		}
	}
	// "\r" at the end of one chunk and "\n" at the start of the next are one line ending, not an
	// empty line that would end the block early.
	var p Parser
	var got []Block
	for _, chunk := range []string{"VIDEO OUTPUT ROUTING:\r", "\n1 2\r", "\n2 3\r", "\n\r", "\nPING:\r", "\r", "\n"} {
		b, err := p.Feed([]byte(chunk))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
	}
	wantSplit := []Block{
		{Kind: KindVideoOutputRouting, Lines: 2, Routes: []Route{{1, 2}, {2, 3}}},
		{Kind: KindPing},
	}
	if !reflect.DeepEqual(got, wantSplit) {
		t.Fatalf("split CRLF: got %v, want %v", got, wantSplit)
	}
	// Mixed endings in one stream.
	got = feedAll(t, []byte("PING:\r\n\rACK\n\r\nNAK\r\r"), whole)
	if k := kindsOf(got); !reflect.DeepEqual(k, []Kind{KindPing, KindACK, KindNAK}) {
		t.Fatalf("mixed endings: %v", k)
	}
}

func TestParseUnknownAndMalformed(t *testing.T) {
	in := "\n\nFOO BAR:\nx\ny\n\n" +
		"VIDEO OUTPUT ROUTING:\n1 2\nbad\n3\n-1 2\n4 -1\n5 6 7\n 8 9\n10  11 \n\n" +
		"PING\n\n" + // no colon: not the PING command
		"ping:\nstray line\n\n" +
		"NETWORK INTERFACE 0:\nName: eth0\n\n" +
		"video output locks:\n0 o\n1 X\n2 F\n3 U\n4 l\n5\n\n"
	got := feedAll(t, []byte(in), whole)
	want := []Block{
		{Kind: KindUnknown, Header: "FOO BAR:", Lines: 2, Skipped: 2},
		{Kind: KindVideoOutputRouting, Lines: 8, Skipped: 4, Routes: []Route{{1, 2}, {4, NoSource}, {8, 9}, {10, 11}}},
		{Kind: KindUnknown, Header: "PING"},
		{Kind: KindPing, Lines: 1, Skipped: 1},
		{Kind: KindUnknown, Header: "NETWORK INTERFACE 0:", Lines: 1, Skipped: 1},
		{Kind: KindVideoOutputLocks, Lines: 6, Skipped: 2, Locks: []Lock{{0, LockOwned}, {2, LockForce}, {3, LockUnlocked}, {4, LockLocked}}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%#v\nwant\n%#v", got, want)
	}
}

func TestParseLabels(t *testing.T) {
	in := "OUTPUT LABELS:\n0 Camera 1\n1\n2 \n3  two  spaces \n4 caf\xe9 \xff\xfe\n5 tab\there\nx label\n\n"
	got := feedAll(t, []byte(in), oneByte)
	want := []Label{{0, "Camera 1"}, {1, ""}, {2, ""}, {3, " two  spaces "}, {4, "caf\xe9 \xff\xfe"}, {5, "tab\there"}}
	if len(got) != 1 || !reflect.DeepEqual(got[0].Labels, want) || got[0].Skipped != 1 {
		t.Fatalf("got %#v", got)
	}
}

func TestParseDevice(t *testing.T) {
	in := "videohub device:\nDEVICE PRESENT: needs_update\nmodel NAME:  Blackmagic Videohub 10x10 12G \n" +
		"Unique id: abc\nVideo inputs: 10\nVideo outputs: ten\nColour: blue\nVideo outputs: 10\n\n" +
		"VIDEOHUB DEVICE:\nDevice present: false\n\n"
	got := feedAll(t, []byte(in), whole)
	if len(got) != 2 {
		t.Fatalf("got %d blocks", len(got))
	}
	want := Device{Has: FieldPresent | FieldModelName | FieldUniqueID | FieldVideoInputs | FieldVideoOutputs,
		Present: PresenceNeedsUpdate, ModelName: "Blackmagic Videohub 10x10 12G", UniqueID: "abc", VideoInputs: 10, VideoOutputs: 10}
	if got[0].Device != want || got[0].Skipped != 2 {
		t.Errorf("device = %+v (skipped %d), want %+v", got[0].Device, got[0].Skipped, want)
	}
	if d := got[1].Device; d.Has != FieldPresent || d.Present != PresenceFalse {
		t.Errorf("detached device = %+v", d)
	}
}

func TestDumpRequest(t *testing.T) {
	for in, want := range map[string]bool{
		"INPUT LABELS:\n\n":             true,
		"VIDEO OUTPUT ROUTING:\r\n\r\n": true,
		"VIDEOHUB DEVICE:\n\n":          true,
		"PING:\n\n":                     false,
		"FOO:\n\n":                      false,
		"VIDEO OUTPUT ROUTING:\nx\n\n":  false,
	} {
		got := feedAll(t, []byte(in), whole)
		if len(got) != 1 || got[0].IsDumpRequest() != want {
			t.Errorf("%q: got %v, want dump request %v", in, got, want)
		}
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("line at limit", func(t *testing.T) {
		in := "INPUT LABELS:\n0 " + strings.Repeat("x", MaxLineLength-2) + "\n\n"
		if got := feedAll(t, []byte(in), func() int { return 1000 }); len(got) != 1 || len(got[0].Labels[0].Text) != MaxLineLength-2 {
			t.Fatalf("got %v", got)
		}
	})
	t.Run("line too long", func(t *testing.T) {
		var p Parser
		blocks, err := p.Feed([]byte("PING:\n\nINPUT LABELS:\n0 "))
		if err != nil || len(blocks) != 1 {
			t.Fatal(blocks, err)
		}
		var total int
		for err == nil && total < 2*MaxLineLength {
			_, err = p.Feed(bytes.Repeat([]byte("x"), 100))
			total += 100
		}
		if !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("err = %v after %d bytes", err, total)
		}
		if _, err := p.Feed([]byte("\n\nPING:\n\n")); !errors.Is(err, ErrLineTooLong) {
			t.Fatalf("error not sticky: %v", err)
		}
	})
	t.Run("line too long in one chunk", func(t *testing.T) {
		var p Parser
		in := append([]byte("PING:\n\n"), bytes.Repeat([]byte("y"), MaxLineLength+1)...)
		blocks, err := p.Feed(append(in, '\n'))
		if !errors.Is(err, ErrLineTooLong) || len(blocks) != 1 {
			t.Fatalf("blocks %v, err %v", blocks, err)
		}
	})
	t.Run("block too long", func(t *testing.T) {
		var p Parser
		in := "VIDEO OUTPUT ROUTING:\n" + strings.Repeat("1 1\n", MaxBlockLines)
		if _, err := p.Feed([]byte(in)); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Feed([]byte("1 1\n")); !errors.Is(err, ErrBlockTooLong) {
			t.Fatalf("err = %v", err)
		}
	})
}

// bigPrelude is a Universal Videohub 288-like dump with every port family and status block.
func bigPrelude(n int) []Block {
	idx := func(f func(i int) any) []any {
		s := make([]any, n)
		for i := range s {
			s[i] = f(i)
		}
		return s
	}
	labels := func(k Kind, name string) Block {
		b := Block{Kind: k}
		for i := range n {
			b.Labels = append(b.Labels, Label{i, fmt.Sprintf("%s %d", name, i+1)})
		}
		return b
	}
	routes := func(k Kind) Block {
		b := Block{Kind: k}
		for i := range n {
			b.Routes = append(b.Routes, Route{i, (i * 7) % n})
		}
		return b
	}
	locks := func(k Kind) Block {
		b := Block{Kind: k}
		for i := range n {
			b.Locks = append(b.Locks, Lock{i, []LockState{LockUnlocked, LockOwned, LockLocked}[i%3]})
		}
		return b
	}
	values := func(k Kind, v ...string) Block {
		b := Block{Kind: k}
		for i := range idx(func(i int) any { return i }) {
			b.Values = append(b.Values, Value{i, v[i%len(v)]})
		}
		return b
	}
	return []Block{
		{Kind: KindPreamble, Version: "2.3"},
		{Kind: KindDevice, Device: Device{Has: FieldPresent | FieldModelName | FieldVideoInputs | FieldVideoOutputs | FieldVideoMonitoringOutputs | FieldSerialPorts,
			Present: PresenceTrue, ModelName: "Blackmagic Universal Videohub 288", VideoInputs: n, VideoOutputs: n, VideoMonitoringOutputs: n, SerialPorts: n}},
		labels(KindInputLabels, "Input"),
		values(KindVideoInputStatus, "BNC", "Optical", "None"),
		labels(KindOutputLabels, "Output"),
		locks(KindVideoOutputLocks),
		routes(KindVideoOutputRouting),
		values(KindVideoOutputStatus, "BNC"),
		labels(KindMonitoringOutputLabels, "Monitor"),
		locks(KindMonitoringOutputLocks),
		routes(KindVideoMonitoringOutputRouting),
		labels(KindSerialPortLabels, "Deck"),
		routes(KindSerialPortRouting),
		locks(KindSerialPortLocks),
		values(KindSerialPortDirections, "control", "slave", "auto"),
		values(KindSerialPortStatus, "RS422", "None"),
		{Kind: KindAlarmStatus, Settings: []Setting{{"Fan 0", "ok"}, {"Power Supply Slot 1", "ok"}, {"Crosspoint Slot 0", "ok"}}},
		{Kind: KindConfiguration, Settings: []Setting{{"Take Mode", "false"}}},
		{Kind: KindEndPrelude},
	}
}

// withLines sets Lines to the number of body items, as the parser reports them.
func withLines(blocks []Block) []Block {
	out := make([]Block, len(blocks))
	for i, b := range blocks {
		b.Lines = len(b.Labels) + len(b.Routes) + len(b.Locks) + len(b.Values) + len(b.Settings)
		if b.Version != "" {
			b.Lines++
		}
		for f := b.Device.Has; f != 0; f &= f - 1 {
			b.Lines++
		}
		out[i] = b
	}
	return out
}

func TestLargePrelude288(t *testing.T) {
	want := withLines(bigPrelude(288))
	var data []byte
	for _, b := range want {
		data = AppendBlock(data, b)
	}
	if len(data) < 30000 {
		t.Fatalf("prelude is only %d bytes", len(data))
	}
	if got := feedAll(t, data, whole); !reflect.DeepEqual(got, want) {
		t.Fatalf("whole: kinds %v", kindsOf(got))
	}
	r := rand.New(rand.NewPCG(1, 2))
	if got := feedAll(t, data, func() int { return 1 + r.IntN(1500) }); !reflect.DeepEqual(got, want) {
		t.Fatalf("random chunks: kinds %v", kindsOf(got))
	}
	if got := feedAll(t, data, oneByte); !reflect.DeepEqual(got, want) {
		t.Fatalf("one byte: kinds %v", kindsOf(got))
	}
}

func TestDecoder(t *testing.T) {
	data := readSample(t)
	want := feedAll(t, data, whole)
	for name, r := range map[string]io.Reader{
		"one byte":      iotest.OneByteReader(bytes.NewReader(data)),
		"data with err": iotest.DataErrReader(bytes.NewReader(data)),
		"half":          iotest.HalfReader(bytes.NewReader(data)),
	} {
		d := NewDecoder(r)
		var got []Block
		for {
			b, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			got = append(got, b)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %v", name, kindsOf(got))
		}
	}
	d := NewDecoder(strings.NewReader("PING:\n\n" + strings.Repeat("z", MaxLineLength+1)))
	if b, err := d.Next(); err != nil || b.Kind != KindPing {
		t.Fatal(b, err)
	}
	if _, err := d.Next(); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("err = %v", err)
	}
}
