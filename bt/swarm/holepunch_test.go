package swarm

import (
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// Two peers behind firewalls, neither able to dial the other (TCP is
// blocked between them, uTP dropped by the firewalls), each linked to a
// public relay over TCP. The relay's PEX names each to the other as
// taking hole punches; each dial fails; a rendezvous goes to the relay,
// which sends connect to both; the punch joins them over uTP. Without
// the relay's help (hole punching off there) they never meet.
func TestHolepunchJoinsFirewalledPeers(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	for _, relayOn := range []bool{true, false} {
		name := "relay"
		if !relayOn {
			name = "no-relay"
		}
		t.Run(name, func(t *testing.T) {
			ih := [20]byte{5, 5}
			noTCP := map[uint16]bool{}
			a := newHPNode(t, ih, true, noTCP, HolepunchConfig{}, false)
			// b learns nothing by PEX, so never dials a: a's dial and the
			// relay's connect are the only ways they can meet (two peers
			// that dial each other at once can cross their firewalls by
			// chance, with no punch).
			b := newHPNode(t, ih, true, noTCP, HolepunchConfig{}, true)
			noTCP[a.ap.Port()], noTCP[b.ap.Port()] = true, true // before anyone dials
			r := newHPNode(t, ih, false, nil, HolepunchConfig{Disable: !relayOn}, false)
			a.s.AddPeer(r.ap, SourceManual)
			b.s.AddPeer(r.ap, SourceManual)
			joined := until(25*time.Second, func() bool {
				pa, okA := a.linkTo(b)
				pb, okB := b.linkTo(a)
				return okA && okB && pa.Punched && pb.Punched
			})
			if !relayOn {
				if joined {
					t.Fatal("joined without a relay's help: the firewalls let them through")
				}
				if st := r.s.Stats().Holepunch; st.RendezvousReceived != 0 || st.ConnectsRelayed != 0 {
					t.Fatalf("a relay with hole punching off took part: %+v", st)
				}
				return
			}
			if !joined {
				t.Fatalf("not joined by a punch: a %+v, b %+v; relay %+v; a's holepunch events %+v, b's %+v",
					a.s.Peers(), b.s.Peers(), r.s.Stats().Holepunch, a.events(EventHolepunch), b.events(EventHolepunch))
			}
			pa, _ := a.linkTo(b)
			if !pa.UTP || !pa.Holepunch {
				t.Errorf("a's link to b: %+v, want uTP with a peer that takes punches", pa)
			}
			if st := r.s.Stats().Holepunch; st.ConnectsRelayed == 0 {
				t.Errorf("relay stats %+v: no connect relayed", st)
			}
			sa, sb := a.s.Stats().Holepunch, b.s.Stats().Holepunch
			if sa.RendezvousSent+sb.RendezvousSent == 0 || sa.Undialable+sb.Undialable == 0 {
				t.Errorf("no rendezvous sent: a %+v, b %+v", sa, sb)
			}
			if sa.Reached+sb.Reached == 0 {
				t.Errorf("no punch counted as reaching its peer: a %+v, b %+v", sa, sb)
			}
			relayed := false
			for _, e := range r.events(EventHolepunch) {
				if e.Role == RoleRelay && e.Outcome == OutcomeConnectSent {
					relayed = true
				}
			}
			if !relayed {
				t.Errorf("relay events %+v: no connect-sent", r.events(EventHolepunch))
			}
			// One link between them on each side, whichever SYN won.
			time.Sleep(time.Second)
			for _, pair := range [][2]*hpNode{{a, b}, {b, a}} {
				n := 0
				for _, p := range pair[0].s.Peers() {
					if p.Addr == pair[1].ap || p.Listen == pair[1].ap {
						n++
					}
				}
				if n != 1 {
					t.Errorf("%d links between the two, want 1: %+v", n, pair[0].s.Peers())
				}
			}
		})
	}
}

// With uTP on, a peer is dialed over uTP first (as libtorrent does), from
// the listen port: the link runs over uTP and the other side sees it come
// from the dialer's listen address.
func TestDialsOverUTPFirst(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	ih := [20]byte{6, 6}
	a := newHPNode(t, ih, false, nil, HolepunchConfig{}, false)
	b := newHPNode(t, ih, false, nil, HolepunchConfig{}, false)
	b.s.AddPeer(a.ap, SourceManual)
	if !until(10*time.Second, func() bool { _, ok := a.linkTo(b); return ok }) {
		t.Fatalf("not linked: b's events %+v", b.events(EventDialFailed))
	}
	pa, _ := a.linkTo(b)
	pb, _ := b.linkTo(a)
	if !pa.UTP || !pb.UTP || pa.Addr != b.ap || pa.Outgoing || !pb.Outgoing {
		t.Fatalf("a sees %+v, b sees %+v: want one uTP link b dialed from its listen address %v", pa, pb, b.ap)
	}
	if d := a.events(EventDisconnected); len(d) != 0 {
		t.Fatalf("links ended on the way: %+v", d)
	}
}

// rawPeer links to the swarm at addr as a bare BitTorrent peer that lists
// ut_holepunch (under id 4) and sends what the test writes.
func rawPeer(t *testing.T, ih [20]byte, addr netip.AddrPort) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	ext := wire.ExtHandshake{M: map[string]int{holepunch.ExtensionName: 4}}
	msgs := append(ltepHandshake(ih, "-XX0001-attacker0000"), wire.AppendExtended(nil, 0, ext.Bytes())...)
	if _, err := c.Write(msgs); err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, c) // whatever the swarm says back
	return c
}

