package main

import (
	"testing"
)

// A node whose links were all opened to it (x and x0: one link from p1,
// --want 1) is at --want by count; x, at the default --own (half of
// --want, rounded up: 1), still opens a link of its own through p1, to h
// or p3; x0, with --own 0, counts p1's link alike and asks nobody.
func TestNodeOwnLinks(t *testing.T) {
	listen := func(args ...string) (*lines, string) {
		n, _ := startNode(t, append([]string{"--network", "own", "--listen", "127.0.0.1:0", "--no-webrtc"}, args...)...)
		return n, n.wait(t, "listening", nil)["addr"].(string)
	}
	_, hAddr := listen()
	listen("--connect", hAddr)
	x, xAddr := listen("--want", "1")
	x0, x0Addr := listen("--want", "1", "--own", "0")
	p1, _ := listen("--connect", hAddr, "--connect", xAddr, "--connect", x0Addr)
	for _, a := range []string{xAddr, x0Addr} {
		p1.wait(t, "connect", func(ev map[string]any) bool { return ev["remote"] == a })
	}
	ev := x.wait(t, "getnewpeer", nil)
	if ev["peers"].(float64) != 2 {
		t.Fatalf("x: %v, want a second link, its own", ev)
	}
	if n := x0.count("getnewpeer"); n != 0 {
		t.Fatalf("x0 (--own 0), at --want with p1's link, opened %d links", n)
	}
}

func TestOwnTarget(t *testing.T) {
	for _, c := range []struct{ want, own, target int }{
		{1, ownAuto, 1}, {2, ownAuto, 1}, {5, ownAuto, 3}, {8, ownAuto, 4}, {8, 0, 0}, {8, 8, 8}, {0, ownAuto, 0},
	} {
		if got := ownTarget(c.want, c.own); got != c.target {
			t.Errorf("ownTarget(%d, %d) = %d, want %d", c.want, c.own, got, c.target)
		}
	}
}
