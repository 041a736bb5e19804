package swarm

import (
	"context"
	"net"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A knows B and C; B learns C from A's PEX and dials it, over ut_pex when
// AZMP is off and over AZ_PEER_EXCHANGE (which pex nodes choose between
// themselves) when it is on.
func TestPeerLearnedThroughPEXIsDialed(t *testing.T) {
	for _, net := range []string{NetUTPex, NetAZMP} {
		t.Run(net, func(t *testing.T) { synctest.Test(t, func(t *testing.T) { testPeerLearnedThroughPEX(t, net) }) })
	}
}

func testPeerLearnedThroughPEX(t *testing.T, net string) {
	l := newLab(t)
	ih := [20]byte{1, 2, 3}
	cfg := Config{NoAZMP: net == NetUTPex}
	a, b, c := l.node("10.0.0.1", ih, cfg), l.node("10.0.0.2", ih, cfg), l.node("10.0.0.3", ih, cfg)
	a.s.AddPeer(b.addr(), SourceManual)
	a.s.AddPeer(c.addr(), SourceManual)
	sent := waitEvent(t, a.s, EventPEXSent, nil)
	if len(sent.Added) != 1 || sent.Net != net {
		t.Fatalf("pex-sent %+v, want one added over %s", sent, net)
	}
	time.Sleep(5 * time.Second)
	synctest.Wait()
	// B and C both learn of each other from A; whichever hears first
	// dials, and the other sees it come in.
	linked := false
	for _, p := range b.s.Peers() {
		if p.Listen == c.addr() && (p.Source == SourcePEX || p.Source == SourceIncoming) {
			for _, q := range c.s.Peers() {
				if q.Listen == b.addr() && (q.Source == SourcePEX) != (p.Source == SourcePEX) {
					linked = true
				}
			}
		}
	}
	if !linked {
		t.Fatalf("B and C did not meet through PEX: b %+v c %+v", b.s.Peers(), c.s.Peers())
	}
	for _, p := range a.s.Peers() {
		if p.Net != net {
			t.Fatalf("a's link to %v runs %q, want %q", p.Addr, p.Net, net)
		}
	}
	// The counters behind pex bt swarm --metrics saw the same.
	as, bs, cs := a.s.Stats(), b.s.Stats(), c.s.Stats()
	if as.Learned[SourceManual] != 2 || as.Dials["connected"] != 2 || as.PEXSent[net] != 2 {
		t.Fatalf("a's stats %+v", as)
	}
	if bs.PEXReceived[net] == 0 || cs.PEXReceived[net] == 0 || bs.Learned[SourceIncoming]+cs.Learned[SourceIncoming] < 3 ||
		bs.Learned[SourcePEX]+cs.Learned[SourcePEX] == 0 || bs.FloodDisconnects+cs.FloodDisconnects != 0 {
		t.Fatalf("b's stats %+v, c's %+v", bs, cs)
	}
}

// One peer set across both networks: A speaks AZMP with B and ut_pex with
// C (which does not offer AZMP); B learns C from A's AZ_PEER_EXCHANGE and C
// learns B from A's ut_pex.
func TestOnePeerSetAcrossNetworks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{9, 9}
		a := l.node("10.0.0.1", ih, Config{})
		b := l.node("10.0.0.2", ih, Config{})
		c := l.node("10.0.0.3", ih, Config{NoAZMP: true})
		a.s.AddPeer(b.addr(), SourceManual)
		a.s.AddPeer(c.addr(), SourceManual)
		nets := map[string]bool{}
		deadline := time.After(10 * time.Second)
		for !nets[NetAZMP] || !nets[NetUTPex] {
			select {
			case ev := <-a.s.Events():
				if ev.Type == EventPEXSent && len(ev.Added) == 1 {
					want := c.addr()
					if ev.Net == NetUTPex {
						want = b.addr()
					}
					if ev.Added[0] != want {
						t.Fatalf("%s message to %v named %v, want %v", ev.Net, ev.Peer, ev.Added, want)
					}
					nets[ev.Net] = true
				}
			case <-deadline:
				t.Fatalf("a sent PEX over %v only; peers %+v", nets, a.s.Peers())
			}
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		met := false
		for _, p := range b.s.Peers() {
			met = met || p.Listen == c.addr()
		}
		if !met {
			t.Fatalf("b and c did not meet: b %+v c %+v", b.s.Peers(), c.s.Peers())
		}
	})
}

// With PEX off, a tells nobody about anybody, over two virtual minutes.
func TestNoPEXSwarm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{4}
		a := l.node("10.0.0.1", ih, Config{NoPEX: true})
		b, c := l.node("10.0.0.2", ih, Config{}), l.node("10.0.0.3", ih, Config{})
		a.s.AddPeer(b.addr(), SourceManual)
		a.s.AddPeer(c.addr(), SourceManual)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if len(a.s.Peers()) != 2 {
			t.Fatalf("a has %d peers, want 2", len(a.s.Peers()))
		}
		for _, p := range b.s.Peers() {
			if p.Listen == c.addr() {
				t.Fatal("b learned c although a has PEX off")
			}
		}
		for _, p := range a.s.Peers() {
			if p.PEX {
				t.Fatalf("PEX runs with %v", p.Addr)
			}
		}
	})
}

