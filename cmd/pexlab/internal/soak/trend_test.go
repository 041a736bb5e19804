package soak

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// series is a metric sampled every interval for d: it climbs from 0 to
// level over the first tenth of the run (the population joining), then
// holds level plus noise (AR(1), standard deviation sigma, lag-one
// correlation rho: the population's size moves it for several samples
// at a time), plus leak units an hour from the start.
func series(rng *rand.Rand, d, interval time.Duration, level, sigma, rho, leak float64) (ts, ys []float64) {
	noise := 0.0
	for t := time.Duration(0); t <= d; t += interval {
		noise = rho*noise + math.Sqrt(1-rho*rho)*sigma*rng.NormFloat64()
		y := level + noise + leak*t.Hours()
		if ramp := d / 10; t < ramp {
			y *= float64(t) / float64(ramp)
		}
		ts, ys = append(ts, t.Seconds()), append(ys, y)
	}
	return ts, ys
}

// The detector at the CI's size (CI: two minutes, a sample every 2 s,
// members staying 10 s) and at an hour's (the defaults): a leak of
// one goroutine or one timer per departed member is caught in every one
// of 200 runs, and a flat series as noisy as the soaks' (goroutines and
// timers of a relay moved by ±20 from sample to sample: pexlab soak pxp
// measured a standard deviation of 18 and 21) is never called growing.
// At an hour, a fifty times smaller leak (one per 50 departures) is
// caught too.
func TestDetectorCatchesALeakPerDeparture(t *testing.T) {
	ci := CI(EnginePXP, "pex")
	hour := Config{Engine: EnginePXP, Interval: 5 * time.Second}
	for _, c := range []struct {
		name    string
		cfg     Config
		metric  string
		level   float64
		perDep  float64 // the leak, a departure
		catches bool
	}{
		{"ci goroutines flat", ci, MetricGoroutines, 470, 0, false},
		{"ci goroutines one per departure", ci, MetricGoroutines, 470, 1, true},
		{"ci timers flat", ci, MetricTimers, 400, 0, false},
		{"ci timers one per departure", ci, MetricTimers, 400, 1, true},
		{"ci fds flat", ci, MetricFDs, 80, 0, false},
		{"ci fds one per departure", ci, MetricFDs, 80, 1, true},
		{"hour goroutines flat", hour, MetricGoroutines, 470, 0, false},
		{"hour goroutines one per departure", hour, MetricGoroutines, 470, 1, true},
		{"hour goroutines one per 50 departures", hour, MetricGoroutines, 470, 0.02, true},
		{"hour timers one per 50 departures", hour, MetricTimers, 400, 0.02, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Pex = "pex"
			cfg.defaults()
			if err := cfg.validate(); err != nil {
				t.Fatal(err)
			}
			leak := c.perDep * cfg.DeparturesPerHour()
			caught := 0
			var worst Trend
			for seed := range uint64(200) {
				rng := rand.New(rand.NewPCG(seed, 7))
				ts, ys := series(rng, cfg.Duration, cfg.Interval, c.level, 20, 0.5, leak)
				tr, err := Assess(c.metric, ts, ys, cfg.Bounds[c.metric])
				if err != nil {
					t.Fatal(err)
				}
				if tr.Grows {
					caught++
				}
				if seed == 0 || tr.Slope-Sigmas*tr.SE > worst.Slope-Sigmas*worst.SE == !c.catches {
					worst = tr // the run nearest the wrong verdict
				}
			}
			if want := map[bool]int{true: 200, false: 0}[c.catches]; caught != want {
				t.Errorf("leak %.0f/h: %d of 200 runs called growing, want %d; the nearest to the wrong verdict: %v", leak, caught, want, worst)
			}
			t.Logf("leak %.0f/h (%.2f a departure at %.0f departures/h): %d of 200 growing; nearest the wrong verdict: %v", leak, c.perDep, cfg.DeparturesPerHour(), caught, worst)
		})
	}
}

// Fit finds a known slope exactly on a clean line, and its standard
// error widens with correlated noise.
func TestFit(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4, 5}
	ys := []float64{10, 12, 14, 16, 18, 20}
	slope, se, mean := Fit(xs, ys)
	if slope != 2 || se != 0 || mean != 15 {
		t.Fatalf("slope %v, se %v, mean %v", slope, se, mean)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	ts, white := series(rng, time.Hour, 5*time.Second, 100, 10, 0, 0)
	_, red := series(rng, time.Hour, 5*time.Second, 100, 10, 0.9, 0)
	_, seWhite, _ := Fit(ts, white)
	_, seRed, _ := Fit(ts, red)
	if seRed < 2*seWhite {
		t.Fatalf("the standard error of correlated noise (%v) is not widened over white noise's (%v)", seRed, seWhite)
	}
}

// Too few samples in the second half give an error, not a verdict.
func TestAssessNeedsSamples(t *testing.T) {
	if _, err := Assess(MetricLinks, []float64{0, 1, 2, 3}, []float64{1, 1, 1, 1}, DefaultBounds[MetricLinks]); err == nil {
		t.Fatal("a slope from 2 samples")
	}
}

// Samples without a count of timers (not due, or the profile did not
// come in time) are left out of the timers' fit and nothing else's.
func TestAssessSkipsUncountedTimers(t *testing.T) {
	res := &Result{Config: Config{Bounds: DefaultBounds}}
	for i := range 60 { // every 2 s, to 118 s; timers every third, to 114 s
		s := Sample{T: time.Duration(i) * 2 * time.Second, AnonKiB: 1000, Goroutines: 50, FDs: 20, Links: 10, Timers: NoCount}
		if i%3 == 0 {
			s.Timers = 60
		}
		res.Samples = append(res.Samples, s)
	}
	if err := assess(res); err != nil {
		t.Fatal(err)
	}
	level := map[string]float64{MetricAnon: 1000, MetricGoroutines: 50, MetricFDs: 20, MetricLinks: 10, MetricTimers: 60}
	for _, tr := range res.Trends {
		want := 30 // from 59 s: 60 to 118 s
		if tr.Metric == MetricTimers {
			want = 10 // from 57 s: 60, 66 ... 114 s
		}
		if tr.N != want || tr.Grows || tr.Level != level[tr.Metric] {
			t.Errorf("%v: %d samples, want %d", tr, tr.N, want)
		}
	}
}
