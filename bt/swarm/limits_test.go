package swarm

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// BEP 11's sending limits over ten virtual minutes, on both networks: a hub
// connected to 70 peers tells each about the other 69 in two messages (50,
// then 19, a minute apart), says nothing while nothing changes, and reports
// 5 peers that left in one message of drops.
func TestPEXLimitsOnVirtualTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xc1}
		const n = 70
		var spokes []*node
		for i := range n {
			// A spoke takes no peer but the hub (MaxPeers 1); odd ones
			// offer no AZMP, so the hub speaks ut_pex with them.
			spokes = append(spokes, l.node(fmt.Sprintf("10.0.0.%d", i+1), ih, Config{MaxPeers: 1, NoAZMP: i%2 == 1}))
		}
		hub, err := New(ih, &Config{MaxPeers: 100, Dialer: l.dialer("10.0.1.1")})
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		sent := map[netip.AddrPort][]Event{}
		nets := map[netip.AddrPort]string{}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range hub.Events() {
				mu.Lock()
				switch ev.Type.String() {
				case "pex-sent":
					sent[ev.Peer] = append(sent[ev.Peer], ev)
				case "connected":
					nets[ev.Peer] = ev.Net
				}
				mu.Unlock()
			}
		}()
		start := time.Now()
		for _, sp := range spokes {
			hub.AddPeer(sp.addr(), SourceTracker)
		}
		// All five leave within the hub's settle delay after the first
		// goes, so their drops go out in one message.
		time.Sleep(5*time.Minute + 500*time.Millisecond)
		gone := spokes[:5]
		for _, sp := range gone {
			sp.ln.Close()
			sp.s.Close()
		}
		leftAt := time.Now()
		time.Sleep(5 * time.Minute)
		hub.Close()
		<-done
		for _, sp := range spokes[5:] {
			sp.ln.Close()
			sp.s.Close()
		}

		for i, sp := range spokes {
			msgs := sent[sp.addr()]
			wantNet := NetAZMP
			if i%2 == 1 {
				wantNet = NetUTPex
			}
			if nets[sp.addr()] != wantNet {
				t.Fatalf("spoke %d: link runs %q, want %q", i, nets[sp.addr()], wantNet)
			}
			var told []netip.AddrPort
			for j, m := range msgs {
				if len(m.Added) > 50 || len(m.Dropped) > 50 {
					t.Fatalf("spoke %d message %d: %d added, %d dropped", i, j, len(m.Added), len(m.Dropped))
				}
				if m.Net != wantNet {
					t.Fatalf("spoke %d message %d over %q, want %q", i, j, m.Net, wantNet)
				}
				if j > 0 && m.Time.Sub(msgs[j-1].Time) < time.Minute {
					t.Fatalf("spoke %d: messages %d and %d %v apart", i, j-1, j, m.Time.Sub(msgs[j-1].Time))
				}
				if m.Time.Before(leftAt) {
					told = append(told, m.Added...)
				}
			}
			if i < len(gone) {
				continue
			}
			// Before the five left: 50, then 19, and nothing more.
			before := 0
			for _, m := range msgs {
				if m.Time.Before(leftAt) {
					before++
				}
			}
			if before != 2 || len(msgs[0].Added) != 50 || len(msgs[1].Added) != n-1-50 || len(told) != n-1 || slices.Contains(told, sp.addr()) {
				t.Fatalf("spoke %d: %d messages before %v, added %d then %d (%d peers told)", i, before, leftAt.Sub(start), len(msgs[0].Added), len(msgs[1].Added), len(told))
			}
			if len(msgs) != 3 {
				for _, m := range msgs {
					t.Logf("+%v added %v dropped %v", m.Time.Sub(start), m.Added, m.Dropped)
				}
				t.Fatalf("spoke %d: %d messages, want 3", i, len(msgs))
			}
			last := msgs[2]
			if len(last.Added) != 0 || len(last.Dropped) != len(gone) || last.Time.Sub(leftAt) > 5*time.Second {
				t.Fatalf("spoke %d: after the five left: %+v at +%v", i, last, last.Time.Sub(leftAt))
			}
			for _, g := range gone {
				if !slices.Contains(last.Dropped, g.addr()) {
					t.Fatalf("spoke %d: %v not dropped: %v", i, g.addr(), last.Dropped)
				}
			}
		}
	})
}

