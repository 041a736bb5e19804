package soak

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"
)

// Sample is what the soak read of the process under test at one time,
// and what its population had done by then.
type Sample struct {
	T          time.Duration // since the start of the run
	AnonKiB    int           // RssAnon of /proc/PID/status
	Goroutines int           // go_goroutines of /metrics
	FDs        int           // entries of /proc/PID/fd
	Links      int           // pex_pxp_links or pex_bt_connections, summed over their labels
	Timers     int           // live runtime timers (heapprofile.go); NoCount when not counted
	RSSKiB     int           // VmRSS, beside AnonKiB (not held to a bound)
	// What the Go runtime says of its memory (go_memstats_*, not held to
	// a bound): the heap's spans in use, the goroutines' stacks, and the
	// profiling buckets (which memprofilerate=1 makes grow with every new
	// allocating stack).
	HeapKiB, StackKiB, ProfKiB int
	Pop                        PopCounts // the population's counts at T
}

// NoCount is Sample.Timers when the sample did not count timers: not
// one of the samples that do (Config.TimersEvery), or the profile did
// not come in time.
const NoCount = -1

// Value is the sample's value of metric (one of Metrics); NaN when the
// sample holds none.
func (s Sample) Value(metric string) float64 {
	switch metric {
	case MetricAnon:
		return float64(s.AnonKiB)
	case MetricGoroutines:
		return float64(s.Goroutines)
	case MetricFDs:
		return float64(s.FDs)
	case MetricLinks:
		return float64(s.Links)
	case MetricTimers:
		if s.Timers == NoCount {
			return math.NaN()
		}
		return float64(s.Timers)
	}
	panic("soak: no metric " + metric)
}

// sampler reads a process's Samples: /proc for its memory and
// descriptors, its --metrics listener for goroutines, links and timers.
type sampler struct {
	pid     int
	metrics string // HOST:PORT of its --metrics
	links   string // the metric whose samples are its links
	client  http.Client
}

// The time a sample's requests are given: /metrics is small and quick;
// the heap profile costs the process a few hundred milliseconds on an
// idle machine and seconds on a loaded one (a profile that does not come
// in time leaves the sample without a count of timers, run.go).
const (
	metricsTimeout = 20 * time.Second
	profileTimeout = time.Minute
)

func newSampler(pid int, metricsAddr, linksMetric string) *sampler {
	return &sampler{pid: pid, metrics: metricsAddr, links: linksMetric}
}

// sample reads every metric but the timers (Timers is NoCount); an error
// means one could not be read.
func (s *sampler) sample(ctx context.Context) (Sample, error) {
	smp := Sample{Timers: NoCount}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid))
	if err != nil {
		return smp, err
	}
	if smp.AnonKiB, err = statusKiB(status, "RssAnon:"); err != nil {
		return smp, err
	}
	if smp.RSSKiB, err = statusKiB(status, "VmRSS:"); err != nil {
		return smp, err
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", s.pid))
	if err != nil {
		return smp, err
	}
	smp.FDs = len(fds)
	vals, err := s.scrape(ctx, map[string]bool{"go_goroutines": true, s.links: true,
		"go_memstats_heap_inuse_bytes": true, "go_memstats_stack_inuse_bytes": true, "go_memstats_buck_hash_sys_bytes": true})
	if err != nil {
		return smp, err
	}
	smp.Goroutines, smp.Links = int(vals["go_goroutines"]), int(vals[s.links])
	smp.HeapKiB, smp.StackKiB = int(vals["go_memstats_heap_inuse_bytes"]/1024), int(vals["go_memstats_stack_inuse_bytes"]/1024)
	smp.ProfKiB = int(vals["go_memstats_buck_hash_sys_bytes"] / 1024)
	return smp, nil
}

// countTimers sets smp.Timers from the heap profile, taken within
// profileTimeout. With gc the profile is taken after garbage
// collections the requests ask for (the drained sample: a node with
// nothing to do collects no garbage, and its profile would stay as of
// its last busy moment).
func (s *sampler) countTimers(ctx context.Context, smp *Sample, gc bool) error {
	ctx, cancel := context.WithTimeout(ctx, profileTimeout)
	defer cancel()
	n, err := s.timers(ctx, gc)
	if err != nil {
		return err
	}
	smp.Timers = n
	return nil
}

// statusKiB reads the field "name   123 kB" of /proc/PID/status.
func statusKiB(status []byte, name string) (int, error) {
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 2 && f[0] == name {
			return strconv.Atoi(f[1])
		}
	}
	return 0, fmt.Errorf("/proc status has no %s", name)
}

// scrape reads /metrics and sums the samples of each metric named in
// want over their labels; a metric with no sample (a gauge of an empty
// family) is 0.
func (s *sampler) scrape(ctx context.Context, want map[string]bool) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, metricsTimeout)
	defer cancel()
	body, err := s.get(ctx, "/metrics")
	if err != nil {
		return nil, err
	}
	defer body.Close()
	return parseMetrics(body, want)
}

// parseMetrics sums, for each metric named in want, its samples in the
// text exposition format read from r.
func parseMetrics(r io.Reader, want map[string]bool) (map[string]float64, error) {
	vals := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, " ")
		name, _, _ = strings.Cut(name, "{")
		if !want[name] {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[sp+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("/metrics: %q: %w", line, err)
		}
		vals[name] += v
	}
	return vals, sc.Err()
}

// get fetches path of the metrics listener; ctx bounds the request and
// the reading of its body.
func (s *sampler) get(ctx context.Context, path string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.metrics+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, errors.New(path + ": " + resp.Status)
	}
	return resp.Body, nil
}
