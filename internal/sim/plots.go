package sim

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// Plots are drawn by gonum.org/v1/plot and saved as SVG.

const plotW, plotH = 6 * vg.Inch, 4 * vg.Inch

// plotCDF draws the cumulative share of xs (sorted) against x.
func plotCDF(file, title, xlabel string, xs []float64) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, "share of nodes"
	pts := make(plotter.XYs, len(xs))
	for i, x := range xs {
		pts[i] = plotter.XY{X: x, Y: float64(i+1) / float64(len(xs))}
	}
	if err := plotutil.AddLines(p, "nodes", pts); err != nil {
		return err
	}
	return p.Save(plotW, plotH, file)
}

// plotHistogram draws counts by degree as bars.
func plotHistogram(file, title, xlabel string, h []int) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, "nodes"
	vals := make(plotter.Values, len(h))
	for i, c := range h {
		vals[i] = float64(c)
	}
	if len(vals) == 0 {
		vals = plotter.Values{0}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(max(2, 300/float64(len(vals)))))
	if err != nil {
		return err
	}
	p.Add(bars)
	return p.Save(plotW, plotH, file)
}

// plotHeal draws the survivors' largest component and share at target
// over the time after a mass failure.
func plotHeal(file string, k *KillResult) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("After killing %d nodes at once", k.Killed)
	p.X.Label.Text, p.Y.Label.Text = "seconds after the failure", "share of survivors"
	largest := make(plotter.XYs, len(k.Series))
	at := make(plotter.XYs, len(k.Series))
	for i, s := range k.Series {
		largest[i] = plotter.XY{X: s.T.Seconds(), Y: s.Largest}
		at[i] = plotter.XY{X: s.T.Seconds(), Y: s.AtTarget}
	}
	if err := plotutil.AddLinePoints(p, "in the largest component", largest, "at the peer target", at); err != nil {
		return err
	}
	p.Y.Min, p.Y.Max = 0, 1.05
	return p.Save(plotW, plotH, file)
}

// plotLines draws named series of (x, y) on one plot.
func plotLines(file, title, xlabel, ylabel string, series map[string]plotter.XYs, order []string) error {
	p := plot.New()
	p.Title.Text, p.X.Label.Text, p.Y.Label.Text = title, xlabel, ylabel
	var args []any
	for _, name := range order {
		args = append(args, name, series[name])
	}
	if err := plotutil.AddLinePoints(p, args...); err != nil {
		return err
	}
	return p.Save(plotW, plotH, file)
}

// plotKnowledge draws the share of the swarm peers know over protocol
// minutes, with PEX and from the tracker alone, for the run's span.
func plotKnowledge(file string, r *BTResult) error {
	span := r.PEX[len(r.PEX)-1].T
	series := map[string]plotter.XYs{}
	add := func(name string, pts []BTPoint, f func(BTPoint) float64) {
		var xy plotter.XYs
		for _, p := range pts {
			if p.T <= span {
				xy = append(xy, plotter.XY{X: p.T.Minutes(), Y: f(p)})
			}
		}
		series[name] = xy
	}
	add("PEX, mean", r.PEX, func(p BTPoint) float64 { return p.Mean })
	add("PEX, least", r.PEX, func(p BTPoint) float64 { return p.Min })
	add("tracker only, mean", r.Tracker, func(p BTPoint) float64 { return p.Mean })
	add("tracker only, least", r.Tracker, func(p BTPoint) float64 { return p.Min })
	title := fmt.Sprintf("Knowledge of a swarm of %d peers", r.Config.Peers)
	return plotLines(file, title, "protocol minutes", "share of the swarm known",
		series, []string{"PEX, mean", "PEX, least", "tracker only, mean", "tracker only, least"})
}

// plotLoad draws, for each share, the announces per peer a tracker
// answered until every peer knew it, with PEX and without.
func plotLoad(file string, r *BTResult) error {
	p := plot.New()
	p.Title.Text = "Tracker load until every peer knows a share of the swarm"
	p.Y.Label.Text = "announces per peer"
	var with, without plotter.Values
	var names []string
	for _, l := range r.Load {
		names = append(names, fmt.Sprintf("%.0f %%", 100*l.Share))
		with = append(with, max(0, float64(l.WithPEX))/float64(r.Config.Peers))
		without = append(without, max(0, float64(l.NoPEX))/float64(r.Config.Peers))
	}
	w := vg.Points(20)
	a, err := plotter.NewBarChart(with, w)
	if err != nil {
		return err
	}
	b, err := plotter.NewBarChart(without, w)
	if err != nil {
		return err
	}
	a.Offset, b.Offset = -w/2, w/2
	a.Color, b.Color = plotutil.Color(0), plotutil.Color(1)
	p.Add(a, b)
	p.Legend.Add("with PEX", a)
	p.Legend.Add("tracker only", b)
	p.Legend.Top = true
	p.NominalX(names...)
	return p.Save(plotW, plotH, file)
}
