package webrtc

import (
	"context"
	"os"
	"strconv"
	"strings"
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

// udpSent is the machine's count of UDP datagrams sent (/proc/net/snmp),
// or -1 where there is none.
func udpSent() int64 {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return -1
	}
	lines := strings.Split(string(b), "\n")
	for i := 0; i+1 < len(lines); i++ {
		head, vals := strings.Fields(lines[i]), strings.Fields(lines[i+1])
		if len(head) == 0 || head[0] != "Udp:" || len(vals) != len(head) || vals[0] != "Udp:" {
			continue
		}
		for j, h := range head {
			if h == "OutDatagrams" {
				n, err := strconv.ParseInt(vals[j], 10, 64)
				if err != nil {
					return -1
				}
				return n
			}
		}
	}
	return -1
}

const idleLinks = 100

// idleCost holds idleLinks idle WebRTC links (both ends in this process:
// 200 PeerConnections) made with cfg, waits for them to settle, and
// returns the CPU the process uses over 10 s, as a share of one core, and
// the UDP datagrams a link sends a second (machine-wide: run it on a quiet
// machine). The links are closed before it returns.
func idleCost(b *testing.B, cfg *Config) (cpuPct, datagrams float64) {
	up, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	var nodes []*pxp.Exchange
	mk := func(withWebRTC bool) *pxp.Exchange {
		ex := benchNode(b, up, withWebRTC, 4*idleLinks)
		nodes = append(nodes, ex)
		return ex
	}
	defer func() {
		for _, ex := range nodes {
			ex.Close()
		}
	}()
	hub := mk(false)
	for range idleLinks {
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
	sent, before, start := udpSent(), cpuTime(), time.Now()
	time.Sleep(10 * time.Second)
	used, wall := cpuTime()-before, time.Since(start)
	return 100 * used.Seconds() / wall.Seconds(), float64(udpSent()-sent) / wall.Seconds() / idleLinks
}

// BenchmarkIdleWebRTCLinks measures idle links twice in one run: with
// pion's consent schedule (a check from each side every 2 s,
// ConsentInterval negative: the baseline) and with the default paced
// consent, and reports the CPU of each (the whole process: 201 exchanges,
// the runtime, the links), per link and as a ratio.
func BenchmarkIdleWebRTCLinks(b *testing.B) {
	for b.Loop() {
		pion, pionDgrams := idleCost(b, &Config{Loopback: true, ConsentInterval: -1})
		paced, pacedDgrams := idleCost(b, &Config{Loopback: true})
		b.ReportMetric(pion/idleLinks, "pion-cpu-pct-per-link")
		b.ReportMetric(paced/idleLinks, "cpu-pct-per-link")
		b.ReportMetric(paced, "cpu-pct-100-links")
		b.ReportMetric(pion/paced, "x-less-cpu-than-pion")
		b.ReportMetric(pionDgrams, "pion-datagrams-per-link-s")
		b.ReportMetric(pacedDgrams, "datagrams-per-link-s")
	}
}
