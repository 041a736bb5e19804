package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Write's text is what Prometheus' own parser reads back: label values
// escaped, samples sorted, a histogram's cumulative buckets with +Inf,
// _sum and _count, and families without samples left out.
func TestWriteParsesBack(t *testing.T) {
	fams := []Family{
		{Name: "x_total", Help: "a \\ help\nline", Type: Counter, Samples: []Sample{
			{Labels: []Label{{"k", "b"}}, Value: 2},
			{Labels: []Label{{"k", `a"\` + "\n"}}, Value: 1},
		}},
		{Name: "empty", Help: "none", Type: Gauge},
		{Name: "h_seconds", Help: "h", Type: Histogram, Samples: []Sample{
			{Labels: []Label{{"op", "x"}}, Buckets: &Buckets{Bounds: []float64{0.1, 1}, Counts: []uint64{1, 3}, Count: 4, Sum: 7.5}},
		}},
	}
	var b strings.Builder
	if err := Write(&b, fams); err != nil {
		t.Fatal(err)
	}
	text := b.String()
	want := `# HELP x_total a \\ help\nline
# TYPE x_total counter
x_total{k="a\"\\\n"} 1
x_total{k="b"} 2
# HELP h_seconds h
# TYPE h_seconds histogram
h_seconds_bucket{op="x",le="0.1"} 1
h_seconds_bucket{op="x",le="1"} 3
h_seconds_bucket{op="x",le="+Inf"} 4
h_seconds_sum{op="x"} 7.5
h_seconds_count{op="x"} 4
`
	if text != want {
		t.Fatalf("wrote\n%s\nwant\n%s", text, want)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	got, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if v := got["x_total"].Metric[0].Label[0].GetValue(); v != "a\"\\\n" {
		t.Errorf("label read back as %q", v)
	}
	h := got["h_seconds"].Metric[0].Histogram
	if h.GetSampleCount() != 4 || h.GetSampleSum() != 7.5 || h.Bucket[1].GetCumulativeCount() != 3 {
		t.Errorf("histogram read back as %v", h)
	}
	if _, ok := got["empty"]; ok {
		t.Error("a family without samples was written")
	}
}

// A collector that blocks holds its scrape; past MaxScrapes at once the
// handler answers 503 instead of queueing.
func TestScrapesBounded(t *testing.T) {
	block, entered := make(chan struct{}), make(chan struct{}, MaxScrapes)
	srv := httptest.NewServer(Handler(collectorFunc(func() []Family {
		entered <- struct{}{}
		<-block
		return nil
	})))
	defer srv.Close()
	done := make(chan int, MaxScrapes)
	for range MaxScrapes {
		go func() {
			res, err := http.Get(srv.URL + "/metrics")
			if err != nil {
				done <- 0
				return
			}
			res.Body.Close()
			done <- res.StatusCode
		}()
	}
	for range MaxScrapes {
		<-entered
	}
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	close(block)
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("scrape %d answered %d, want 503", MaxScrapes+1, res.StatusCode)
	}
	for range MaxScrapes {
		if code := <-done; code != http.StatusOK {
			t.Errorf("a held scrape answered %d", code)
		}
	}
}

type collectorFunc func() []Family

func (f collectorFunc) Collect() []Family { return f() }
