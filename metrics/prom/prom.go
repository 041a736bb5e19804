// Package prom registers pex's metrics collectors (package metrics) with
// a Prometheus client_golang registry, for applications that already
// export through one. The pex command does not use it: client_golang and
// the protobuf registry it initialises at start-up cost every process
// that links them about 2 MiB of memory, so package metrics writes the
// text format itself and only this adapter imports client_golang.
package prom

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/seed0021ed4d/pex/metrics"
)

// Collector adapts c to prometheus.Collector. Its metrics are described
// by collecting them (prometheus.DescribeByCollect): a family's labels
// may differ from one scrape to the next.
func Collector(c metrics.Collector) prometheus.Collector { return adapter{c} }

type adapter struct{ c metrics.Collector }

func (a adapter) Describe(ch chan<- *prometheus.Desc) { prometheus.DescribeByCollect(a, ch) }

func (a adapter) Collect(ch chan<- prometheus.Metric) {
	for _, f := range a.c.Collect() {
		for _, s := range f.Samples {
			names := make([]string, len(s.Labels))
			values := make([]string, len(s.Labels))
			for i, l := range s.Labels {
				names[i], values[i] = l.Name, l.Value
			}
			d := prometheus.NewDesc(f.Name, f.Help, names, nil)
			var m prometheus.Metric
			var err error
			switch {
			case f.Type == metrics.Histogram && s.Buckets != nil:
				b := make(map[float64]uint64, len(s.Buckets.Bounds))
				for i, bound := range s.Buckets.Bounds {
					if i < len(s.Buckets.Counts) {
						b[bound] = s.Buckets.Counts[i]
					}
				}
				m, err = prometheus.NewConstHistogram(d, s.Buckets.Count, s.Buckets.Sum, b, values...)
			case f.Type == metrics.Counter:
				m, err = prometheus.NewConstMetric(d, prometheus.CounterValue, s.Value, values...)
			default:
				m, err = prometheus.NewConstMetric(d, prometheus.GaugeValue, s.Value, values...)
			}
			if err != nil {
				m = prometheus.NewInvalidMetric(d, err)
			}
			ch <- m
		}
	}
}
