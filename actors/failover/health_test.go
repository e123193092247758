package failover

import "testing"

func TestClassify(t *testing.T) {
	temp := Thresholds{Warning: 80, Critical: 90, Hysteresis: 2}
	fps := Thresholds{Warning: 50, Critical: 30, Hysteresis: 1}
	for _, tc := range []struct {
		name string
		prev Level
		v    float64
		th   Thresholds
		want Level
	}{
		{"cool", Normal, 60, temp, Normal},
		{"at warning", Normal, 80, temp, Warning},
		{"at critical", Normal, 90, temp, Critical},
		{"critical hovers just below", Critical, 89, temp, Critical},
		{"critical back past hysteresis", Critical, 87.9, temp, Warning},
		{"warning hovers just below", Warning, 79, temp, Warning},
		{"warning back past hysteresis", Warning, 77.9, temp, Normal},
		{"critical falls to normal", Critical, 50, temp, Normal},
		{"normal just below warning", Normal, 79.9, temp, Normal},
		{"fps fine", Normal, 59.94, fps, Normal},
		{"fps at warning", Normal, 50, fps, Warning},
		{"fps critical", Warning, 25, fps, Critical},
		{"fps critical hovers", Critical, 30.5, fps, Critical},
		{"fps recovers past hysteresis", Critical, 31.5, fps, Warning},
		{"fps recovers fully", Warning, 51.5, fps, Normal},
	} {
		if got := Classify(tc.prev, tc.v, tc.th); got != tc.want {
			t.Errorf("%s: Classify(%s, %g) = %s, want %s", tc.name, tc.prev, tc.v, got, tc.want)
		}
	}
}

// A value oscillating around a threshold by less than the hysteresis changes level once.
func TestClassifyDoesNotFlap(t *testing.T) {
	th := Thresholds{Warning: 80, Critical: 90, Hysteresis: 2}
	lvl, changes := Normal, 0
	for i := 0; i < 100; i++ {
		v := 90.5
		if i%2 == 1 {
			v = 89.0
		}
		if n := Classify(lvl, v, th); n != lvl {
			lvl, changes = n, changes+1
		}
	}
	if changes != 1 || lvl != Critical {
		t.Fatalf("level changed %d times, ends %s; want once, critical", changes, lvl)
	}
}
