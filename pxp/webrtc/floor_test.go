package webrtc

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"

	"github.com/seed0021ed4d/pex/pxp"
)

// pionFloor times one PeerConnection pair with pex's settings (the
// Upgrader's setting engine, network handle and certificate, a
// data-channel-only API), signaled in memory: the least a WebRTC link
// costs here, from the first PeerConnection to the data channel open on
// both sides.
func pionFloor(tb testing.TB, u *Upgrader) time.Duration {
	start := time.Now()
	n, err := u.nets.get()
	if err != nil {
		tb.Fatal(err)
	}
	cert, err := u.certs.get()
	if err != nil {
		tb.Fatal(err)
	}
	se := u.se
	se.SetNet(n)
	api := webrtc.NewAPI(webrtc.WithSettingEngine(se), webrtc.WithMediaEngine(&webrtc.MediaEngine{}),
		webrtc.WithInterceptorRegistry(&interceptor.Registry{}))
	cfg := webrtc.Configuration{Certificates: []webrtc.Certificate{cert}}
	a, err := api.NewPeerConnection(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer a.Close()
	b, err := api.NewPeerConnection(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	defer b.Close()
	// Candidates trickle from one to the other; one that comes before the
	// other side has its remote description waits for it (pion refuses
	// it before, and a pair whose candidates were all refused never
	// connects).
	type side struct {
		pc      *webrtc.PeerConnection
		mu      sync.Mutex
		remote  bool
		pending []webrtc.ICECandidateInit
	}
	sa, sb := &side{pc: a}, &side{pc: b}
	trickle := func(from *webrtc.PeerConnection, to *side) {
		from.OnICECandidate(func(c *webrtc.ICECandidate) {
			if c == nil {
				return
			}
			to.mu.Lock()
			defer to.mu.Unlock()
			if !to.remote {
				to.pending = append(to.pending, c.ToJSON())
				return
			}
			to.pc.AddICECandidate(c.ToJSON())
		})
	}
	setRemote := func(s *side, d webrtc.SessionDescription) {
		if err := s.pc.SetRemoteDescription(d); err != nil {
			tb.Fatal(err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.remote = true
		for _, c := range s.pending {
			s.pc.AddICECandidate(c)
		}
		s.pending = nil
	}
	trickle(a, sb)
	trickle(b, sa)
	open := make(chan struct{}, 2)
	b.OnDataChannel(func(dc *webrtc.DataChannel) { dc.OnOpen(func() { open <- struct{}{} }) })
	dc, err := a.CreateDataChannel("floor", nil)
	if err != nil {
		tb.Fatal(err)
	}
	dc.OnOpen(func() { open <- struct{}{} })
	offer, _ := a.CreateOffer(nil)
	a.SetLocalDescription(offer)
	setRemote(sb, offer)
	answer, _ := b.CreateAnswer(nil)
	b.SetLocalDescription(answer)
	setRemote(sa, answer)
	timeout := time.After(10 * time.Second)
	for range 2 {
		select {
		case <-open:
		case <-timeout:
			tb.Fatal("the floor's data channel did not open")
		}
	}
	return time.Since(start)
}

// BenchmarkGetNewPeerAgainstPionFloor runs, in one process and one run,
// pion's floor (pionFloor) and a whole GetNewPeer over WebRTC (getpeers,
// relay, signaling through the hub, the nested PXP handshake), one after
// the other, and reports both medians and what pex adds.
func BenchmarkGetNewPeerAgainstPionFloor(b *testing.B) {
	up, err := New(&Config{Loopback: true})
	if err != nil {
		b.Fatal(err)
	}
	mk := func(withWebRTC bool) *pxp.Exchange { return benchNode(b, up, withWebRTC, 0) }
	hub := mk(false)
	var floor, pex []float64
	for b.Loop() {
		floor = append(floor, float64(pionFloor(b, up).Microseconds())/1000)
		req, ans := mk(true), mk(true)
		link(b, req, hub)
		link(b, ans, hub)
		go func() {
			for c := range ans.Incoming() {
				c.Close()
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		start := time.Now()
		c, err := req.GetNewPeer(ctx)
		d := time.Since(start)
		cancel()
		if err != nil || c.Transport() != "webrtc" {
			b.Fatalf("GetNewPeer: %v", err)
		}
		pex = append(pex, float64(d.Microseconds())/1000)
		req.Close()
		ans.Close()
	}
	slices.Sort(floor)
	slices.Sort(pex)
	f, p := floor[len(floor)/2], pex[len(pex)/2]
	b.ReportMetric(f, "floor-p50-ms")
	b.ReportMetric(p, "getnewpeer-p50-ms")
	b.ReportMetric(p-f, "added-ms")
	b.ReportMetric(p/f, "ratio")
}

// The floor's pair connects (the benchmark's numbers are not asserted).
func TestPionFloorConnects(t *testing.T) {
	up, err := New(&Config{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	if d := pionFloor(t, up); d <= 0 {
		t.Fatalf("floor %v", d)
	}
}

// benchNode is an exchange for the benchmarks and tests: requests not rate-limited
// (they ask back to back), WebRTC through up when withWebRTC, maxPeers
// links (0: the default); closed when the benchmark ends.
func benchNode(b testing.TB, up *Upgrader, withWebRTC bool, maxPeers int) *pxp.Exchange {
	cfg := &pxp.Config{MaxPeers: maxPeers, GetPeersRate: 1000, GetPeersBurst: 1000, RequestRate: 1000, RequestBurst: 1000}
	if withWebRTC {
		cfg.Upgrader = up
	}
	ex, err := pxp.New("pxp-mesh", cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { ex.Close() })
	return ex
}