func TestWrongInfohashRefused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		a, b := l.node("10.0.0.1", [20]byte{7}, Config{}), l.node("10.0.0.2", [20]byte{8}, Config{})
		a.s.AddPeer(b.addr(), SourceManual)
		time.Sleep(time.Second)
		synctest.Wait()
		if len(a.s.Peers()) != 0 || len(b.s.Peers()) != 0 {
			t.Fatal("connected across infohashes")
		}
	})
}

// A manually given peer that is not listening yet is dialed again, with
// backoff, until it is: at 0 s, 5 s, 15 s and 35 s.
func TestManualPeerRedialedUntilUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xb1}
		later := netip.MustParseAddrPort("10.0.0.2:6881")
		start := time.Now()
		var dials []time.Duration
		var cfg Config
		base := l.dialer("10.0.0.1")
		cfg.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials = append(dials, time.Since(start))
			return base(ctx, network, addr)
		}
		a := l.node("10.0.0.1", ih, cfg)
		a.s.AddPeer(later, SourceManual)
		time.Sleep(20 * time.Second)
		synctest.Wait()
		if len(a.s.Peers()) != 0 {
			t.Fatal("connected to nobody")
		}
		// Each failed dial was reported, with the wait before the next.
		var retries []time.Duration
		for range 3 {
			ev := waitEvent(t, a.s, EventDialFailed, nil)
			if ev.Peer != later || ev.Source != SourceManual || ev.Err == nil {
				t.Fatalf("dial-failed event %+v", ev)
			}
			retries = append(retries, ev.Retry)
		}
		if want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second}; !slices.Equal(retries, want) {
			t.Fatalf("retries %v, want %v", retries, want)
		}
		l.node("10.0.0.2", ih, Config{})
		ev := waitEventWithin(t, a.s, EventConnected, time.Minute, func(ev Event) bool { return ev.Peer == later })
		want := []time.Duration{0, 5 * time.Second, 15 * time.Second, 35 * time.Second}
		if len(dials) != len(want) || ev.Time.Sub(start) != 35*time.Second {
			t.Fatalf("dials at %v, connected at %v; want dials at %v", dials, ev.Time.Sub(start), want)
		}
		for i := range want {
			if dials[i] != want[i] {
				t.Fatalf("dials at %v, want %v", dials, want)
			}
		}
	})
}

func TestConfigValidated(t *testing.T) {
	if _, err := New([20]byte{}, nil); err == nil {
		t.Fatal("New took a zero infohash")
	}
	for _, c := range []Config{{MaxPeers: -1}, {ListenPort: 70000}, {HandshakeTimeout: -time.Second}, {EventBuffer: -1}} {
		if _, err := New([20]byte{1}, &c); err == nil {
			t.Errorf("New took %+v", c)
		}
	}
	d := DefaultConfig()
	if d.MaxPeers != DefaultMaxPeers || d.HandshakeTimeout != DefaultHandshakeTimeout || d.Client != DefaultClient || d.Dialer == nil {
		t.Fatalf("DefaultConfig %+v", d)
	}
}

// Serve hands connections to the swarm until Close, which ends it with nil
// and closes the listener.
func TestServeEndsWithClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("10.0.0.1:6881")
		s, err := New([20]byte{1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		served := make(chan error, 1)
		go func() { served <- s.Serve(ln) }()
		synctest.Wait()
		s.Close()
		if err := <-served; err != nil {
			t.Fatalf("Serve after Close: %v", err)
		}
		if _, err := nw.Dial("10.0.0.1:6881"); err == nil {
			t.Fatal("the listener is still open")
		}
		ln2, _ := nw.Listen("10.0.0.2:6881")
		if err := s.Serve(ln2); err != nil {
			t.Fatalf("Serve on a closed swarm: %v", err)
		}
		if _, err := nw.Dial("10.0.0.2:6881"); err == nil {
			t.Fatal("Serve on a closed swarm left its listener open")
		}
	})
}

// Two pex peers of today run the extension protocol between them, though
// both offer AZMP (and prefer it with other clients): ut_pex's flags and
// ut_holepunch have no AZMP counterpart. A pex of the first release
// (peer id -PX0001-) still gets AZMP.
func TestPexPeersRunExtensionProtocol(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{7, 1}
		a := l.node("10.0.0.1", ih, Config{PeerID: newPeerID()})
		b := l.node("10.0.0.2", ih, Config{PeerID: newPeerID()})
		c := l.node("10.0.0.3", ih, Config{}) // the lab's default: -PX0001-
		a.s.AddPeer(b.addr(), SourceManual)
		a.s.AddPeer(c.addr(), SourceManual)
		got := map[netip.AddrPort]string{}
		for len(got) < 2 {
			ev := waitEvent(t, a.s, EventConnected, nil)
			got[ev.Peer] = ev.Net
		}
		if got[b.addr()] != NetUTPex || got[c.addr()] != NetAZMP {
			t.Fatalf("links %v: want ut_pex with today's pex, azmp with the first release's", got)
		}
	})
}
