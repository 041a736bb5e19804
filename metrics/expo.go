package metrics

import (
	"bufio"
	"cmp"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Type is a metric family's type in the exposition.
type Type string

// The types pex exports.
const (
	Counter   Type = "counter"
	Gauge     Type = "gauge"
	Histogram Type = "histogram"
)

// Family is one metric family of a scrape: its samples, each with its own
// label values.
type Family struct {
	Name, Help string
	Type       Type
	Samples    []Sample
}

// Sample is one labelled value of a family. A histogram's sample has
// Buckets instead of Value.
type Sample struct {
	Labels  []Label
	Value   float64
	Buckets *Buckets
}

// Label is a label's name and value.
type Label struct{ Name, Value string }

// Buckets is a histogram's state: Counts[i] observations at most
// Bounds[i] (cumulative), Count in all, summing to Sum.
type Buckets struct {
	Bounds []float64
	Counts []uint64
	Count  uint64
	Sum    float64
}

// Collector gives its families at scrape time.
type Collector interface {
	Collect() []Family
}

// ContentType is the media type Write produces: Prometheus' text
// exposition format, version 0.0.4.
const ContentType = "text/plain; version=0.0.4; charset=utf-8"

// Write writes fams in Prometheus' text exposition format (0.0.4): for
// each family with samples its HELP and TYPE lines, then its samples,
// sorted by their label values so that scrapes compare line by line.
func Write(w io.Writer, fams []Family) error {
	bw := bufio.NewWriter(w)
	for _, f := range fams {
		if len(f.Samples) == 0 {
			continue
		}
		bw.WriteString("# HELP " + f.Name + " " + escapeHelp(f.Help) + "\n")
		bw.WriteString("# TYPE " + f.Name + " " + string(f.Type) + "\n")
		samples := slices.Clone(f.Samples)
		slices.SortFunc(samples, func(a, b Sample) int {
			return slices.CompareFunc(a.Labels, b.Labels, func(x, y Label) int {
				return cmp.Or(strings.Compare(x.Name, y.Name), strings.Compare(x.Value, y.Value))
			})
		})
		for _, s := range samples {
			if f.Type == Histogram && s.Buckets != nil {
				writeHistogram(bw, f.Name, s)
				continue
			}
			writeSample(bw, f.Name, s.Labels, s.Value)
		}
	}
	return bw.Flush()
}

func writeHistogram(bw *bufio.Writer, name string, s Sample) {
	h := s.Buckets
	for i, b := range h.Bounds {
		var n uint64
		if i < len(h.Counts) {
			n = h.Counts[i]
		}
		writeSample(bw, name+"_bucket", append(slices.Clip(s.Labels), Label{"le", formatFloat(b)}), float64(n))
	}
	writeSample(bw, name+"_bucket", append(slices.Clip(s.Labels), Label{"le", "+Inf"}), float64(h.Count))
	writeSample(bw, name+"_sum", s.Labels, h.Sum)
	writeSample(bw, name+"_count", s.Labels, float64(h.Count))
}

func writeSample(bw *bufio.Writer, name string, labels []Label, v float64) {
	bw.WriteString(name)
	if len(labels) > 0 {
		bw.WriteByte('{')
		for i, l := range labels {
			if i > 0 {
				bw.WriteByte(',')
			}
			bw.WriteString(l.Name + `="` + escapeLabel(l.Value) + `"`)
		}
		bw.WriteByte('}')
	}
	bw.WriteByte(' ')
	bw.WriteString(formatFloat(v))
	bw.WriteByte('\n')
}

func formatFloat(v float64) string {
	switch {
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case math.IsNaN(v):
		return "NaN"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
func escapeHelp(s string) string  { return helpEscaper.Replace(s) }
