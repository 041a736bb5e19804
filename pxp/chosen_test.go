package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/internal/pxphook"
	"github.com/seed0021ed4d/pex/lab/memnet"
)

// listeningWith is listening with cfg (AdvertiseAddr set to addr).
func listeningWith(t *testing.T, nw *memnet.Network, addr string, cfg Config, via ...string) *Exchange {
	t.Helper()
	ln, err := nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg.AdvertiseAddr = addr
	e := newExchange(t, &cfg)
	go e.Serve(ln)
	host := netip.MustParseAddrPort(addr).Addr()
	for i, v := range via {
		joinVia(t, nw, e, fmt.Sprintf("%s:%d", host, 100+i), v)
	}
	return e
}

// GetNewPeer asks the links a node opened before the ones that dialed
// in: a node whose one outgoing link (its bootstrap) has someone new to
// introduce, and four incoming links that have too, takes its new link
// from the bootstrap in each of 10 tries. With InboundRelays every peer
// is drawn alike, and incoming ones are asked. When the bootstrap has
// nobody new, the incoming links are asked after it, and one of them
// brings the link.
func TestSynctestRelaysFromOutbound(t *testing.T) {
	for _, inbound := range []bool{false, true} {
		t.Run(fmt.Sprint("InboundRelays=", inbound), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.NewNetwork()
				boot := listening(t, nw, "198.51.100.1:7000")
				listening(t, nw, "198.51.100.2:7000", "198.51.100.1:7000")
				var in []*Exchange
				for i := range 4 {
					a := fmt.Sprintf("10.%d.0.1:7000", i+1)
					in = append(in, listening(t, nw, a))
					listening(t, nw, fmt.Sprintf("10.%d.1.1:7000", i+1), a)
				}
				fromIncoming := 0
				for k := range 10 {
					host := fmt.Sprintf("203.0.113.%d", k+1)
					node := listeningWith(t, nw, host+":7000", Config{Dialer: memDialer(nw, host), InboundRelays: inbound})
					for i, ie := range in { // they dial the node: its incoming links
						joinVia(t, nw, ie, fmt.Sprintf("10.%d.0.1:%d", i+1, 300+k), host+":7000")
					}
					joinVia(t, nw, node, host+":1", "198.51.100.1:7000")
					synctest.Wait()
					if st := node.Stats(); st.Peers != 5 || st.Outbound != 1 {
						t.Fatalf("Stats: %d peers, %d outbound; want 5 and 1", st.Peers, st.Outbound)
					}
					links, err := grow(node, 1)
					if len(links) != 1 {
						t.Fatalf("no new link: %v", err)
					}
					if links[0].IntroducedBy() != boot.ID() {
						fromIncoming++
					}
					if k == 0 && !inbound {
						// The bootstrap has nobody new left: the incoming links are asked.
						more, err := grow(node, 1)
						if len(more) != 1 || more[0].IntroducedBy() == boot.ID() {
							t.Fatalf("with the bootstrap out of candidates: %d links, %v; want one through an incoming link", len(more), err)
						}
					}
				}
				if !inbound && fromIncoming != 0 {
					t.Fatalf("%d of 10 new links came through incoming links; want all through the link the node opened", fromIncoming)
				}
				if inbound && fromIncoming == 0 {
					t.Fatal("with InboundRelays no new link of 10 came through an incoming link")
				}
			})
		})
	}
}

// A getpeers answer lists the relay's outgoing links first: with three
// of them and ten peers that dialed in, the first three candidates are
// always the three it opened. With InboundCandidates every peer is drawn
// alike, and incoming ones come among the first three.
func TestSynctestCandidatesOutboundFirst(t *testing.T) {
	for _, inbound := range []bool{false, true} {
		t.Run(fmt.Sprint("InboundCandidates=", inbound), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				nw := memnet.NewNetwork()
				var chosen []string
				for i := range 3 {
					a := fmt.Sprintf("10.%d.0.1:7000", i+1)
					listening(t, nw, a)
					chosen = append(chosen, a)
				}
				relay := listeningWith(t, nw, "198.51.100.1:7000", Config{InboundCandidates: inbound, MaxCandidates: 6}, chosen...)
				for i := range 10 {
					listening(t, nw, fmt.Sprintf("172.16.%d.1:7000", i+1), "198.51.100.1:7000")
				}
				asker := newExchange(t, nil)
				joinVia(t, nw, asker, "203.0.113.9:1", "198.51.100.1:7000")
				synctest.Wait()
				var p *Peer
				for _, q := range asker.Peers() {
					if q.ID() == relay.ID() {
						p = q
					}
				}
				incomingFirst := 0
				for range 10 {
					cands, err := p.GetPeers(t.Context())
					if err != nil || len(cands) < 3 {
						t.Fatalf("getpeers: %d candidates, %v; want at least 3", len(cands), err)
					}
					for _, c := range cands[:3] {
						ap := netip.MustParseAddrPort(parseConnectInfo(c.ConnectInfo).tcp)
						if ap.Addr().As4()[0] == 172 {
							incomingFirst++
						}
					}
				}
				switch {
				case !inbound && incomingFirst != 0:
					t.Fatalf("%d incoming peers among the first three candidates of 10 answers; want the relay's three outgoing links only", incomingFirst)
				case inbound && incomingFirst == 0:
					t.Fatal("with InboundCandidates no incoming peer came among the first three of 10 answers")
				}
			})
		})
	}
}

