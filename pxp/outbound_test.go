package pxp

import (
	"context"
	"errors"
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

// A relay that has 10 peers to introduce chooses at most
// MaxOutboundPerRelay of the links a node holds: past them GetNewPeer
// does not ask it (here no other relay has anyone new: ErrNoCandidates);
// when one of them ends it is asked again. Without the cap the node
// takes all 10 from it.
func TestSynctestOutboundPerRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		relay := listening(t, nw, "198.51.100.1:7000")
		for i := range 10 {
			listening(t, nw, fmt.Sprintf("10.%d.0.1:7000", i+1), "198.51.100.1:7000")
		}
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9")})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")
		links, err := grow(node, 10)
		if len(links) != 4 || !errors.Is(err, ErrNoCandidates) {
			t.Fatalf("%d links from one relay with 10 to offer, then %v; want MaxOutboundPerRelay (4), then ErrNoCandidates", len(links), err)
		}
		for _, p := range links {
			if p.IntroducedBy() != relay.ID() {
				t.Fatalf("link introduced by %q, want the relay %q", p.IntroducedBy(), relay.ID())
			}
		}
		links[0].Close()
		synctest.Wait()
		if more, err := grow(node, 1); len(more) != 1 {
			t.Fatalf("with one of its 4 links ended the relay was not asked again: %v", err)
		}

		free := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.10"), MaxOutboundPerRelay: -1})
		joinVia(t, nw, free, "203.0.113.10:1", "198.51.100.1:7000")
		if links, err := growRetry(free, 10, 50); len(links) != 10 {
			t.Fatalf("without the cap: %d links, %v; want all 10", len(links), err)
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
