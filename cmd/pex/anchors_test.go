package main

import (
	"path/filepath"
	"testing"
)

// A node saves, with --state, the link it opened that carried traffic as
// its anchor, and, started again, dials it first: its anchor is reached
// before its --connect peer, which it dials only then.
func TestNodeAnchors(t *testing.T) {
	dir := t.TempDir()
	a, _ := startNode(t, "--network", "anc", "--listen", "127.0.0.1:0", "--no-webrtc")
	aAddr := a.wait(t, "listening", nil)["addr"].(string)
	c, _ := startNode(t, "--network", "anc", "--listen", "127.0.0.1:0", "--no-webrtc")
	cAddr := c.wait(t, "listening", nil)["addr"].(string)
	// b asks a for peers (--want): the link carries traffic.
	b, stopB := startNode(t, "--network", "anc", "--connect", aAddr, "--want", "2", "--state", dir, "--no-webrtc")
	b.wait(t, "want-unmet", nil)
	stopB()
	b.wait(t, "state-saved", nil)
	anchors := readState(t, filepath.Join(dir, "pxp-peers.json"), "anchors:pxp:anc")
	if len(anchors) != 1 || anchors[0].Addr != aAddr {
		t.Fatalf("anchors saved %+v, want %s", anchors, aAddr)
	}

	b2, _ := startNode(t, "--network", "anc", "--connect", cAddr, "--state", dir, "--no-webrtc")
	b2.wait(t, "anchor", func(ev map[string]any) bool { return ev["remote"] == aAddr })
	b2.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == aAddr })
	b2.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == cAddr })
	b2.mu.Lock()
	defer b2.mu.Unlock()
	order := []string{}
	for _, ev := range b2.evs {
		if ev["event"] == "connect" || ev["event"] == "anchor" {
			order = append(order, ev["event"].(string)+" "+ev["remote"].(string))
		}
	}
	// The anchor's own connect event comes when its stream is served,
	// which may be after the bootstrap has reached the --connect peer:
	// what is promised is the anchor reached first.
	if order[0] != "anchor "+aAddr {
		t.Fatalf("events %v: want the anchor %s reached first, then the --connect peer %s", order, aAddr, cAddr)
	}
}

// A node that saved no anchor fit (its link carried nothing past the
// handshake) saves none, and --anchors 0 keeps none.
func TestNodeAnchorsNeedTraffic(t *testing.T) {
	dir := t.TempDir()
	a, _ := startNode(t, "--network", "anc", "--listen", "127.0.0.1:0", "--no-webrtc")
	aAddr := a.wait(t, "listening", nil)["addr"].(string)
	b, stopB := startNode(t, "--network", "anc", "--connect", aAddr, "--state", dir, "--no-webrtc")
	b.wait(t, "connect", nil)
	stopB()
	b.wait(t, "state-saved", nil)
	if anchors := readState(t, filepath.Join(dir, "pxp-peers.json"), "anchors:pxp:anc"); len(anchors) != 0 {
		t.Fatalf("a silent link saved as an anchor: %+v", anchors)
	}
	b2, stopB2 := startNode(t, "--network", "anc", "--connect", aAddr, "--want", "2", "--state", dir, "--anchors", "0", "--no-webrtc")
	b2.wait(t, "want-unmet", nil)
	stopB2()
	b2.wait(t, "state-saved", nil)
	if anchors := readState(t, filepath.Join(dir, "pxp-peers.json"), "anchors:pxp:anc"); len(anchors) != 0 {
		t.Fatalf("--anchors 0 saved %+v", anchors)
	}
}
