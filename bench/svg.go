package bench

import (
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// SVG layout.
const (
	svgWidth    = 960
	svgLeft     = 110 // room for scenario names
	svgRight    = 30
	svgRowH     = 46
	svgTop      = 92
	svgMinMS    = 0.1
	svgMaxMS    = 10000.0
	sweepHeight = 240
)

// WriteSVG draws the report: per scenario the latency samples, p50 and p90–p99 on a log axis
// with the anchors as vertical lines; and, when there is a sweep, crash latency and supervisor
// memory and CPU against the number of pairs. No dependencies: the SVG is written by hand.
func (r *Report) WriteSVG(w io.Writer) error {
	var scen []ScenarioResult
	for _, s := range r.Scenarios {
		if s.Stats.Runs > 0 {
			scen = append(scen, s)
		}
	}
	distH := svgTop + len(scen)*svgRowH + 60
	if len(scen) == 0 && len(r.Sweep) > 0 {
		distH = 0 // a sweep-only run: no distribution panel
	}
	height := distH
	if len(r.Sweep) > 0 {
		height += sweepHeight + 60
	}
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		svgWidth, height, svgWidth, height)
	fmt.Fprintf(&b, `<rect width="100%%" height="100%%" fill="white"/>`+"\n")
	if distH == 0 {
		drawSweep(&b, r.Sweep, 24)
		b.WriteString("</svg>\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	title := fmt.Sprintf("Standby failover latency: injection → routing change seen by an independent Videohub client (%s)", r.Machines)
	text(&b, 12, 22, "start", 14, "bold", title)
	text(&b, 12, 40, "start", 11, "normal", fmt.Sprintf("%d CPUs %s, %s; heartbeat %s, timeout %s; log scale; dots = runs, bar = p50, whisker = p90–p99",
		r.Host.CPUs, r.Host.CPUModel, r.Started.Format("2006-01-02"), fmtMS(r.Settings.HeartbeatIntervalMS), fmtMS(r.Settings.HeartbeatTimeoutMS)))

	x := func(v float64) float64 { return logX(v, svgMinMS, svgMaxMS, svgLeft, svgWidth-svgRight) }
	plotBottom := svgTop + len(scen)*svgRowH
	// Decade grid.
	for v := svgMinMS; v <= svgMaxMS*1.001; v *= 10 {
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x(v), svgTop-10, x(v), plotBottom)
		text(&b, x(v), float64(plotBottom+16), "middle", 11, "normal", fmtMS(v))
	}
	text(&b, float64(svgLeft+(svgWidth-svgLeft-svgRight)/2), float64(plotBottom+34), "middle", 11, "normal", "milliseconds")
	// Anchors.
	for i, a := range Anchors {
		ax := x(a.ValueMS)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#c33" stroke-dasharray="4,3"/>`+"\n", ax, svgTop-10, ax, plotBottom)
		text(&b, ax+3, float64(svgTop-12-(i%2)*11), "start", 10, "normal", a.Key+" "+fmtMS(a.ValueMS))
	}
	for i, s := range scen {
		cy := float64(svgTop + i*svgRowH + svgRowH/2)
		text(&b, svgLeft-8, cy+4, "end", 12, "bold", s.Name)
		for j, v := range s.SamplesMS {
			jit := (float64((j*37)%17)/16 - 0.5) * 18
			fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="2.5" fill="#36c" fill-opacity="0.45"/>`+"\n", x(clamp(v)), cy+jit)
		}
		st := s.Stats
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="1.5"/>`+"\n", x(clamp(st.P90)), cy, x(clamp(st.P99)), cy)
		fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#000" stroke-width="3"/>`+"\n", x(clamp(st.P50)), cy-12, x(clamp(st.P50)), cy+12)
		text(&b, x(clamp(st.P99))+5, cy-6, "start", 10, "normal", fmt.Sprintf("p99 %.3g ms", st.P99))
	}
	if len(r.Sweep) > 0 {
		drawSweep(&b, r.Sweep, float64(distH+20))
	}
	b.WriteString("</svg>\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// drawSweep draws two charts side by side, both log-log: crash p50/p99 against pairs, and the
// supervisor's RSS and CPU against pairs.
func drawSweep(b *strings.Builder, pts []SweepPoint, top float64) {
	var ok []SweepPoint
	maxPairs := 1.0
	for _, p := range pts {
		if p.Crash.Runs == 0 {
			continue
		}
		ok = append(ok, p)
		maxPairs = math.Max(maxPairs, float64(p.Pairs))
	}
	text(b, 12, top, "start", 14, "bold", "Scale sweep: crash latency, supervisor RSS and CPU against the number of pairs (log-log)")
	if len(ok) == 0 {
		text(b, 12, top+24, "start", 12, "normal", "no sweep point succeeded")
		return
	}
	xmax := decadeAbove(maxPairs)
	h := float64(sweepHeight - 50)
	chart := func(x0, x1 float64, ylabel string, series []sweepSeries) {
		ylo, yhi := math.Inf(1), 0.0
		for _, s := range series {
			for _, p := range ok {
				if v := s.value(p); v > 0 {
					ylo, yhi = math.Min(ylo, v), math.Max(yhi, v)
				}
			}
		}
		if yhi == 0 {
			ylo, yhi = 1, 10
		}
		ylo, yhi = decadeBelow(ylo), decadeAbove(yhi)
		y0, y1 := top+30, top+30+h
		fmt.Fprintf(b, `<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#999"/>`+"\n", x0, y0, x1-x0, h)
		xs := func(v float64) float64 { return logX(v, 1, xmax, x0, x1) }
		ys := func(v float64) float64 { return y1 - (logX(v, ylo, yhi, 0, h)) }
		for v := 1.0; v <= xmax*1.001; v *= 10 {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", xs(v), y0, xs(v), y1)
			text(b, xs(v), y1+14, "middle", 10, "normal", fmt.Sprintf("%g", v))
		}
		for v := ylo; v <= yhi*1.001; v *= 10 {
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#eee"/>`+"\n", x0, ys(v), x1, ys(v))
			text(b, x0-4, ys(v)+3, "end", 10, "normal", fmt.Sprintf("%g", v))
		}
		text(b, (x0+x1)/2, y1+28, "middle", 11, "normal", "pairs")
		text(b, x0, y0-6, "start", 11, "normal", ylabel)
		for k, s := range series {
			var pts []string
			for _, p := range ok {
				if v := s.value(p); v > 0 {
					pts = append(pts, fmt.Sprintf("%.1f,%.1f", xs(float64(p.Pairs)), ys(v)))
				}
			}
			fmt.Fprintf(b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), s.color)
			for _, pt := range pts {
				xy := strings.Split(pt, ",")
				fmt.Fprintf(b, `<circle cx="%s" cy="%s" r="3" fill="%s"/>`+"\n", xy[0], xy[1], s.color)
			}
			ly := y0 + 14 + float64(k)*13
			fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="%s" stroke-width="2"/>`+"\n", x0+8, ly-4, x0+24, ly-4, s.color)
			text(b, x0+28, ly, "start", 10, "normal", s.name)
		}
	}
	mid := float64(svgWidth) / 2
	chart(60, mid-30, "crash latency, ms", []sweepSeries{
		{"p99", "#c33", func(p SweepPoint) float64 { return p.Crash.P99 }},
		{"p50", "#36c", func(p SweepPoint) float64 { return p.Crash.P50 }},
	})
	chart(mid+40, svgWidth-svgRight, "supervisor: RSS MB; CPU % of one core (idle window)", []sweepSeries{
		{"RSS MB", "#393", func(p SweepPoint) float64 { return p.RSSMB }},
		{"CPU %", "#c60", func(p SweepPoint) float64 { return p.CPUPercent }},
	})
}

// decadeAbove is the smallest power of ten at or above v; decadeBelow the largest at or below.
func decadeAbove(v float64) float64 { return math.Pow(10, math.Ceil(math.Log10(v)-1e-9)) }
func decadeBelow(v float64) float64 { return math.Pow(10, math.Floor(math.Log10(v)+1e-9)) }

type sweepSeries struct {
	name, color string
	value       func(SweepPoint) float64
}

// logX maps v onto [x0, x1] on a log scale from lo to hi.
func logX(v, lo, hi, x0, x1 float64) float64 {
	v = math.Max(v, lo)
	return x0 + (math.Log10(v)-math.Log10(lo))/(math.Log10(hi)-math.Log10(lo))*(x1-x0)
}

func clamp(v float64) float64 { return math.Min(math.Max(v, svgMinMS), svgMaxMS) }

func text(b *strings.Builder, x, y float64, anchor string, size int, weight, s string) {
	fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="%s" font-size="%d" font-weight="%s">%s</text>`+"\n",
		x, y, anchor, size, weight, html.EscapeString(s))
}
