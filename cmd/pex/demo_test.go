package main

import (
	"context"
	"io"
	"os"
	"strings"
	"testing"
)

// Four nodes each wanting four peers must each meet every other: the two
// that do not listen (n2, n4) can only meet over WebRTC, so the demo shows
// both transports every time (with fewer wanted, whether any pair of
// non-listening nodes meets is up to chance).
func TestDemo(t *testing.T) {
	out := newLines()
	if code := run(context.Background(), []string{"demo", "--nodes", "4", "--want", "4", "--json"}, out, io.Discard); code != 0 {
		t.Fatalf("demo exited %d: %v", code, out.evs)
	}
	sum := out.wait(t, "summary", nil)
	if last := out.evs[len(out.evs)-1]; last["event"] != "summary" {
		t.Fatalf("printed after the summary: %v", last)
	}
	rows := sum["nodes"].([]any)
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	webrtcLinks := 0
	for _, r := range rows[1:] {
		row := r.(map[string]any)
		if row["peers"].(float64) < 4 || row["reached_ms"].(float64) <= 0 {
			t.Fatalf("node did not reach its target: %v", row)
		}
		if strings.Contains(row["transports"].(string), "webrtc") {
			webrtcLinks++
		}
	}
	if webrtcLinks == 0 {
		t.Fatalf("no node met another over WebRTC: %v", rows)
	}
	if sum["messages_sent"].(float64) == 0 || sum["bytes_sent"].(float64) == 0 {
		t.Fatalf("summary counts nothing: %v", sum)
	}
}

// pex bench getnewpeer runs end to end (a few rounds; its numbers are not
// asserted, only that every setup measured something).
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildPex(t)
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
	out := newLines()
	if code := run(context.Background(), args, out, os.Stderr); code != 0 {
		t.Fatalf("bench exited %d: %v", code, out.evs)
	}
	for _, setup := range setups {
		ev := out.wait(t, "latency", func(ev map[string]any) bool { return ev["setup"] == setup })
		if ev["p50_ms"].(float64) <= 0 || ev["n"].(float64) != 2 {
			t.Fatalf("%s: %v", setup, ev)
		}
	}
	for _, node := range nodes {
		ev := out.wait(t, "rss", func(ev map[string]any) bool { return ev["node"] == node })
		peak, rss, anon, file := ev["peak_kib"].(float64), ev["rss_kib"].(float64), ev["anon_kib"].(float64), ev["file_kib"].(float64)
		if anon <= 0 || file <= 0 || anon+file > rss || peak < rss { // VmRSS also counts shared memory
			t.Fatalf("%s node's memory: %v", node, ev)
		}
	}
}

// The demo's largest size: its bootstrap node takes every node (all on one
// address), and every node reaches its target.
func TestDemoTwoHundredNodes(t *testing.T) {
	out := newLines()
	if code := run(context.Background(), []string{"demo", "--nodes", "200", "--no-webrtc", "--json"}, out, io.Discard); code != 0 {
		t.Fatalf("demo --nodes 200 exited %d", code)
	}
	rows := out.wait(t, "summary", nil)["nodes"].([]any)
	if len(rows) != 201 || rows[0].(map[string]any)["peers"].(float64) < 200 {
		t.Fatalf("%d rows; the bootstrap node holds %v peers", len(rows), rows[0].(map[string]any)["peers"])
	}
}

// pex bench relay runs end to end at a small size, Go and JS relays: every
// introduction succeeds, the memory figures are there (not asserted: the
// numbers are BENCHMARKS.md's, measured at 1,000 and 10,000 links).
func TestBenchRelayRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := buildPex(t)
	args := []string{"bench", "relay", "--links", "60", "--clients", "8", "--rounds", "2", "--idle", "200ms",
		"--json", "--js", "../../testdata/js", "--pex", bin}
	if _, err := os.Stat("../../testdata/js/node_modules/peer-exchange"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the JS reference is not installed")
		}
		args = append(args, "--no-js")
	}
	out := newLines()
	if code := run(context.Background(), args, out, os.Stderr); code != 0 {
		t.Fatalf("bench relay exited %d: %v", code, out.evs)
	}
	mem := out.wait(t, "relay-memory", func(ev map[string]any) bool { return ev["relay"] == "go" })
	if mem["links"].(float64) != 60 || mem["rss_kib"].(float64) <= 0 {
		t.Fatalf("relay-memory %v", mem)
	}
	thr := out.wait(t, "relay-throughput", nil)
	if thr["errors"].(float64) != 0 || thr["introductions"].(float64) != 16 {
		t.Fatalf("relay-throughput %v: want 16 introductions, no errors", thr)
	}
	if lat := out.wait(t, "relay-latency", nil); lat["p50_ms_n_links"].(float64) <= 0 {
		t.Fatalf("relay-latency %v", lat)
	}
}
