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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	s, err := New(Config{InfoHash: ih, ListenPort: port, NoPEX: noPEX})
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
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev := <-s.Events():
			if ev.Name == name && (match == nil || match(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event", name)
		}
	}
}

// A knows B and C; B learns C from A's ut_pex and dials it.
func TestPeerLearnedThroughPEXIsDialed(t *testing.T) {
	ih := [20]byte{1, 2, 3}
	a, b, c := newNode(t, ih, false), newNode(t, ih, false), newNode(t, ih, false)
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
	if len(sent.Added) != 1 || sent.Net != "ut_pex" {
		t.Fatalf("pex-sent %+v", sent)
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