// A peer re-sending extended handshakes with ever new "yourip" claims does
// not grow the swarm's memory without bound: it is disconnected after five.
func TestYourIPClaimsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa4}
		n := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		c, err := l.dial("10.9.0.1", n.addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(ltepHandshake(ih, "-XX0001-yourip000000"))
		if _, err := wire.ReadHandshake(c); err != nil {
			t.Fatal(err)
		}
		var msgs []byte
		for i := range 300 {
			ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, YourIP: netip.AddrFrom4([4]byte{10, 7, byte(i >> 8), byte(i)})}
			msgs = wire.AppendExtended(msgs, 0, ext.Bytes())
		}
		if _, err := c.Write(msgs); err != nil {
			t.Fatal(err)
		}
		// Re-sent handshakes are allowed, five at once: the sixth ends the
		// link, and the claims stop there.
		waitEvent(t, n.s, EventConnected, nil)
		ev := waitEvent(t, n.s, EventDisconnected, nil)
		if ev.Err == nil || !strings.Contains(ev.Err.Error(), "extended handshakes sent too frequently") {
			t.Fatalf("disconnected: %v", ev.Err)
		}
		n.s.mu.Lock()
		k := len(n.s.self)
		n.s.mu.Unlock()
		if k > 5 || k > MaxSelf {
			t.Fatalf("%d self addresses after 300 claims", k)
		}
	})
}

// A PEX message full of new addresses starts no more dials than MaxPeers
// leaves room for.
func TestDialsBoundedByMaxPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa5}
		var mu sync.Mutex
		inFlight, most := 0, 0
		dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
			mu.Lock()
			inFlight++
			most = max(most, inFlight)
			mu.Unlock()
			<-ctx.Done() // never answers
			mu.Lock()
			inFlight--
			mu.Unlock()
			return nil, ctx.Err()
		}
		n := l.node("10.0.0.1", ih, Config{MaxPeers: 5, Dialer: dial, HandshakeTimeout: time.Second})
		p := dialAZ(t, l, n.addr(), ih)
		var added []netip.AddrPort
		for i := range 50 {
			added = append(added, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, 0, byte(i + 1)}), 6881))
		}
		p.send(azmp.IDPeerExchange, p.exchange(ih, added...))
		waitEvent(t, n.s, EventPEXReceived, nil)
		synctest.Wait()
		mu.Lock()
		defer mu.Unlock()
		if most == 0 || most > 4 {
			t.Fatalf("%d dials in flight at most, want 1 to 4 (MaxPeers 5, one link)", most)
		}
	})
}

// A peer that offers the extension protocol but never sends its extended
// handshake is gone after HandshakeTimeout; one that completes it stays.
func TestExtendedHandshakeDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa7}
		n := l.node("10.0.0.1", ih, Config{NoAZMP: true, HandshakeTimeout: 5 * time.Second})
		c, err := l.dial("10.9.0.1", n.addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write(ltepHandshake(ih, "-XX0001-silent000000"))
		if _, err := wire.ReadHandshake(c); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = io.Copy(io.Discard, c) // until the swarm closes it
		if took := time.Since(start); err != nil || took != 5*time.Second {
			t.Fatalf("closed after %v (%v), want 5s", took, err)
		}
		synctest.Wait() // the connection's goroutine leaves the budget
		if n.s.handshakes.Len() != 0 {
			t.Fatalf("%d handshakes still counted", n.s.handshakes.Len())
		}
	})
}

// Stalled openings (nothing sent, or the 68-byte handshake and then
// silence) from one IP: past its opening rate they are closed at once, and
// they hold at most MaxHandshakesPerIP places; honest peers, from another
// IP and later from that one, connect meanwhile.
func TestStalledHandshakesBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa8}
		n := l.node("10.0.0.1", ih, Config{MaxHandshakes: 16, MaxHandshakesPerIP: 8, MaxPeers: 4})
		var stalled []net.Conn
		for i := range 200 {
			c, err := l.dial("10.6.6.6", n.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				c.Write(ltepHandshake(ih, "-XX0001-stall0000000"))
			}
			stalled = append(stalled, c)
		}
		defer func() {
			for _, c := range stalled {
				c.Close()
			}
		}()
		synctest.Wait()
		if h := n.s.handshakes.Len(); h > 8 {
			t.Fatalf("%d handshakes held from one IP, cap 8", h)
		}
		// From another IP at once; from the attacker's own IP once its
		// opening rate (10 a second after a burst of 20) lets it in again:
		// the honest swarm's second dial, 5 s later.
		for ip, within := range map[string]time.Duration{"10.0.0.2": time.Second, "10.6.6.6": 10 * time.Second} {
			honest := l.node(ip, ih, Config{})
			honest.s.AddPeer(n.addr(), SourceManual)
			waitEventWithin(t, honest.s, EventConnected, within, nil)
		}
	})
}

