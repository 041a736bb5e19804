package webrtc

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkIdleWebRTCLinks holds 100 idle WebRTC links (both ends in this
// process: 200 PeerConnections), waits for them to settle, and reports the
// CPU they use over 10 s, as a share of one core per link.
func BenchmarkIdleWebRTCLinks(b *testing.B) {
	const links = 100
	up, err := New(&Config{Loopback: true})
	if err != nil {
		b.Fatal(err)
	}
	mk := func(withWebRTC bool) *pxp.Exchange { return benchNode(b, up, withWebRTC, 4*links) }
	hub := mk(false)
	for range links {
		req, ans := mk(true), mk(true)
		link(b, req, hub)
		link(b, ans, hub)
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, err := req.GetNewPeer(ctx)
		cancel()
		if err != nil || c.Transport() != "webrtc" {
			b.Fatalf("GetNewPeer: %v", err)
		}
		// The relay links are closed: only the WebRTC link stays.
		for _, p := range req.Peers() {
			if p.Transport() != "webrtc" {
				p.Close()
			}
		}
	}
	time.Sleep(5 * time.Second) // settled: ICE and SCTP past their first exchanges
	for b.Loop() {
		before, start := cpuTime(), time.Now()
		time.Sleep(10 * time.Second)
		used, wall := cpuTime()-before, time.Since(start)
		b.ReportMetric(100*used.Seconds()/wall.Seconds(), "cpu-pct-100-links")
		b.ReportMetric(100*used.Seconds()/wall.Seconds()/links, "cpu-pct-per-link")
	}
}
