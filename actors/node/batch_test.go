package node

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"standby/protocol/pb"
)

// TestBatchCovered: a batch of reports passes only when the certificate covers every machine in
// it; garbage is refused, never a panic.
func TestBatchCovered(t *testing.T) {
	covers := func(m string) bool { return m == "render-1" || m == "render-2" }
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
