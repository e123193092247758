package bench

import (
	"math"
	"slices"
	"time"
)

// Stats summarises a set of latency samples. Durations are in milliseconds in JSON.
type Stats struct {
	Runs int     `json:"runs"`
	Min  float64 `json:"min_ms"`
	P50  float64 `json:"p50_ms"`
	P90  float64 `json:"p90_ms"`
	P99  float64 `json:"p99_ms"`
	// P999 is the 99.9th percentile: the maximum below 1000 runs.
	P999 float64 `json:"p999_ms"`
	Max  float64 `json:"max_ms"`
	Mean float64 `json:"mean_ms"`
}

// Summarize computes the statistics of samples (which it does not modify). Percentiles are by the
// nearest-rank method, so with fewer than 100 samples p99 is the maximum: small runs never
// understate the tail.
func Summarize(samples []time.Duration) Stats {
	if len(samples) == 0 {
		return Stats{}
	}
	s := slices.Clone(samples)
	slices.Sort(s)
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Stats{
		Runs: len(s),
		Min:  ms(s[0]),
		P50:  ms(Percentile(s, 50)),
		P90:  ms(Percentile(s, 90)),
		P99:  ms(Percentile(s, 99)),
		P999: ms(Percentile(s, 99.9)),
		Max:  ms(s[len(s)-1]),
		Mean: ms(sum / time.Duration(len(s))),
	}
}

// Percentile returns the p-th percentile (0 < p <= 100) of sorted samples by nearest rank: the
// smallest sample such that at least p% of the samples are at or below it. It returns 0 for no
// samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// ms is a duration in milliseconds, rounded to the microsecond.
func ms(d time.Duration) float64 {
	return math.Round(float64(d)/float64(time.Microsecond)) / 1000
}
