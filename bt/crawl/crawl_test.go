package crawl

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/lab/memnet"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startSwarm runs a pex swarm on 127.0.0.<host>, dialing from there too.
func startSwarm(t *testing.T, ih [20]byte, host int, noAZMP bool) (*swarm.Swarm, netip.AddrPort) {
	t.Helper()
	ip := fmt.Sprintf("127.0.0.%d", host)
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	// Room for every other swarm twice (two of them may dial each other
	// at once) and the crawler: a full swarm evicts an incoming peer that
	// told it nothing, which is what a crawler is.
	s, err := swarm.New(ih, &swarm.Config{ListenPort: ln.Addr().(*net.TCPAddr).Port, NoAZMP: noAZMP, Dialer: d.DialContext, MaxPeers: 100})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(ln) }()
	go func() {
		for range s.Events() {
		}
	}()
	t.Cleanup(func() { s.Close(); <-done })
	return s, netip.MustParseAddrPort(ln.Addr().String())
}

// 40 pex swarms, each told of two earlier ones, half over ut_pex and half
// over AZMP: a crawl given only the first finds and reaches every one.
func TestCrawlFindsEverySwarm(t *testing.T) {
	const n = 40
	ih := [20]byte{0xc0, 0xff, 0xee}
	addrs := make([]netip.AddrPort, n)
	for i := range n {
		var s *swarm.Swarm
		s, addrs[i] = startSwarm(t, ih, i+2, i%2 == 0)
		if i > 0 {
			s.AddPeer(addrs[i-1], swarm.SourceManual)
			s.AddPeer(addrs[i/2], swarm.SourceManual)
		}
	}
	cr, err := New(ih, &Config{PEXWait: 10 * time.Second, Concurrency: 8})
	if err != nil {
		t.Fatal(err)
	}
	cr.Add(addrs[n-1], SourceManual, netip.AddrPort{}, "")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cr.Run(ctx) }()
	go func() {
		for range cr.Events() {
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if r := cr.Report(); r.Reached >= n {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	<-done
	r := cr.Report()
	reached, nets := map[netip.AddrPort]bool{}, map[string]int{}
	for _, p := range r.Peers {
		if p.Reached {
			reached[p.Addr] = true
			nets[p.PEXNet]++
			// AZ_HANDSHAKE carries no yourip; the extended handshake does.
			if !strings.HasPrefix(p.Client, "pex") || p.Listen != int(p.Addr.Port()) || p.YourIP.IsLoopback() != (p.PEXNet == NetUTPex) {
				t.Errorf("peer %+v: want a pex client telling its port (and over LTEP our address)", p)
			}
		}
	}
	for i, a := range addrs {
		if !reached[a] {
			t.Errorf("swarm %d (%v) not reached", i, a)
		}
	}
	if nets[NetUTPex] == 0 || nets[NetAZMP] == 0 || len(r.Edges) < n-1 {
		t.Errorf("networks %v, %d edges", nets, len(r.Edges))
	}
	for i := 1; i < len(r.Coverage); i++ {
		if a, b := r.Coverage[i-1], r.Coverage[i]; b.Known < a.Known || b.Reached < a.Reached || b.Seconds < a.Seconds {
			t.Fatalf("coverage goes back: %+v then %+v", a, b)
		}
	}
	last := r.Coverage[len(r.Coverage)-1]
	t.Logf("%d known, %d reached in %.1f s; %d edges; %d coverage points", r.Known, r.Reached, last.Seconds, len(r.Edges), len(r.Coverage))
	var dot bytes.Buffer
	r.WriteDOT(&dot)
	if !strings.Contains(dot.String(), "digraph swarm") || strings.Count(dot.String(), "->") != len(r.Edges) {
		t.Errorf("DOT output:\n%s", dot.String())
	}
	js, err := json.Marshal(r)
	if err != nil || !bytes.Contains(js, []byte(`"infohash":"c0ffee`)) {
		t.Errorf("JSON: %v %.200s", err, js)
	}
}

// Peers that misbehave end their own visit, within its bounds: one
// that never answers, one that answers for another swarm, one that
// sends a message past MaxMessageSize, one that is not there.
func TestCrawlHostilePeers(t *testing.T) {
	ih := [20]byte{1}
	cr, _ := New(ih, &Config{HandshakeTimeout: time.Second, PEXWait: time.Second, NoAZMP: true})
	var conns []net.Conn
	var mu sync.Mutex
	for i, behave := range []func(c net.Conn){
		func(c net.Conn) {}, // silent
		func(c net.Conn) { // another swarm
			h := wire.Handshake{InfoHash: [20]byte{2}}
			c.Write(h.Append(nil))
		},
		func(c net.Conn) { // a giant message after a good handshake
			h := wire.Handshake{InfoHash: ih}
			h.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
			c.Write(h.Append(nil))
			c.Write([]byte{0x7f, 0xff, 0xff, 0xff, 20})
		},
	} {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.%d:0", i+1))
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		go func() {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			c.Read(make([]byte, 68))
			behave(c)
		}()
		cr.Add(netip.MustParseAddrPort(ln.Addr().String()), SourceManual, netip.AddrPort{}, "")
	}
	dead, _ := net.Listen("tcp", "127.0.0.1:0")
	deadAddr := netip.MustParseAddrPort(dead.Addr().String())
	dead.Close()
	cr.Add(deadAddr, SourceManual, netip.AddrPort{}, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); cr.Run(ctx) }()
	for range cr.Events() {
		if r := cr.Report(); r.Visited == 4 {
			cancel()
		}
	}
	<-done
	r := cr.Report()
	errs := map[string]bool{}
	for _, p := range r.Peers {
		if p.Err == "" || p.PEX {
			t.Errorf("peer %+v: want an error and no PEX", p)
		}
		errs[p.Err] = true
	}
	if r.Visited != 4 || r.Reached != 1 {
		t.Fatalf("visited %d, reached %d; want 4, 1 (errors %v)", r.Visited, r.Reached, errs)
	}
	t.Logf("errors: %v", errs)
	mu.Lock()
	for _, c := range conns {
		c.Close()
	}
	mu.Unlock()
}

// memSwarm runs a pex swarm at ip:6881 on an in-process network.
func memSwarm(t *testing.T, nw *memnet.Network, ih [20]byte, ip string) (*swarm.Swarm, netip.AddrPort) {
	t.Helper()
	ap := netip.AddrPortFrom(netip.MustParseAddr(ip), 6881)
	ln, err := nw.Listen(ap.String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := swarm.New(ih, &swarm.Config{ListenPort: 6881, Dialer: memDialer(nw, ip)})
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	go func() {
		for range s.Events() {
		}
	}()
	t.Cleanup(func() { s.Close() })
	return s, ap
}

var memPorts atomic.Int32

func memDialer(nw *memnet.Network, ip string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		return nw.DialFrom(fmt.Sprintf("%s:%d", ip, 40000+memPorts.Add(1)), addr)
	}
}

// A peer tells a crawler only what it knows when the crawler comes: with
// Revisit, a peer that joined after the first round is learned on the
// next, a minute later (virtual time).
func TestRevisitLearnsLateJoiners(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ih := [20]byte{7}
		a, aAddr := memSwarm(t, nw, ih, "10.0.0.1")
		b, bAddr := memSwarm(t, nw, ih, "10.0.0.2")
		b.AddPeer(aAddr, swarm.SourceManual)
		time.Sleep(5 * time.Second)
		cr, err := New(ih, &Config{Revisit: time.Minute, PEXWait: 10 * time.Second, Dialer: memDialer(nw, "10.9.9.9")})
		if err != nil {
			t.Fatal(err)
		}
		cr.Add(aAddr, SourceManual, netip.AddrPort{}, "")
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); cr.Run(ctx) }()
		go func() {
			for range cr.Events() {
			}
		}()
		time.Sleep(20 * time.Second)
		if r := cr.Report(); r.Known != 2 || r.Reached != 2 {
			t.Fatalf("first round: %d known, %d reached; want a and b", r.Known, r.Reached)
		}
		// c joins through a after the crawler's first visit.
		_, cAddr := memSwarm(t, nw, ih, "10.0.0.3")
		a.AddPeer(cAddr, swarm.SourceManual)
		time.Sleep(90 * time.Second)
		cancel()
		<-done
		r := cr.Report()
		var visits []int
		for _, p := range r.Peers {
			visits = append(visits, p.Visits)
		}
		if r.Known != 3 || r.Reached != 3 || r.Peers[0].Visits < 2 {
			t.Fatalf("after a revisit: %d known, %d reached, visits %v; want c learned on a's second visit", r.Known, r.Reached, visits)
		}
		t.Logf("%d known, visits %v, b at %v", r.Known, visits, bAddr)
	})
}
