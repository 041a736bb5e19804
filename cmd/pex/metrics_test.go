package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeText fetches and parses url with Prometheus' text parser and
// returns the names of the families seen.
func scrapeText(t *testing.T, url string) map[string]bool {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	names := map[string]bool{}
	for n := range fams {
		names[n] = true
	}
	return names
}

// pex node --metrics and pex bt swarm --metrics serve the engines'
// metrics and pprof.
func TestMetricsFlag(t *testing.T) {
	a, _ := startNode(t, "--network", "m", "--listen", "127.0.0.1:0", "--metrics", "127.0.0.1:0")
	addr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "metrics" })["addr"].(string)
	names := scrapeText(t, "http://"+addr+"/metrics")
	for _, want := range []string{"pex_pxp_getpeers_served_total", "pex_pxp_introduction_duration_seconds", "go_goroutines"} {
		if !names[want] {
			t.Errorf("pex node's scrape lacks %s", want)
		}
	}
	res, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("pprof: %v", err)
	}
	res.Body.Close()

	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"bt", "swarm", "--infohash", testIH, "--json", "--no-listen", "--metrics", "127.0.0.1:0"}, out, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	baddr := out.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "metrics" })["addr"].(string)
	names = scrapeText(t, "http://"+baddr+"/metrics")
	for _, want := range []string{"pex_bt_dialing", "pex_bt_flood_disconnects_total", "process_resident_memory_bytes"} {
		if !names[want] {
			t.Errorf("pex bt swarm's scrape lacks %s", want)
		}
	}
}
