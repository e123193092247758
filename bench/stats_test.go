package bench

import (
	"testing"
	"time"
)

func msd(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func TestPercentileNearestRank(t *testing.T) {
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one", msd(7), 99, 7 * time.Millisecond},
		{"p50 of 4 is the 2nd", msd(1, 2, 3, 4), 50, 2 * time.Millisecond},
		{"p99 of 20 is the max", msd(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20), 99, 20 * time.Millisecond},
		{"p90 of 100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 100", hundred, 99, 99 * time.Millisecond},
		{"p100 of 100", hundred, 100, 100 * time.Millisecond},
		{"tiny p is the min", hundred, 0.001, time.Millisecond},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(tc.sorted, tc.p); got != tc.want {
				t.Errorf("Percentile(p%g) = %s, want %s", tc.p, got, tc.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := msd(3, 1, 2, 10, 4)
	st := Summarize(in)
	want := Stats{Runs: 5, Min: 1, P50: 3, P90: 10, P99: 10, P999: 10, Max: 10, Mean: 4}
	if st != want {
		t.Errorf("Summarize = %+v, want %+v", st, want)
	}
	if in[0] != 3*time.Millisecond {
		t.Error("Summarize sorted its input in place")
	}
	if (Summarize(nil) != Stats{}) {
		t.Error("Summarize(nil) is not zero")
	}
	if got := Summarize([]time.Duration{1234567 * time.Nanosecond}).P50; got != 1.235 {
		t.Errorf("ms rounding: got %v, want 1.235", got)
	}
}

func TestGoals(t *testing.T) {
	hb := 250 * time.Millisecond
	for sc, want := range map[string]float64{Crash: 5, Critical: 5, Hang: 260, Manual: 1} {
		g, ok := goalFor(sc, hb)
		if !ok || g.P99MS != want {
			t.Errorf("goal of %s = %+v, %v; want p99 %g ms", sc, g, ok, want)
		}
	}
	if _, ok := goalFor(RouterLoss, hb); ok {
		t.Error("router-loss has no goal in the issue")
	}
	for _, sc := range Scenarios {
		for _, a := range anchorsFor(sc) {
			if a.Manual != (sc == Manual) {
				t.Errorf("%s compared with %s", sc, a.Key)
			}
		}
		if len(anchorsFor(sc)) == 0 {
			t.Errorf("%s has no anchors", sc)
		}
	}
}
