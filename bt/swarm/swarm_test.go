package swarm

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type node struct {
	s  *Swarm
	ln net.Listener
}

func newNode(t *testing.T, ih [20]byte, noPEX bool) *node {
	t.Helper()
	return newNodeConfig(t, ih, Config{NoPEX: noPEX})
}

func newNodeConfig(t *testing.T, ih [20]byte, cfg Config) *node {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	cfg.ListenPort = port
	s, err := New(ih, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.Accept(c)
		}
	}()
	t.Cleanup(func() { ln.Close(); s.Close() })
	return &node{s: s, ln: ln}
}

func (n *node) addr() netip.AddrPort { return netip.MustParseAddrPort(n.ln.Addr().String()) }

func waitEvent(t *testing.T, s *Swarm, name string, match func(Event) bool) Event {
	t.Helper()
	return waitEventWithin(t, s, name, 10*time.Second, match)
}

func waitEventWithin(t *testing.T, s *Swarm, name string, limit time.Duration, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case ev := <-s.Events():
			if ev.Type.String() == name && (match == nil || match(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", name)
		}
	}
}

// A knows B and C; B learns C from A's PEX and dials it, over ut_pex when
// AZMP is off and over AZ_PEER_EXCHANGE (which pex nodes choose between
// themselves) when it is on.
func TestPeerLearnedThroughPEXIsDialed(t *testing.T) {
	for _, net := range []string{NetUTPex, NetAZMP} {
		t.Run(net, func(t *testing.T) { testPeerLearnedThroughPEX(t, net) })
	}
}

func testPeerLearnedThroughPEX(t *testing.T, net string) {
	ih := [20]byte{1, 2, 3}
	cfg := Config{NoAZMP: net == NetUTPex}
	a, b, c := newNodeConfig(t, ih, cfg), newNodeConfig(t, ih, cfg), newNodeConfig(t, ih, cfg)
	a.s.AddPeer(b.addr(), SourceManual)
	a.s.AddPeer(c.addr(), SourceManual)
	// B and C both learn of each other from A; whichever hears first dials.
	deadline := time.Now().Add(10 * time.Second)
	linked := func() bool {
		for _, p := range b.s.Peers() {
			if p.Listen == c.addr() && (p.Source == SourcePEX || p.Source == SourceIncoming) {
				for _, q := range c.s.Peers() {
					if q.Listen == b.addr() && (q.Source == SourcePEX) != (p.Source == SourcePEX) {
						return true
					}
				}
			}
		}
		return false
	}
	for !linked() {
		if time.Now().After(deadline) {
			t.Fatalf("B and C did not meet through PEX: b %+v c %+v", b.s.Peers(), c.s.Peers())
		}
		time.Sleep(20 * time.Millisecond)
	}
	sent := waitEvent(t, a.s, "pex-sent", nil)
	if len(sent.Added) != 1 || sent.Net != net {
		t.Fatalf("pex-sent %+v, want one added over %s", sent, net)
	}
	for _, p := range a.s.Peers() {
		if p.Net != net {
			t.Fatalf("a's link to %v runs %q, want %q", p.Addr, p.Net, net)
		}
	}
}

// One peer set across both networks: A speaks AZMP with B and ut_pex with
// C (which does not offer AZMP); B learns C from A's AZ_PEER_EXCHANGE and C
// learns B from A's ut_pex.
func TestOnePeerSetAcrossNetworks(t *testing.T) {
	ih := [20]byte{9, 9}
	a := newNodeConfig(t, ih, Config{})
	b := newNodeConfig(t, ih, Config{})
	c := newNodeConfig(t, ih, Config{NoAZMP: true})
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
	// b and c meet, whichever dials first.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		met := false
		for _, p := range b.s.Peers() {
			met = met || p.Listen == c.addr()
		}
		if met {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("b and c did not meet: b %+v c %+v", b.s.Peers(), c.s.Peers())
		}
	}
}

func TestNoPEXSwarm(t *testing.T) {
	ih := [20]byte{4}
	a, b := newNode(t, ih, true), newNode(t, ih, false)
	c := newNode(t, ih, false)
	a.s.AddPeer(b.addr(), SourceManual)
	a.s.AddPeer(c.addr(), SourceManual)
	waitEvent(t, a.s, "connected", nil)
	waitEvent(t, a.s, "connected", nil)
	time.Sleep(2 * time.Second)
	for _, p := range b.s.Peers() {
		if p.Addr == c.addr() {
			t.Fatal("b learned c although a has PEX off")
		}
	}
	for _, p := range a.s.Peers() {
		if p.PEX && a.s.pexOn() {
			t.Fatal("pex on")
		}
	}
}

func TestWrongInfohashRefused(t *testing.T) {
	a, b := newNode(t, [20]byte{7}, false), newNode(t, [20]byte{8}, false)
	a.s.AddPeer(b.addr(), SourceManual)
	time.Sleep(500 * time.Millisecond)
	if len(a.s.Peers()) != 0 || len(b.s.Peers()) != 0 {
		t.Fatal("connected across infohashes")
	}
}

// A manually given peer that is not listening yet is dialed again until it
// is.
func TestManualPeerRedialedUntilUp(t *testing.T) {
	ih := [20]byte{0xb1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	later := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close() // nothing listens there yet
	a := newNode(t, ih, false)
	a.s.AddPeer(later, SourceManual)
	time.Sleep(500 * time.Millisecond) // the first dial fails
	ln, err = net.Listen("tcp", later.String())
	if err != nil {
		t.Skipf("the port was taken meanwhile: %v", err)
	}
	s, err := New(ih, &Config{ListenPort: int(later.Port())})
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.Accept(c)
		}
	}()
	defer func() { ln.Close(); s.Close() }()
	waitEventWithin(t, a.s, "connected", 20*time.Second, func(ev Event) bool { return ev.Peer == later })
}
