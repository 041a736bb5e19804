package pxp

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// listening starts an Exchange that serves on nw at addr and advertises
// it, linked to each of the listeners at via (from addr's host).
func listening(t *testing.T, nw *memnet.Network, addr string, via ...string) *Exchange {
	t.Helper()
	ln, err := nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	e := newExchange(t, &Config{AdvertiseAddr: addr})
	go e.Serve(ln)
	host := netip.MustParseAddrPort(addr).Addr()
	for i, v := range via {
		joinVia(t, nw, e, fmt.Sprintf("%s:%d", host, 100+i), v)
	}
	return e
}

// grow calls GetNewPeer up to n times, stopping at the first failure, and
// returns the links made and that failure.
func grow(node *Exchange, n int) ([]*Peer, error) {
	var out []*Peer
	for range n {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		c, err := node.GetNewPeer(ctx)
		cancel()
		if err != nil {
			return out, err
		}
		out = append(out, c.Peer())
	}
	return out, nil
}

// A relay with 10 peers to introduce, beside another whose 10 peers also
// introduce each other (and, held longest, a link with nobody to
// introduce): the first chooses at most MaxOutboundPerRelay (4)
// of the 12 links a node grows by, the rest coming through the second and
// its peers; without the cap it chooses more. A node whose only relay it
// is still grows to all 10: a relay at its cap is asked when no other
// gives a link.
func TestSynctestOutboundPerRelay(t *testing.T) {
	run := func(t *testing.T, cfg *Config, withOther bool) (links []*Peer, byR int) {
		nw := memnet.NewNetwork()
		r := listening(t, nw, "198.51.100.1:7000")
		for i := range 10 {
			listening(t, nw, fmt.Sprintf("10.%d.0.1:7000", i+1), "198.51.100.1:7000")
		}
		cfg.Dialer = memDialer(nw, "100.64.0.9")
		node := newExchange(t, cfg)
		want := 10
		if withOther {
			listening(t, nw, "203.0.113.1:7000")
			group := []string{"203.0.113.1:7000"}
			for i := range 10 {
				a := fmt.Sprintf("172.16.%d.1:7000", i+1)
				listening(t, nw, a, group...)
				group = append(group, a)
			}
			// The node's first link, held longest, is not held to the
			// cap and is asked first (chosen.go): one to a peer with
			// nobody to introduce.
			listening(t, nw, "192.0.2.50:7000")
			joinVia(t, nw, node, "100.64.0.9:3", "192.0.2.50:7000")
			joinVia(t, nw, node, "100.64.0.9:2", "203.0.113.1:7000")
			want = 12
		}
		joinVia(t, nw, node, "100.64.0.9:1", "198.51.100.1:7000")
		links, err := growRetry(node, want, 50)
		if len(links) != want {
			t.Fatalf("grew by %d of %d: %v", len(links), want, err)
		}
		for _, p := range links {
			if p.IntroducedBy() == r.ID() {
				byR++
			}
		}
		return links, byR
	}
	synctest.Test(t, func(t *testing.T) {
		_, byR := run(t, &Config{}, true)
		t.Logf("with another relay: %d of 12 links chosen by the first", byR)
		if byR > 4 {
			t.Fatalf("one relay chose %d of the links, its cap is 4", byR)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		_, byR := run(t, &Config{MaxOutboundPerRelay: -1}, true)
		t.Logf("without the cap: %d of 12 links chosen by the first relay", byR)
	})
	synctest.Test(t, func(t *testing.T) {
		if _, byR := run(t, &Config{}, false); byR != 10 {
			t.Fatalf("the only relay introduced %d of 10", byR)
		}
	})
}

// growRetry calls GetNewPeer until it made n links or failed tries times.
func growRetry(node *Exchange, n, tries int) ([]*Peer, error) {
	var out []*Peer
	var err error
	for len(out) < n && tries > 0 {
		var more []*Peer
		more, err = grow(node, n-len(out))
		out = append(out, more...)
		if err != nil {
			tries--
		}
	}
	return out, err
}

// countIn counts the outgoing links of node into prefix.
func countIn(node *Exchange, prefix netip.Prefix) int {
	n := 0
	for _, p := range node.Peers() {
		if ap, err := netip.ParseAddrPort(p.RemoteAddr().String()); err == nil && p.Outgoing() && prefix.Contains(ap.Addr()) {
			n++
		}
	}
	return n
}

// One relay offers 8 candidates of one /24, another 8 of 8 prefixes (and
// each group's peers offer each other): a node growing by 8 takes at most
// MaxOutboundPerPrefix (2) of the first while any relay it asks offers
// others; once nobody offers a candidate elsewhere it takes the rest of
// the /24 too (a network on one LAN grows).
func TestSynctestOutboundSpreadOverPrefixes(t *testing.T) {
	crowdPrefix := netip.MustParsePrefix("192.0.2.0/24")
	run := func(t *testing.T, cfg *Config) (first, all int) {
		nw := memnet.NewNetwork()
		listening(t, nw, "198.51.100.1:7000")
		listening(t, nw, "203.0.113.1:7000")
		// Each group's peers are linked to their relay and to each other.
		crowdGroup, otherGroup := []string{"198.51.100.1:7000"}, []string{"203.0.113.1:7000"}
		for i := range 8 {
			a, b := fmt.Sprintf("192.0.2.%d:7000", i+1), fmt.Sprintf("10.%d.0.1:7000", i+1)
			listening(t, nw, a, crowdGroup...)
			listening(t, nw, b, otherGroup...)
			crowdGroup, otherGroup = append(crowdGroup, a), append(otherGroup, b)
		}
		cfg.Dialer = memDialer(nw, "100.64.0.9")
		cfg.MaxOutboundPerRelay = -1
		node := newExchange(t, cfg)
		joinVia(t, nw, node, "100.64.0.9:1", "198.51.100.1:7000")
		joinVia(t, nw, node, "100.64.0.9:2", "203.0.113.1:7000")
		if links, err := growRetry(node, 8, 20); len(links) != 8 {
			t.Fatalf("grew by %d of 8: %v", len(links), err)
		}
		first = countIn(node, crowdPrefix)
		if links, err := growRetry(node, 8, 50); len(links) != 8 {
			t.Fatalf("grew by %d of the 8 left: %v", len(links), err)
		}
		return first, countIn(node, crowdPrefix)
	}
	synctest.Test(t, func(t *testing.T) {
		first, all := run(t, &Config{})
		t.Logf("MaxOutboundPerPrefix 2: %d of the first 8 links in 192.0.2.0/24, %d of 16 once nobody offers others", first, all)
		if first > 2 || all != 8 {
			t.Fatalf("%d of the first 8 links in one /24 and %d at the end, want at most 2 and all 8", first, all)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		first, _ := run(t, &Config{MaxOutboundPerPrefix: -1})
		t.Logf("no cap: %d of the first 8 links in 192.0.2.0/24", first)
	})
}

// Outgoing links are never evicted for newcomers: a node's 3 outgoing
// links into the /24 of a crowd of 100 idle sybils stay up while
// newcomers of that /24 (once the crowd has been idle EvictIdle) and of
// others take the crowd's slots, though the outgoing links are the most
// idle of all.
func TestSynctestOutboundNeverEvicted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("node")
		node := newExchange(t, &Config{MaxPeers: 10, ReservedOutbound: 3, Dialer: memDialer(nw, "10.0.0.250")})
		go node.Serve(ln)
		var out []*Peer
		for i := range 3 {
			addr := fmt.Sprintf("10.0.0.%d:7000", 240+i)
			listening(t, nw, addr)
			c, err := node.cfg.Dialer(context.Background(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := node.Connect(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, dc.Peer())
		}
		crowd(t, nw, 100)
		waitPeers(t, node, 10)
		time.Sleep(2 * time.Minute)
		evicted := 0
		for i := range 20 {
			from := fmt.Sprintf("10.0.0.%d:9", 200+i) // the crowd's /24
			if i%4 == 0 {
				from = fmt.Sprintf("10.%d.0.1:9", 50+i) // and others
			}
			if _, err := honest(t, nw, from); err == nil {
				evicted++
			}
		}
		if evicted == 0 {
			t.Fatal("no newcomer took a slot")
		}
		for i, p := range out {
			if p.Err() != nil {
				t.Fatalf("outgoing link %d ended: %v", i, p.Err())
			}
		}
		t.Logf("%d newcomers took incoming slots; the 3 outgoing links stayed", evicted)
	})
}
