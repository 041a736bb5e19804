package pxp

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// dialsAllowed is how many dials of one address that never answers fit in
// d under a backoff starting at first and doubling up to most: one at
// once, then one after each wait.
func dialsAllowed(d, first, most time.Duration) int {
	n, at, wait := 1, time.Duration(0), first
	for at+wait <= d {
		at += wait
		n++
		wait = min(2*wait, most)
	}
	return n
}

// A relay that answers every getpeers with 16 candidates whose address
// names one of 3 victims cannot aim a node's dials at them: over 10
// virtual minutes of a node asking it as pex node --want does, each victim
// is dialed once, then again only after a doubling wait (4 dials in 10
// minutes at the defaults). Every candidate not dialed is still
// introduced through its relay, as before.
func TestSynctestRelayCannotAimDials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		targets := []string{"192.0.2.1:7000", "192.0.2.2:7000", "192.0.2.3:7000"}
		v := listenVictims(t, nw, targets...)
		ar := listenAimingRelay(t, nw, "198.51.100.1:7000", targets...)
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9")})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")

		const d = 10 * time.Minute
		calls := wantLoop(node, d)
		getpeers, relays := ar.counts()
		cfg := node.cfg
		allowed := dialsAllowed(d, cfg.DirectDialBackoff, cfg.MaxDirectDialBackoff)
		total := 0
		for _, a := range targets {
			n := v.count(a)
			total += n
			if n > allowed {
				t.Errorf("%s dialed %d times in %v, the backoff allows %d", a, n, d, allowed)
			}
			if n == 0 {
				t.Errorf("%s never dialed: the first dial of an address is not held", a)
			}
		}
		t.Logf("%v: %d GetNewPeer calls, %d getpeers answered naming the victims %d times; %d dials at the 3 victims (at most %d each); %d relay requests",
			d, calls, getpeers, 16*getpeers, total, allowed, relays)
		// The node tried 3 candidates an answer, each through the relay
		// when it was not dialed: the policy took nothing else away.
		if relays < 3*getpeers {
			t.Errorf("%d relay requests for %d answers: candidates not dialed must still be introduced through the relay", relays, getpeers)
		}
		if getpeers < 20 {
			t.Fatalf("only %d answers: the relay did not aim enough dials to test the bound", getpeers)
		}
	})
}

// A relay naming many ports of one IP gets at most MaxDirectDialsPerIP
// dials to that IP started in a DirectDialBackoff window, and so does one
// naming many host names (which may all stand for one IP).
func TestSynctestDirectDialsPerIP(t *testing.T) {
	ports := func(i int) string { return fmt.Sprintf("192.0.2.7:%d", 7000+i) }
	names := func(i int) string { return fmt.Sprintf("v%d.example:7000", i) }
	for _, target := range []func(int) string{ports, names} {
		testDirectDialsPerIP(t, target)
	}
}

func testDirectDialsPerIP(t *testing.T, target func(int) string) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		var targets []string
		for i := range 48 {
			targets = append(targets, target(i))
		}
		v := listenVictims(t, nw, targets...)
		listenAimingRelay(t, nw, "198.51.100.1:7000", targets...)
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9")})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")

		const d = 5 * time.Minute
		start := time.Now()
		wantLoop(node, d)
		var times []time.Duration
		v.mu.Lock()
		for _, ts := range v.dials {
			for _, at := range ts {
				times = append(times, at.Sub(start))
			}
		}
		v.mu.Unlock()
		window, most := node.cfg.DirectDialBackoff, node.cfg.MaxDirectDialsPerIP
		// Windows open at a dial past the last window's end: any span of
		// one window's length holds at most the dials of two windows, and
		// the first minute those of one.
		first := 0
		for _, at := range times {
			if at < window {
				first++
			}
			in := 0
			for _, b := range times {
				if b >= at && b < at+window {
					in++
				}
			}
			if in > 2*most {
				t.Fatalf("%d dials to targets like %s within %v of %v", in, targets[0], window, at)
			}
		}
		t.Logf("48 addresses like %s named for %v: %d dials, %d in the first %v (at most %d a window)", targets[0], d, len(times), first, window, most)
		if first > most || first == 0 {
			t.Fatalf("%d dials to one IP in the first window, want 1 to %d", first, most)
		}
		if max := int(d/window+1) * most; len(times) > max {
			t.Fatalf("%d dials to one IP in %v, at most %d", len(times), d, max)
		}
	})
}

// Honest peers on one IP that answer PXP are all dialed directly, past
// MaxDirectDialsPerIP: a dial that ends in a link gives its place back.
func TestSynctestDirectDialsToPeersNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		relayLn, _ := nw.Listen("198.51.100.1:7000")
		relay := newExchange(t, nil)
		go relay.Serve(relayLn)
		const n = 6
		for i := range n {
			addr := fmt.Sprintf("192.0.2.7:%d", 7000+i)
			ln, err := nw.Listen(addr)
			if err != nil {
				t.Fatal(err)
			}
			h := newExchange(t, &Config{AdvertiseAddr: addr})
			go h.Serve(ln)
			joinVia(t, nw, h, fmt.Sprintf("192.0.2.7:%d", 100+i), "198.51.100.1:7000")
		}
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9"), MaxOutboundPerRelay: -1, MaxOutboundPerPrefix: -1})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")
		for i := range n {
			c, err := node.GetNewPeer(context.Background())
			if err != nil {
				t.Fatalf("GetNewPeer %d: %v", i, err)
			}
			if c.Peer() == nil || c.Peer().Via() != nil || c.Transport() == "relay" {
				t.Fatalf("peer %d of one IP reached over %q, want a direct dial", i, c.Transport())
			}
		}
	})
}

// The addresses remembered are bounded by MaxDirectDialRecords: with all
// of them backing off, a new address is not dialed; once their backoff is
// over they are forgotten to make room.
func TestDirectDialRecordsBounded(t *testing.T) {
	cfg := (&Config{MaxDirectDialRecords: 8}).withDefaults()
	var d directDials
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	dialed := 0
	for i := range 100 {
		key, host, ok := dialHost(fmt.Sprintf("192.0.2.%d:7000", i+1))
		if !ok {
			t.Fatal("unusable address")
		}
		if w, ok := d.start(&cfg, key, host, now); ok {
			dialed++
			d.end(&cfg, key, host, w, false, true, now)
		}
		if len(d.records) > 8 || len(d.perIP) > 8 {
			t.Fatalf("%d records and %d windows held, bound 8", len(d.records), len(d.perIP))
		}
	}
	if dialed != 8 {
		t.Fatalf("%d of 100 new addresses dialed with room for 8", dialed)
	}
	later := now.Add(cfg.DirectDialBackoff)
	key, host, _ := dialHost("198.51.100.1:7000")
	if _, ok := d.start(&cfg, key, host, later); !ok {
		t.Fatal("a new address not dialed once the others' backoff was over")
	}
}
