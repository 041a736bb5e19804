package soak

import (
	"errors"
	"fmt"
	"math"
)

// The metrics a soak samples, by their names in the CSV and the report.
const (
	MetricAnon       = "anon_kib"   // RssAnon of /proc/PID/status, KiB
	MetricGoroutines = "goroutines" // go_goroutines of the process's /metrics
	MetricFDs        = "fds"        // entries of /proc/PID/fd
	MetricLinks      = "links"      // pex_pxp_links (all transports) or pex_bt_connections
	MetricTimers     = "timers"     // live runtime timers (heapprofile.go)
)

// Metrics are the sampled metrics in their order in the CSV and the report.
var Metrics = []string{MetricAnon, MetricGoroutines, MetricFDs, MetricLinks, MetricTimers}

// Bound is how fast a metric may grow over the second half of a run
// before the soak calls it growing: Rel of its level (its mean over the
// second half) an hour, and never less than Floor units an hour.
type Bound struct {
	Rel   float64 // a share of the level, an hour
	Floor float64 // units an hour
}

// PerHour is the bound in units an hour for a metric at level.
func (b Bound) PerHour(level float64) float64 { return max(b.Floor, b.Rel*math.Abs(level)) }

// DefaultBounds are the bounds of the metrics. A leak of one object per
// departed peer grows its count by the run's departures an hour
// (Config.DeparturesPerHour: 11,520 for the relay and 8,640 for the
// swarm at the defaults, twice that at CI's size) and anonymous
// memory by at least its size times that: each bound is below that by a
// factor of tens to hundreds at the levels the soaks run at (the report
// gives the smallest leak a departure each bound catches, leak_per_departure).
// Memory gets the widest bound: Go's heap settles by steps (a GC cycle
// that finds the heap larger takes more pages, and the scavenger gives
// idle ones back minutes later), and a leak of anything that costs memory
// but is not itself counted here moves it, while goroutines and timers
// are counted one by one.
var DefaultBounds = map[string]Bound{
	MetricAnon:       {Rel: 0.20, Floor: 1024},
	MetricGoroutines: {Rel: 0.10, Floor: 20},
	MetricFDs:        {Rel: 0.10, Floor: 20},
	MetricLinks:      {Rel: 0.10, Floor: 10},
	MetricTimers:     {Rel: 0.10, Floor: 20},
}

// Sigmas is how many standard errors of the slope its estimate must
// clear the bound by to count as growth: a short run's slope is noisy
// (the population's size moves the metrics second by second), and a
// metric is called growing only when the growth cannot be that noise.
const Sigmas = 4

// MinSamples is the fewest samples the second half must hold for a
// slope.
const MinSamples = 8

// maxRho caps the residuals' autocorrelation the standard error is
// widened for (at 0.95, by a factor of 6.2).
const maxRho = 0.95

// Trend is one metric's verdict over the second half of a run.
type Trend struct {
	Metric string  `json:"metric"`
	N      int     `json:"samples"` // samples in the second half
	Level  float64 `json:"level"`   // their mean
	First  float64 `json:"first"`   // the first sample of the run
	Last   float64 `json:"last"`    // the last
	Slope  float64 `json:"slope_per_h"`
	// SE is the slope's standard error, widened for the residuals'
	// autocorrelation (Fit).
	SE    float64 `json:"se_per_h"`
	Bound float64 `json:"bound_per_h"` // Bound.PerHour(Level)
	Grows bool    `json:"grows"`       // Slope - Sigmas*SE > Bound
}

// String is "goroutines: level 412, slope +35.2/h ± 40.1 (bound 41.2/h): flat".
func (t Trend) String() string {
	verdict := "flat"
	if t.Grows {
		verdict = "GROWS"
	}
	return fmt.Sprintf("%s: level %.1f, slope %+.1f/h ± %.1f (bound %.1f/h): %s", t.Metric, t.Level, t.Slope, t.SE, t.Bound, verdict)
}

// Assess fits metric's samples ys, taken at ts (seconds from the start of
// the run), over the second half of the run (ts from half the last one
// on), and holds the slope to b.
func Assess(metric string, ts, ys []float64, b Bound) (Trend, error) {
	if len(ts) != len(ys) || len(ts) == 0 {
		return Trend{}, errors.New("soak: no samples")
	}
	half := ts[len(ts)-1] / 2
	i := 0
	for i < len(ts) && ts[i] < half {
		i++
	}
	tr := Trend{Metric: metric, N: len(ts) - i, First: ys[0], Last: ys[len(ys)-1]}
	if tr.N < MinSamples {
		return tr, fmt.Errorf("soak: %d samples in the second half, %d needed for a slope: a longer --duration or a shorter --interval", tr.N, MinSamples)
	}
	hours := make([]float64, tr.N)
	for k := range hours {
		hours[k] = ts[i+k] / 3600
	}
	tr.Slope, tr.SE, tr.Level = Fit(hours, ys[i:])
	tr.Bound = b.PerHour(tr.Level)
	tr.Grows = tr.Slope-Sigmas*tr.SE > tr.Bound
	return tr, nil
}

// Fit is the least-squares line through (xs, ys): its slope, the
// slope's standard error, and the mean of ys. The standard error is the
// ordinary one widened by sqrt((1+ρ)/(1-ρ)), ρ the lag-one
// autocorrelation of the residuals (corrected for the estimate's bias
// in short series, at least 0, at most maxRho):
// samples a few seconds apart of a population that changes over tens of
// seconds are not independent, and n of them carry the information of
// about n(1-ρ)/(1+ρ).
func Fit(xs, ys []float64) (slope, se, mean float64) {
	n := float64(len(xs))
	var mx, my float64
	for i := range xs {
		mx += xs[i]
		my += ys[i]
	}
	mx, my = mx/n, my/n
	var sxx, sxy float64
	for i := range xs {
		sxx += (xs[i] - mx) * (xs[i] - mx)
		sxy += (xs[i] - mx) * (ys[i] - my)
	}
	if sxx == 0 || n < 3 {
		return 0, math.Inf(1), my
	}
	slope = sxy / sxx
	var sse, lag, prev float64
	for i := range xs {
		r := ys[i] - my - slope*(xs[i]-mx)
		sse += r * r
		if i > 0 {
			lag += r * prev
		}
		prev = r
	}
	se = math.Sqrt(sse / (n - 2) / sxx)
	if sse > 0 {
		rho := lag / sse
		rho = min(max(rho+(1+3*rho)/n, 0), maxRho) // less the estimate's bias, -(1+3ρ)/n

		se *= math.Sqrt((1 + rho) / (1 - rho))
	}
	return slope, se, my
}