// A link the node opens when every slot is taken takes the slot of an
// incoming link, which is closed with ErrEvicted; once every link is one
// the node opened, a further one is refused with ErrTooManyPeers.
func TestSynctestOutgoingTakesIncomingSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		node := listeningWith(t, nw, "203.0.113.9:7000", Config{MaxPeers: 4, ReservedOutbound: -1})
		for i := range 4 {
			listening(t, nw, fmt.Sprintf("10.%d.0.1:7000", i+1), "203.0.113.9:7000")
		}
		synctest.Wait()
		for i := range 4 {
			a := fmt.Sprintf("172.16.%d.1:7000", i+1)
			listening(t, nw, a)
			joinVia(t, nw, node, fmt.Sprintf("203.0.113.9:%d", 100+i), a)
			synctest.Wait()
			st := node.Stats()
			if st.Peers != 4 || st.Outbound != i+1 {
				t.Fatalf("after %d links opened: %d peers, %d outbound; want 4 and %d", i+1, st.Peers, st.Outbound, i+1)
			}
		}
		listening(t, nw, "172.16.9.1:7000")
		c, err := nw.DialFrom("203.0.113.9:200", "172.16.9.1:7000")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := node.Connect(t.Context(), c); !errors.Is(err, ErrTooManyPeers) {
			t.Fatalf("a fifth link opened with every slot an outgoing link: %v, want ErrTooManyPeers", err)
		}
	})
}

// The attack these defences are for, at the size of one node: 60
// attackers, each in a /24 of its own, share one view; 30 of them dial a
// node as it joins through its bootstrap (whose 12 peers are honest),
// and all answer every getpeers with attackers only and accept every
// link. The node grows by 8, a GetNewPeer a second: with the defaults it
// asks its bootstrap and the links it opened, and none of its 8 new
// links is an attacker; with InboundRelays and InboundCandidates (the
// relays asked drawn from all its peers, 30 of 31 attackers) most are.
func TestSynctestCrowdCannotChooseLinks(t *testing.T) {
	run := func(t *testing.T, cfg Config) (toAttackers int) {
		nw := memnet.NewNetwork()
		listening(t, nw, "198.51.100.1:7000")
		for i := range 12 {
			listening(t, nw, fmt.Sprintf("10.%d.0.1:7000", i+1), "198.51.100.1:7000")
		}
		var cis []json.RawMessage
		var crowd []*Exchange
		attackers := map[string]bool{}
		for i := range 60 {
			a := fmt.Sprintf("172.16.%d.1:7000", i+1)
			acfg := &Config{MaxPeers: 1 << 10, ReservedOutbound: -1}
			// The half that never dials the node first: it knows the others.
			pxphook.SetCandidates(acfg, func(string) []json.RawMessage { return append(cis[30:], cis[:30]...) })
			ae := listeningWith(t, nw, a, *acfg)
			ci, _ := json.Marshal(map[string]any{"pxp": true, "relay": true, "id": ae.ID(), "tcp": a})
			cis = append(cis, ci)
			attackers[ae.ID()] = true
			crowd = append(crowd, ae)
		}
		cfg.Dialer = memDialer(nw, "203.0.113.9")
		node := listeningWith(t, nw, "203.0.113.9:7000", cfg)
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")
		for i, ae := range crowd[:30] { // half the crowd dials in
			joinVia(t, nw, ae, fmt.Sprintf("172.16.%d.1:9000", i+1), "203.0.113.9:7000")
		}
		synctest.Wait()
		var links []*Peer
		for try := 0; len(links) < 8 && try < 30; try++ {
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			c, err := node.GetNewPeer(ctx)
			cancel()
			if err == nil {
				links = append(links, c.Peer())
			}
			time.Sleep(time.Second) // within every relay's GetPeersRate
		}
		if len(links) != 8 {
			t.Fatalf("grew by %d of 8: %v", len(links), node.Stats().IntroductionFailures)
		}
		for _, p := range links {
			if attackers[p.ID()] {
				toAttackers++
			}
		}
		return toAttackers
	}
	synctest.Test(t, func(t *testing.T) {
		if n := run(t, Config{}); n != 0 {
			t.Fatalf("%d of the 8 links the node opened are to attackers; want none", n)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		n := run(t, Config{InboundRelays: true, InboundCandidates: true})
		t.Logf("without the defences: %d of 8 links to attackers", n)
		if n < 4 {
			t.Fatalf("without the defences only %d of 8 links went to attackers: the test does not show the attack", n)
		}
	})
}

// The link held longest is the first one made, even when the clock has
// not moved since (a test's virtual time; a coarse clock): a node that
// opens its bootstrap link and then three more at the same instant asks
// its bootstrap first in each of 8 GetNewPeer calls, so that every new
// link comes through it.
func TestSynctestOldestLinkAtSameInstant(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		boot := listening(t, nw, "198.51.100.1:7000")
		for i := range 12 {
			listening(t, nw, fmt.Sprintf("10.%d.0.1:7000", i+1), "198.51.100.1:7000")
		}
		node := listeningWith(t, nw, "203.0.113.9:7000", Config{Dialer: memDialer(nw, "203.0.113.9"), MaxOutboundPerRelay: -1})
		start := time.Now()
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")
		for i := range 3 {
			a := fmt.Sprintf("172.16.%d.1:7000", i+1)
			listening(t, nw, a, fmt.Sprintf("10.%d.0.1:7000", i+1))
			joinVia(t, nw, node, fmt.Sprintf("203.0.113.9:%d", 10+i), a)
		}
		synctest.Wait()
		if !time.Now().Equal(start) {
			t.Fatal("the links were made at different instants: the test does not show ties")
		}
		links, err := grow(node, 8)
		if len(links) != 8 {
			t.Fatalf("grew by %d of 8: %v", len(links), err)
		}
		for _, p := range links {
			if p.IntroducedBy() != boot.ID() {
				t.Fatalf("a new link came through %s; want every one through the bootstrap, the link held longest", p.IntroducedBy())
			}
		}
	})
}
