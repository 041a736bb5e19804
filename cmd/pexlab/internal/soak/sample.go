package soak

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
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
	Timers     int           // live runtime timers (heapprofile.go)
	RSSKiB     int           // VmRSS, beside AnonKiB (not held to a bound)
	// What the Go runtime says of its memory (go_memstats_*, not held to
	// a bound): the heap's spans in use, the goroutines' stacks, and the
	// profiling buckets (which memprofilerate=1 makes grow with every new
	// allocating stack).
	HeapKiB, StackKiB, ProfKiB int
	Pop                        PopCounts // the population's counts at T
}

// Value is the sample's value of metric (one of Metrics).
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

// sampleTimeout bounds one request of a sample. The heap profile, every
// allocation recorded, is a few megabytes of text the process symbolizes:
// a second or two on an idle machine, ten and more on a busy one.
const sampleTimeout = time.Minute

func newSampler(pid int, metricsAddr, linksMetric string) *sampler {
	return &sampler{pid: pid, metrics: metricsAddr, links: linksMetric, client: http.Client{Timeout: sampleTimeout}}
}

// sample reads every metric; an error means one could not be read. With
// gc the timers are counted after a garbage collection the profile
// request asks for (the drained sample: a node with nothing to do
// collects no garbage, and its profile would stay as of its last busy
// moment); memory is read before it.
func (s *sampler) sample(gc bool) (Sample, error) {
	var smp Sample
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
	vals, err := s.scrape(map[string]bool{"go_goroutines": true, s.links: true,
		"go_memstats_heap_inuse_bytes": true, "go_memstats_stack_inuse_bytes": true, "go_memstats_buck_hash_sys_bytes": true})
	if err != nil {
		return smp, err
	}
	smp.Goroutines, smp.Links = int(vals["go_goroutines"]), int(vals[s.links])
	smp.HeapKiB, smp.StackKiB = int(vals["go_memstats_heap_inuse_bytes"]/1024), int(vals["go_memstats_stack_inuse_bytes"]/1024)
	smp.ProfKiB = int(vals["go_memstats_buck_hash_sys_bytes"] / 1024)
	if smp.Timers, err = s.timers(gc); err != nil {
		return smp, err
	}
	return smp, nil
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
func (s *sampler) scrape(want map[string]bool) (map[string]float64, error) {
	body, err := s.get("/metrics")
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

// get fetches path of the metrics listener.
func (s *sampler) get(path string) (io.ReadCloser, error) {
	resp, err := s.client.Get("http://" + s.metrics + path)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, errors.New(path + ": " + resp.Status)
	}
	return resp.Body, nil
}
