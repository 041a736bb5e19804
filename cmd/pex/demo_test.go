package main

import (
	"context"
	"io"
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
	rows := sum["node_rows"].([]any)
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

// The demo's largest size: its bootstrap node takes every node (all on one
// address), and every node reaches its target.
func TestDemoTwoHundredNodes(t *testing.T) {
	out := newLines()
	if code := run(context.Background(), []string{"demo", "--nodes", "200", "--no-webrtc", "--json"}, out, io.Discard); code != 0 {
		t.Fatalf("demo --nodes 200 exited %d", code)
	}
	rows := out.wait(t, "summary", nil)["node_rows"].([]any)
	if len(rows) != 201 || rows[0].(map[string]any)["peers"].(float64) < 200 {
		t.Fatalf("%d rows; the bootstrap node holds %v peers", len(rows), rows[0].(map[string]any)["peers"])
	}
}
