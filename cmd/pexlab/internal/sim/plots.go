package sim

import (
	"errors"
	"fmt"
	"os"

	"github.com/go-analyze/charts/chartdraw"
)

// Plots are drawn by github.com/go-analyze/charts (its chartdraw
// package) and saved as SVG. It parses its font the first time a chart
// is drawn, not when the program starts: every pex process links this
// package, and a plotting library that parses its fonts in an init
// function (gonum/plot parses twelve) costs every `pex node` megabytes of
// memory for charts it never draws (issue 17).

const plotW, plotH = 900, 600

// series is one named line of a plot.
type series struct {
	name string
	x, y []float64
}

// plotCDF draws the cumulative share of xs (sorted) against x.
func plotCDF(file, title, xlabel string, xs []float64) error {
	s := series{name: "nodes", x: xs, y: make([]float64, len(xs))}
	for i := range xs {
		s.y[i] = float64(i+1) / float64(len(xs))
	}
	return plotXY(file, title, xlabel, "share of nodes", unitRange(), false, s)
}

// plotHistogram draws counts by degree as bars.
func plotHistogram(file, title, xlabel string, h []int) error {
	s := chartdraw.ContinuousSeries{XValues: []float64{0}, YValues: []float64{0}}
	if len(h) > 0 {
		s.XValues, s.YValues = make([]float64, len(h)), make([]float64, len(h))
		for i, c := range h {
			s.XValues[i], s.YValues[i] = float64(i), float64(c)
		}
	}
	c := chartdraw.Chart{
		Title: title, Width: plotW, Height: plotH,
		XAxis:  chartdraw.XAxis{Name: xlabel, Ticks: wholeTicks(len(h))},
		YAxis:  chartdraw.YAxis{Name: "nodes"},
		Series: []chartdraw.Series{chartdraw.HistogramSeries{Name: "nodes", InnerSeries: s}},
	}
	return render(file, c)
}

// plotHeal draws the survivors' largest component and share at target
// over the time after a mass failure.
func plotHeal(file string, k *KillResult) error {
	largest := series{name: "in the largest component"}
	at := series{name: "at the peer target"}
	for _, s := range k.Series {
		largest.x, largest.y = append(largest.x, s.T.Seconds()), append(largest.y, s.Largest)
		at.x, at.y = append(at.x, s.T.Seconds()), append(at.y, s.AtTarget)
	}
	title := fmt.Sprintf("After killing %d nodes at once", k.Killed)
	return plotXY(file, title, "seconds after the failure", "share of survivors", unitRange(), true, largest, at)
}

// plotKnowledge draws the share of the swarm peers know over protocol
// minutes, with PEX and from the tracker alone, for the run's span.
func plotKnowledge(file string, r *BTResult) error {
	span := r.PEX[len(r.PEX)-1].T
	line := func(name string, pts []BTPoint, f func(BTPoint) float64) series {
		s := series{name: name}
		for _, p := range pts {
			if p.T <= span {
				s.x, s.y = append(s.x, p.T.Minutes()), append(s.y, f(p))
			}
		}
		return s
	}
	title := fmt.Sprintf("Knowledge of a swarm of %d peers", r.Config.Peers)
	return plotXY(file, title, "protocol minutes", "share of the swarm known", unitRange(), true,
		line("PEX, mean", r.PEX, func(p BTPoint) float64 { return p.Mean }),
		line("PEX, least", r.PEX, func(p BTPoint) float64 { return p.Min }),
		line("tracker only, mean", r.Tracker, func(p BTPoint) float64 { return p.Mean }),
		line("tracker only, least", r.Tracker, func(p BTPoint) float64 { return p.Min }))
}

// plotLoad draws, for each share, the announces per peer a tracker
// answered until every peer knew it, with PEX and without. A share no
// run reached (a negative count) is left out of its line.
func plotLoad(file string, r *BTResult) error {
	with, without := series{name: "with PEX"}, series{name: "tracker only"}
	for _, l := range r.Load {
		x := 100 * l.Share
		if l.WithPEX >= 0 {
			with.x, with.y = append(with.x, x), append(with.y, float64(l.WithPEX)/float64(r.Config.Peers))
		}
		if l.NoPEX >= 0 {
			without.x, without.y = append(without.x, x), append(without.y, float64(l.NoPEX)/float64(r.Config.Peers))
		}
	}
	return plotXY(file, "Tracker load until every peer knows a share of the swarm",
		"share of the swarm every peer knows, %", "announces per peer", nil, true, with, without)
}

// wholeTicks labels an axis of n whole numbers from 0, at most about 20
// of them.
func wholeTicks(n int) []chartdraw.Tick {
	step := max(1, (n+19)/20)
	var ts []chartdraw.Tick
	for v := 0; v < max(n, 1); v += step {
		ts = append(ts, chartdraw.Tick{Value: float64(v), Label: fmt.Sprint(v)})
	}
	return ts
}

// unitRange is a y axis from 0 to a little over 1, for shares.
func unitRange() chartdraw.Range { return &chartdraw.ContinuousRange{Min: 0, Max: 1.05} }

// plotXY draws named lines of (x, y) points on one plot, with a legend
// when legend is set; a nil yr lets the axis fit the data. A line with no
// points is left out; a plot with none gets one point at the origin, so
// that an empty run still writes its file.
func plotXY(file, title, xlabel, ylabel string, yr chartdraw.Range, legend bool, lines ...series) error {
	c := chartdraw.Chart{
		Title: title, Width: plotW, Height: plotH,
		XAxis: chartdraw.XAxis{Name: xlabel},
		YAxis: chartdraw.YAxis{Name: ylabel, Range: yr},
	}
	for _, l := range lines {
		if len(l.x) == 0 {
			continue
		}
		c.Series = append(c.Series, chartdraw.ContinuousSeries{
			Name: l.name, XValues: l.x, YValues: l.y,
			Style: chartdraw.Style{StrokeWidth: 2, DotWidth: 2},
		})
	}
	if len(c.Series) == 0 {
		c.Series = []chartdraw.Series{chartdraw.ContinuousSeries{XValues: []float64{0}, YValues: []float64{0}}}
		legend = false
	}
	if legend {
		c.Elements = []chartdraw.Renderable{chartdraw.Legend(&c)}
	}
	return render(file, c)
}

// render writes c as SVG to file.
func render(file string, c chartdraw.Chart) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	return errors.Join(c.Render(chartdraw.SVG, f), f.Close())
}
