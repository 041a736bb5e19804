package prom

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/seed0021ed4d/pex/metrics"
	"github.com/seed0021ed4d/pex/pxp"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// An Exchange's collector registers with a client_golang registry and
// gathers with the types, labels and histogram package metrics writes.
func TestRegistryGathers(t *testing.T) {
	ex, err := pxp.New("prom", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	reg := prometheus.NewRegistry()
	if err := reg.Register(Collector(metrics.NewPXP(ex))); err != nil {
		t.Fatal(err)
	}
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, f := range fams {
		got[f.GetName()] = f.GetType().String()
	}
	for name, typ := range map[string]string{
		"pex_pxp_relays":                        "GAUGE",
		"pex_pxp_messages_total":                "COUNTER",
		"pex_pxp_introduction_duration_seconds": "HISTOGRAM",
	} {
		if got[name] != typ {
			t.Errorf("%s gathered as %q, want %s", name, got[name], typ)
		}
	}
	for _, f := range fams {
		if f.GetName() == "pex_pxp_messages_total" && len(f.Metric) != 2 {
			t.Errorf("messages: %d samples, want in and out", len(f.Metric))
		}
		if f.GetName() == "pex_pxp_introduction_duration_seconds" && len(f.Metric[0].Histogram.Bucket) != len(pxp.IntroductionBuckets) {
			t.Errorf("histogram: %d buckets", len(f.Metric[0].Histogram.Bucket))
		}
	}
}
