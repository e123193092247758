package failover

// Thresholds classify a health value. When Critical is beyond Warning in the rising direction
// higher values are worse (temperatures); when Critical is below Warning lower values are worse
// (frames per second).
type Thresholds struct {
	Warning, Critical float64
	// Hysteresis is how far a value must come back past a threshold before its level drops.
	Hysteresis float64
}

// DefaultHysteresis is 5% of the distance between the thresholds.
func DefaultHysteresis(warning, critical float64) float64 {
	d := critical - warning
	if d < 0 {
		d = -d
	}
	return d * 0.05
}

// Classify returns the level of value v given the level it had before. A level rises as soon as
// a threshold is reached and drops only once the value is Hysteresis back inside it, so a value
// hovering at a threshold does not flap.
func Classify(prev Level, v float64, t Thresholds) Level {
	worse := func(a, b float64) bool { return a >= b } // a is at or beyond b
	back := t.Hysteresis
	if t.Critical < t.Warning {
		worse = func(a, b float64) bool { return a <= b }
		back = -back
	}
	switch {
	case worse(v, t.Critical):
		return Critical
	case prev == Critical && worse(v, t.Critical-back):
		return Critical
	case worse(v, t.Warning):
		return Warning
	case prev >= Warning && worse(v, t.Warning-back):
		return Warning
	}
	return Normal
}
