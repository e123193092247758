package videohub

import (
	"bytes"
	"reflect"
	"testing"
)

func TestEncodeExact(t *testing.T) {
	for _, tc := range []struct {
		b    Block
		want string
	}{
		{Block{Kind: KindPreamble, Version: "2.8"}, "PROTOCOL PREAMBLE:\nVersion: 2.8\n\n"},
		{Block{Kind: KindDevice, Device: Device{Has: FieldPresent | FieldModelName | FieldFriendlyName | FieldUniqueID | FieldVideoInputs | FieldVideoProcessingUnits | FieldVideoOutputs | FieldVideoMonitoringOutputs | FieldSerialPorts,
			Present: PresenceTrue, ModelName: "Blackmagic Smart Videohub 40 x 40", FriendlyName: "Sim", UniqueID: "0011", VideoInputs: 40, VideoOutputs: 40}},
			"VIDEOHUB DEVICE:\nDevice present: true\nModel name: Blackmagic Smart Videohub 40 x 40\nFriendly name: Sim\nUnique ID: 0011\n" +
				"Video inputs: 40\nVideo processing units: 0\nVideo outputs: 40\nVideo monitoring outputs: 0\nSerial ports: 0\n\n"},
		{Block{Kind: KindDevice, Device: Device{Has: FieldPresent, Present: PresenceNeedsUpdate}}, "VIDEOHUB DEVICE:\nDevice present: needs_update\n\n"},
		{Block{Kind: KindOutputLabels, Labels: []Label{{6, "new output label seven"}, {7, ""}, {8, "two\nlines\r"}}},
			"OUTPUT LABELS:\n6 new output label seven\n7 \n8 two lines \n\n"},
		{Block{Kind: KindVideoOutputRouting, Routes: []Route{{7, 2}}}, "VIDEO OUTPUT ROUTING:\n7 2\n\n"},
		{Block{Kind: KindSerialPortRouting, Routes: []Route{{1, NoSource}}}, "SERIAL PORT ROUTING:\n1 -1\n\n"},
		{Block{Kind: KindVideoOutputLocks, Locks: []Lock{{0, LockOwned}, {1, LockForce}}}, "VIDEO OUTPUT LOCKS:\n0 O\n1 F\n\n"},
		{Block{Kind: KindSerialPortDirections, Values: []Value{{0, "control"}}}, "SERIAL PORT DIRECTIONS:\n0 control\n\n"},
		{Block{Kind: KindConfiguration, Settings: []Setting{{"Take Mode", "true"}}}, "CONFIGURATION:\nTake Mode: true\n\n"},
		{Block{Kind: KindInputLabels}, "INPUT LABELS:\n\n"},
		{Block{Kind: KindPing}, "PING:\n\n"},
		{Block{Kind: KindEndPrelude}, "END PRELUDE:\n\n"},
		{Block{Kind: KindACK}, "ACK\n\n"},
		{Block{Kind: KindNAK}, "NAK\n\n"},
		{Block{Kind: KindUnknown, Header: "FOO:"}, "FOO:\n\n"},
	} {
		if got := string(AppendBlock(nil, tc.b)); got != tc.want {
			t.Errorf("AppendBlock(%v):\n got %q\nwant %q", tc.b.Kind, got, tc.want)
		}
	}
}

// Every kind survives encode then parse.
func TestRoundTripEveryKind(t *testing.T) {
	blocks := withLines(bigPrelude(3))
	seen := map[Kind]bool{}
	for _, b := range blocks {
		seen[b.Kind] = true
	}
	for k := KindUnknown + 1; k < numKinds; k++ {
		if seen[k] {
			continue
		}
		b := Block{Kind: k}
		switch k.Format() {
		case FormatLabels:
			b.Labels = []Label{{0, "a b"}, {2, ""}}
		case FormatRouting:
			b.Routes = []Route{{1, 0}}
		case FormatLocks:
			b.Locks = []Lock{{0, LockForce}}
		case FormatValues:
			b.Values = []Value{{0, "true"}}
		}
		blocks = append(blocks, withLines([]Block{b})...)
	}
	var buf bytes.Buffer
	if err := WriteBlocks(&buf, blocks...); err != nil {
		t.Fatal(err)
	}
	var p Parser
	got, err := p.Feed(buf.Bytes())
	if err != nil || !reflect.DeepEqual(got, blocks) {
		t.Fatalf("err %v\ngot  %v\nwant %v", err, got, blocks)
	}
	for k := KindUnknown + 1; k < numKinds; k++ {
		if lookupKind([]byte(k.Header())) != k || k.String() == "UNKNOWN" {
			t.Errorf("kind %d header %q does not round-trip", k, k.Header())
		}
	}
}
