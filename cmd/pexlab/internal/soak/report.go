package soak

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/go-analyze/charts/chartdraw"
)

// csvColumns are the CSV's columns: the time, the metrics, RSS beside
// anonymous memory, and the population's counts.
var csvColumns = []string{"t_s", MetricAnon, MetricGoroutines, MetricFDs, MetricLinks, MetricTimers, "rss_kib", "heap_kib", "stack_kib", "prof_kib",
	"joined", "left", "join_failed", "intros", "intro_failed", "lines", "misbehaved", "cut_off"}

// Write writes the run's samples as soak-ENGINE.csv under dir and a plot
// of each metric, soak-ENGINE-METRIC.svg, and returns the files' names.
func Write(dir string, res *Result) ([]string, error) {
	name := "soak-" + res.Config.Engine
	files := []string{name + ".csv"}
	if err := writeCSV(filepath.Join(dir, files[0]), res.Samples); err != nil {
		return nil, err
	}
	for _, tr := range res.Trends {
		f := name + "-" + tr.Metric + ".svg"
		if err := plotTrend(filepath.Join(dir, f), res, tr); err != nil {
			return files, err
		}
		files = append(files, f)
	}
	return files, nil
}

func writeCSV(file string, samples []Sample) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write(csvColumns)
	for _, s := range samples {
		p := s.Pop
		row := []string{strconv.FormatFloat(s.T.Seconds(), 'f', 1, 64)}
		for i, v := range []int64{int64(s.AnonKiB), int64(s.Goroutines), int64(s.FDs), int64(s.Links), int64(s.Timers), int64(s.RSSKiB), int64(s.HeapKiB), int64(s.StackKiB), int64(s.ProfKiB),
			p.Joined, p.Left, p.JoinFailed, p.Intros, p.IntroFailed, p.Lines, p.Misbehaved, p.CutOff} {
			if csvColumns[i+1] == MetricTimers && v == NoCount {
				row = append(row, "") // not counted at this sample
				continue
			}
			row = append(row, strconv.FormatInt(v, 10))
		}
		w.Write(row)
	}
	w.Flush()
	return errors.Join(w.Error(), f.Close())
}

// plotTrend draws one metric's samples over the run's minutes and the
// line fitted to its second half, with the slope and bound in the title.
// It draws with github.com/go-analyze/charts, as the simulators' plots.
func plotTrend(file string, res *Result, tr Trend) error {
	var xs, ys []float64
	for _, s := range res.Samples {
		if v := s.Value(tr.Metric); !math.IsNaN(v) {
			xs, ys = append(xs, s.T.Minutes()), append(ys, v)
		}
	}
	end := xs[len(xs)-1]
	// The fit passes through (mean time, level); its ends are at half
	// the run and at its end.
	var mt float64
	n := 0
	for _, x := range xs {
		if x >= end/2 {
			mt += x
			n++
		}
	}
	mt /= float64(n)
	perMin := tr.Slope / 60
	fit := chartdraw.ContinuousSeries{Name: "fit over the second half", XValues: []float64{end / 2, end},
		YValues: []float64{tr.Level + perMin*(end/2-mt), tr.Level + perMin*(end-mt)},
		Style:   chartdraw.Style{StrokeWidth: 2, StrokeColor: chartdraw.ColorRed}}
	verdict := "flat"
	if tr.Grows {
		verdict = "GROWS"
	}
	c := chartdraw.Chart{
		Title: fmt.Sprintf("pex %s soak, %s: %s; the red line, fitted over the second half: %+.1f/h ± %.1f (bound %.1f/h)",
			res.Config.Engine, tr.Metric, verdict, tr.Slope, tr.SE, tr.Bound),
		TitleStyle: chartdraw.Style{FontStyle: chartdraw.FontStyle{FontSize: 11}},
		// Room above the plot for the title.
		Background: chartdraw.Style{Padding: chartdraw.Box{Top: 40, Left: 20, Right: 10, Bottom: 10}},
		Width:      900, Height: 500,
		XAxis:  chartdraw.XAxis{Name: "minutes"},
		YAxis:  chartdraw.YAxis{Name: tr.Metric},
		Series: []chartdraw.Series{chartdraw.ContinuousSeries{Name: tr.Metric, XValues: xs, YValues: ys, Style: chartdraw.Style{StrokeWidth: 1.5, DotWidth: 1.5}}, fit},
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	return errors.Join(c.Render(chartdraw.SVG, f), f.Close())
}
