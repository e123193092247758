package node

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"standby/protocol/pb"
)

// TestBatchCovered: a batch of reports passes only when the certificate covers every machine in
// it; garbage is refused, never a panic.
func TestBatchCovered(t *testing.T) {
	covers := func(m []byte) bool { return string(m) == "render-1" || string(m) == "render-2" }
	batch := func(machines ...string) []byte {
		var b pb.AgentReports
		for _, m := range machines {
			b.Reports = append(b.Reports, &pb.AgentReport{Machine: m, Token: "t", Session: 1})
		}
		data, err := proto.Marshal(&b)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	if m, ok := batchCovered(batch("render-1", "render-2"), covers); !ok {
		t.Fatalf("covered batch refused at %q", m)
	}
	if m, ok := batchCovered(batch("render-1", "render-9", "render-2"), covers); ok || m != "render-9" {
		t.Fatalf("batch with render-9 = %q %v", m, ok)
	}
	if _, ok := batchCovered([]byte{0x0a, 0xff}, covers); ok {
		t.Fatal("truncated batch accepted")
	}
	if _, ok := batchCovered(nil, covers); !ok {
		t.Fatal("empty batch refused")
	}
}

// TestReportMachineIsTheDecodedOne: a report that names a covered machine and then another one
// is decoded as the other one, so that is the machine checked (the first one passed before).
func TestReportMachineIsTheDecodedOne(t *testing.T) {
	first, err := proto.Marshal(&pb.AgentReport{Machine: "render-1", Token: "t"})
	if err != nil {
		t.Fatal(err)
	}
	second, err := proto.Marshal(&pb.AgentReport{Machine: "render-9"})
	if err != nil {
		t.Fatal(err)
	}
	forged := append(first, second...)
	var decoded pb.AgentReport
	if err := proto.Unmarshal(forged, &decoded); err != nil || decoded.GetMachine() != "render-9" {
		t.Fatalf("protobuf decodes %q (%v)", decoded.GetMachine(), err)
	}
	if m := string(machineBytes(forged)); m != "render-9" {
		t.Errorf("checked %q, decoded render-9", m)
	}
	// A batch (AgentReports.reports is field 1) carrying that report.
	data := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), forged)
	if m, ok := batchCovered(data, func(m []byte) bool { return string(m) == "render-1" }); ok || m != "render-9" {
		t.Errorf("forged batch: refused %q ok %v", m, ok)
	}
}
