package router

import (
	"sort"
	"testing"
	"time"

	"standby/protocol/videohub/vhsim"
)

// BenchmarkSwitchConfirmed measures a switch request to the router actor until the router's ACK
// and its routing push confirm it, on loopback against the simulator (two crosspoints, as a
// pair with two outputs). It reports p50 and p99 alongside ns/op.
//
//	go test ./actors/router -run x -bench SwitchConfirmed -benchtime 2000x
func BenchmarkSwitchConfirmed(b *testing.B) {
	s, err := vhsim.Start(vhsim.Options{Listen: "127.0.0.1:0", Inputs: 40, Outputs: 40})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	r := newRig(b, s.Addr(), nil, time.Second)
	r.waitConn(Connected)
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in := 1 + i%2
		start := time.Now()
		res := r.switchTo(false, x(1, in), x(5, in))
		lat = append(lat, time.Since(start))
		if !res.OK {
			b.Fatalf("switch %d: %+v", i, res)
		}
	}
	b.StopTimer()
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