// sendHolepunch writes n ut_holepunch messages m to c, under the swarm's
// id for them.
func sendHolepunch(t *testing.T, c net.Conn, m holepunch.Msg, n int) {
	t.Helper()
	payload, err := holepunch.Append(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	frame := wire.AppendExtended(nil, holepunchID, payload)
	var b []byte
	for range n {
		b = append(b, frame...)
	}
	if _, err := c.Write(b); err != nil {
		t.Fatal(err)
	}
}

// A relay cannot be used to aim connect messages: 200 rendezvous from one
// peer for a target it holds make it send connect at most RelayBurst
// times plus RelayRate a second, and the rest are counted as limited. And
// a target cannot be made to punch at will: 200 connect messages naming
// one victim start at most MaxDialsPerIP punches at it (the dial policy's
// window), and messages over ConnectBurst are dropped.
func TestHolepunchFloodsBounded(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	ih := [20]byte{7, 7}
	r := newHPNode(t, ih, false, nil, HolepunchConfig{}, false)
	tg := newHPNode(t, ih, false, nil, HolepunchConfig{}, true)
	tg.s.AddPeer(r.ap, SourceManual)
	if !until(10*time.Second, func() bool { _, ok := r.linkTo(tg); return ok }) {
		t.Fatal("the target did not link to the relay")
	}
	start := time.Now()
	att := rawPeer(t, ih, r.ap)
	sendHolepunch(t, att, holepunch.Msg{Type: holepunch.Rendezvous, Addr: tg.ap}, 200)
	if !until(10*time.Second, func() bool {
		st := r.s.Stats().Holepunch
		return st.RendezvousReceived+st.Limited >= 200
	}) {
		t.Fatalf("the relay did not take the 200 rendezvous: %+v", r.s.Stats().Holepunch)
	}
	st := r.s.Stats().Holepunch
	allowed := uint64(DefaultRelayBurst + int(DefaultRelayRate*time.Since(start).Seconds()) + 1)
	t.Logf("200 rendezvous from one peer: %d answered with connect, %d limited", st.ConnectsRelayed, st.Limited)
	if st.ConnectsRelayed == 0 || st.ConnectsRelayed > allowed || st.Limited < 200-allowed {
		t.Fatalf("relay stats %+v: want 1 to %d connects relayed, the rest limited", st, allowed)
	}

	// The connect flood, straight at a swarm, naming one victim.
	vc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)}) // a victim that answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer vc.Close()
	victim := vc.LocalAddr().(*net.UDPAddr).AddrPort()
	start = time.Now()
	att2 := rawPeer(t, ih, tg.ap)
	sendHolepunch(t, att2, holepunch.Msg{Type: holepunch.Connect, Addr: victim}, 200)
	if !until(10*time.Second, func() bool {
		st := tg.s.Stats().Holepunch
		return st.ConnectsReceived+st.Limited >= 200
	}) {
		t.Fatalf("the target did not take the 200 connects: %+v", tg.s.Stats().Holepunch)
	}
	// The target also took the connects the relay sent it above.
	allowed2 := st.ConnectsRelayed + uint64(DefaultConnectBurst+int(DefaultConnectRate*time.Since(start).Seconds())+1)
	if got := tg.s.Stats().Holepunch; got.ConnectsReceived > allowed2 || got.Limited < 200-allowed2 {
		t.Fatalf("target stats %+v: want at most %d connects taken, the rest limited", got, allowed2)
	}
	if !until(20*time.Second, func() bool { return tg.s.Stats().Dialing == 0 }) {
		t.Fatal("the punches did not end")
	}
	punches := 0
	for _, e := range tg.events(EventHolepunch) {
		if e.Peer == victim {
			punches++
		}
	}
	t.Logf("200 connects naming one victim: %d taken, %d limited, %d punches at it", tg.s.Stats().Holepunch.ConnectsReceived, tg.s.Stats().Holepunch.Limited, punches)
	if punches == 0 || punches > DefaultMaxDialsPerIP {
		t.Fatalf("%d punches at the victim, want 1 to MaxDialsPerIP (%d)", punches, DefaultMaxDialsPerIP)
	}
}
