package soak

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Result is a soak's outcome.
type Result struct {
	Config  Config
	Samples []Sample
	Trends  []Trend // one a metric, in the order of Metrics
	// Grows names the metrics that grew; the run failed if any did.
	Grows []string
	// Drained is a sample taken once the population had left and
	// DrainWait had passed: what the node holds with no peers (not held to
	// a bound: a figure beside the first sample's).
	Drained Sample
	// Wall is how long the run took, start to drain.
	Wall time.Duration
	// Missed are the samples that could not be taken (left out: the fit
	// uses the times the others were taken at), TimersMissed the samples
	// due to count timers whose heap profile did not come in time (kept,
	// without a count), and LastMiss why the last of either failed.
	Missed, TimersMissed int
	LastMiss             string
}

// DrainWait is how long the node is given, once the population has left,
// before Result.Drained is sampled.
const DrainWait = 5 * time.Second

// giveUpAfter is how long the run goes on with every sample failing
// (the node up but not answering) before it gives up: longer than any
// stall of a loaded machine.
const giveUpAfter = 2 * time.Minute

// LeakPerDeparture is the smallest leak per departed member that grows
// the metric of tr past its bound at cfg's churn: the bound over the
// departures an hour.
func LeakPerDeparture(cfg *Config, tr Trend) float64 {
	return tr.Bound / cfg.DeparturesPerHour()
}

// CaughtPerDeparture is the smallest leak per departed member that this
// run would have called growing had it been added to what was measured:
// the bound plus Sigmas standard errors of the slope, over the
// departures an hour. A short run's noise makes it many times
// LeakPerDeparture, memory's most of all.
func CaughtPerDeparture(cfg *Config, tr Trend) float64 {
	return (tr.Bound + Sigmas*tr.SE) / cfg.DeparturesPerHour()
}

// Run runs one soak: it starts the node under test, churns its
// population for cfg.Duration while sampling it every cfg.Interval, and
// holds each metric's slope over the second half to its bound. The
// result is returned with a nil error whether or not a metric grew
// (Result.Grows says); an error means the run could not be made.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	cfg.defaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "pexlab-soak")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	t, ih, err := startTarget(&cfg, dir)
	if err != nil {
		return nil, err
	}
	defer t.p.Stop()
	smp := newSampler(t.p.Pid(), t.p.Addr("metrics"), t.links)
	var run interface {
		run(context.Context)
		counts() PopCounts
	}
	switch cfg.Engine {
	case EnginePXP:
		pp := &pxpPop{tcp: t.p.Addr("tcp"), ws: t.p.Addr("ws"), http: t.p.Addr("http")}
		pp.init(&cfg)
		run = pp
	case EngineBT:
		target, err := netip.ParseAddrPort(t.p.Addr("tcp"))
		if err != nil {
			return nil, fmt.Errorf("the swarm's address: %w", err)
		}
		bp := &btPop{ih: ih, target: target}
		bp.init(&cfg)
		run = bp
	}
	start := time.Now()
	res := &Result{Config: cfg}
	popCtx, stopPop := context.WithCancel(ctx)
	var popDone sync.WaitGroup
	popDone.Add(1)
	go func() { defer popDone.Done(); run.run(popCtx) }()
	stopPopulation := func() { stopPop(); popDone.Wait() }
	defer stopPopulation()

	// A slow sample delays the next (the ticker drops the ticks it
	// missed); each sample's time is when it began.
	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	lastTaken, timersDue := start, 0
	for i, at := 0, time.Duration(0); ; i++ {
		s, err := smp.sample(ctx)
		if err == nil && i >= timersDue {
			timersDue = i + cfg.TimersEvery
			if terr := smp.countTimers(ctx, &s, false); terr != nil {
				res.TimersMissed++
				res.LastMiss = fmt.Sprintf("timers at %.0f s: %v", at.Seconds(), terr)
			}
		}
		switch {
		case err == nil:
			lastTaken = time.Now()
			s.T, s.Pop = at, run.counts()
			res.Samples = append(res.Samples, s)
			if cfg.Progress != nil {
				cfg.Progress(s)
			}
		case t.ended():
			return nil, fmt.Errorf("the node ended %.0f s into the run:\n%s", at.Seconds(), t.p.Report(20))
		case ctx.Err() != nil:
			return nil, ctx.Err()
		default:
			res.Missed++
			res.LastMiss = fmt.Sprintf("sample at %.0f s: %v", at.Seconds(), err)
			if time.Since(lastTaken) > giveUpAfter {
				return nil, fmt.Errorf("no sample taken for %v, the last failure: %w", giveUpAfter, err)
			}
		}
		if at >= cfg.Duration {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		at = time.Since(start)
	}
	stopPopulation()
	if err := assess(res); err != nil {
		return nil, err
	}
	time.Sleep(DrainWait)
	if res.Drained, err = smp.sample(ctx); err != nil {
		return nil, fmt.Errorf("the drained sample: %w", err)
	}
	if err := smp.countTimers(ctx, &res.Drained, true); err != nil {
		res.TimersMissed++
		res.LastMiss = fmt.Sprintf("the drained sample's timers: %v", err)
	}
	res.Drained.T, res.Drained.Pop = time.Since(start), run.counts()
	res.Wall = time.Since(start)
	return res, nil
}

// assess fits every metric's second half and fills Trends and Grows.
func assess(res *Result) error {
	var errs []error
	for _, m := range Metrics {
		var ts, ys []float64
		for _, s := range res.Samples {
			if v := s.Value(m); !math.IsNaN(v) { // timers, counted at some samples only
				ts, ys = append(ts, s.T.Seconds()), append(ys, v)
			}
		}
		tr, err := Assess(m, ts, ys, res.Config.Bounds[m])
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
			continue
		}
		res.Trends = append(res.Trends, tr)
		if tr.Grows {
			res.Grows = append(res.Grows, m)
		}
	}
	return errors.Join(errs...)
}

// ended reports whether the node under test has exited.
func (t *target) ended() bool {
	select {
	case <-t.p.Done():
		return true
	default:
		return false
	}
}

func (p *pop) counts() PopCounts { return p.n.snapshot() }
