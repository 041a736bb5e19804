package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/lab/proc"
)

// pexBinary builds pex for the benches to measure.
func pexBinary(t *testing.T) string {
	t.Helper()
	bin, err := proc.BuildPex()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// events are the JSON lines a run printed.
type events []map[string]any

// runJSON runs pexlab with args and returns its events; it fails the
// test unless the run exits 0.
func runJSON(t *testing.T, args []string) events {
	t.Helper()
	var out, errOut strings.Builder
	code := run(context.Background(), args, &out, &errOut)
	var evs events
	for _, line := range strings.Split(out.String(), "\n") {
		var ev map[string]any
		if json.Unmarshal([]byte(line), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	if code != 0 {
		t.Fatalf("pexlab %v exited %d: %s\n%v", args, code, errOut.String(), evs)
	}
	return evs
}

// find returns the first event named name that matches, or fails the test.
func (evs events) find(t *testing.T, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	for _, ev := range evs {
		if ev["event"] == name && (match == nil || match(ev)) {
			return ev
		}
	}
	t.Fatalf("no %s event in %v", name, evs)
	return nil
}

// pex bench getnewpeer runs end to end (a few rounds; its numbers are not
// asserted, only that every setup measured something).
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := pexBinary(t)
	// The binary is its own baseline: the Go-JS rounds run twice over.
	args := []string{"bench", "getnewpeer", "--n", "2", "--json", "--js", "../../testdata/js", "--pex", bin, "--baseline", bin}
	setups := []string{"go-webrtc", "go-direct", "go-relay"}
	nodes := []string{"go"}
	if _, err := os.Stat("../../testdata/js/node_modules/peer-exchange"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the JS reference is not installed")
		}
		args = append(args, "--no-js")
	} else {
		setups = append(setups, "js-webrtc", "go-js-webrtc", "js-go-webrtc", "go-js-webrtc-baseline", "js-go-webrtc-baseline")
		nodes = append(nodes, "js")
	}
	out := runJSON(t, args)
	for _, setup := range setups {
		ev := out.find(t, "latency", func(ev map[string]any) bool { return ev["setup"] == setup })
		if ev["p50_ms"].(float64) <= 0 || ev["n"].(float64) != 2 {
			t.Fatalf("%s: %v", setup, ev)
		}
	}
	for _, node := range nodes {
		ev := out.find(t, "rss", func(ev map[string]any) bool { return ev["node"] == node })
		peak, rss, pss, anon, file := ev["peak_kib"].(float64), ev["rss_kib"].(float64), ev["pss_kib"].(float64), ev["anon_kib"].(float64), ev["file_kib"].(float64)
		if anon <= 0 || file <= 0 || anon+file != rss || pss > rss || peak < rss {
			t.Fatalf("%s node's memory: %v", node, ev)
		}
	}
}

// pexlab bench relay runs end to end at a small size, Go and JS relays: every
// introduction succeeds, the memory figures are there (not asserted: the
// numbers are BENCHMARKS.md's, measured at 1,000 and 10,000 links).
func TestBenchRelayRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := pexBinary(t)
	args := []string{"bench", "relay", "--links", "60", "--clients", "8", "--rounds", "2", "--idle", "200ms",
		"--json", "--js", "../../testdata/js", "--pex", bin}
	if _, err := os.Stat("../../testdata/js/node_modules/peer-exchange"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the JS reference is not installed")
		}
		args = append(args, "--no-js")
	}
	out := runJSON(t, args)
	mem := out.find(t, "relay-memory", func(ev map[string]any) bool { return ev["relay"] == "go" })
	if mem["links"].(float64) != 60 || mem["rss_kib"].(float64) <= 0 || mem["anon_kib"].(float64) <= 0 || mem["anon_kib"].(float64) > mem["rss_kib"].(float64) {
		t.Fatalf("relay-memory %v", mem)
	}
	thr := out.find(t, "relay-throughput", nil)
	if thr["errors"].(float64) != 0 || thr["introductions"].(float64) != 16 {
		t.Fatalf("relay-throughput %v: want 16 introductions, no errors", thr)
	}
	if lat := out.find(t, "relay-latency", nil); lat["p50_ms_n_links"].(float64) <= 0 {
		t.Fatalf("relay-latency %v", lat)
	}
}
