package soak

import (
	"context"
	"errors"
	"fmt"
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
}

// DrainWait is how long the node is given, once the population has left,
// before Result.Drained is sampled.
const DrainWait = 5 * time.Second

// maxSampleFailures is how many samples in a row may fail before the run
// gives up (a sample that fails is left out; the fit uses the times the
// others were taken at).
const maxSampleFailures = 5

// LeakPerDeparture is the smallest leak per departed member that grows
// the metric of tr past its bound at cfg's churn: the bound over the
// departures an hour.
func LeakPerDeparture(cfg *Config, tr Trend) float64 {
	return tr.Bound / cfg.DeparturesPerHour()
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
		run = &pxpPop{pop: pop{cfg: &cfg}, tcp: t.p.Addr("tcp"), ws: t.p.Addr("ws"), http: t.p.Addr("http")}
	case EngineBT:
		target, err := netip.ParseAddrPort(t.p.Addr("tcp"))
		if err != nil {
			return nil, fmt.Errorf("the swarm's address: %w", err)
		}
		run = &btPop{pop: pop{cfg: &cfg}, ih: ih, target: target}
	}
	start := time.Now()
	res := &Result{Config: cfg}
	popCtx, stopPop := context.WithCancel(ctx)
	var popDone sync.WaitGroup
	popDone.Add(1)
	go func() { defer popDone.Done(); run.run(popCtx) }()
	stopPopulation := func() { stopPop(); popDone.Wait() }
	defer stopPopulation()

	tick := time.NewTicker(cfg.Interval)
	defer tick.Stop()
	failures := 0
	for at := time.Duration(0); ; {
		s, err := smp.sample(false)
		switch {
		case err == nil:
			failures = 0
			s.T, s.Pop = at, run.counts()
			res.Samples = append(res.Samples, s)
			if cfg.Progress != nil {
				cfg.Progress(s)
			}
		case t.ended():
			return nil, fmt.Errorf("the node ended %.0f s into the run:\n%s", at.Seconds(), t.p.Report(20))
		default:
			if failures++; failures >= maxSampleFailures {
				return nil, fmt.Errorf("%d samples in a row failed, the last: %w", failures, err)
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
	if res.Drained, err = smp.sample(true); err != nil {
		return nil, fmt.Errorf("the drained sample: %w", err)
	}
	res.Drained.T, res.Drained.Pop = time.Since(start), run.counts()
	res.Wall = time.Since(start)
	return res, nil
}

// assess fits every metric's second half and fills Trends and Grows.
func assess(res *Result) error {
	ts := make([]float64, len(res.Samples))
	for i, s := range res.Samples {
		ts[i] = s.T.Seconds()
	}
	var errs []error
	for _, m := range Metrics {
		ys := make([]float64, len(res.Samples))
		for i, s := range res.Samples {
			ys[i] = s.Value(m)
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