// idlePeer completes the handshakes (LTEP with ut_pex) from ip and then
// says nothing.
func idlePeer(t *testing.T, l *lab, ip string, to netip.AddrPort, ih [20]byte) net.Conn {
	c, err := l.dial(ip, to.String())
	if err != nil {
		t.Fatal(err)
	}
	hs := wire.Handshake{InfoHash: ih}
	hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
	copy(hs.PeerID[:], "-XX0001-")
	copy(hs.PeerID[8:], ip)
	c.Write(hs.Append(nil))
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 6881}
	c.Write(wire.AppendExtended(nil, 0, ext.Bytes()))
	go io.Copy(io.Discard, c)
	return c
}

// Peers that finish their handshakes and then sit idle fill a swarm's
// slots; a newcomer takes the slot of the one idle longest, and a peer
// that has told us something keeps its own.
func TestIdleIncomingEvictedForNewcomer(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa9}
		n := l.node("10.0.0.1", ih, Config{MaxPeers: 2})
		first := idlePeer(t, l, "10.6.0.1", n.addr(), ih)
		defer first.Close()
		time.Sleep(time.Second)
		x := l.node("10.0.0.4", ih, Config{})
		useful := l.node("10.0.0.3", ih, Config{})
		useful.s.AddPeer(x.addr(), SourceManual)
		waitEvent(t, useful.s, EventConnected, nil)
		useful.s.AddPeer(n.addr(), SourceManual)
		waitEvent(t, n.s, EventPEXReceived, nil) // it tells n about x
		synctest.Wait()
		if got := n.s.Stats().Peers; got != 2 {
			t.Fatalf("%d peers, want 2", got)
		}
		newcomer := l.node("10.0.0.2", ih, Config{})
		newcomer.s.AddPeer(n.addr(), SourceManual)
		waitEventWithin(t, newcomer.s, EventConnected, time.Second, nil)
		synctest.Wait()
		var have []netip.Addr
		for _, p := range n.s.Peers() {
			have = append(have, p.Addr.Addr())
		}
		if len(have) != 2 || !slices.Contains(have, netip.MustParseAddr("10.0.0.2")) || !slices.Contains(have, netip.MustParseAddr("10.0.0.3")) {
			t.Fatalf("peers %v, want the newcomer and the useful one", have)
		}
	})
}

// A peer sending messages faster than MessageRate (beyond MessageBurst) is
// disconnected; its neighbour keeps its link.
func TestMessageFloodDisconnects(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xac}
		n := l.node("10.0.0.1", ih, Config{MessageRate: 100, MessageBurst: 1000})
		good := l.node("10.0.0.2", ih, Config{})
		good.s.AddPeer(n.addr(), SourceManual)
		waitEvent(t, n.s, EventConnected, nil)
		c := idlePeer(t, l, "10.6.0.1", n.addr(), ih)
		defer c.Close()
		waitEvent(t, n.s, EventConnected, func(ev Event) bool { return ev.Peer.Addr() == netip.MustParseAddr("10.6.0.1") })
		flood := make([]byte, 4*5000) // 5000 keep-alives at once
		go c.Write(flood)
		ev := waitEvent(t, n.s, EventDisconnected, nil)
		if ev.Peer.Addr() != netip.MustParseAddr("10.6.0.1") || ev.Err == nil || !strings.Contains(ev.Err.Error(), "too frequently") {
			t.Fatalf("disconnected %v: %v", ev.Peer, ev.Err)
		}
		synctest.Wait()
		if len(n.s.Peers()) != 1 {
			t.Fatalf("peers %+v, want the good one", n.s.Peers())
		}
	})
}

// One peer's yourip claim does not make an address ours; the same claim
// from a second address does.
func TestYourIPNeedsTwoPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xad}
		n := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		claimed := netip.MustParseAddr("10.0.0.77")
		claim := func(from string) {
			c, err := l.dial(from, n.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			hs := wire.Handshake{InfoHash: ih}
			hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
			copy(hs.PeerID[:], "-XX0001-")
			copy(hs.PeerID[8:], from)
			ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, YourIP: claimed}
			c.Write(wire.AppendExtended(hs.Append(nil), 0, ext.Bytes()))
			go io.Copy(io.Discard, c)
		}
		self := func() bool {
			n.s.mu.Lock()
			defer n.s.mu.Unlock()
			return n.s.self[netip.AddrPortFrom(claimed, 6881)]
		}
		claim("10.5.0.1")
		claim("10.5.0.1")
		synctest.Wait()
		if self() {
			t.Fatal("one peer's claims made the address ours")
		}
		claim("10.5.0.2")
		synctest.Wait()
		if !self() {
			t.Fatal("two peers agreeing did not make the address ours")
		}
	})
}
