package swarm

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// firewall is a stateful firewall in front of a UDP socket, as a home
// router keeps one: a datagram comes in only from an address the socket
// sent to before. It is what makes two peers unable to reach each other
// until both have sent (a hole punch).
type firewall struct {
	*net.UDPConn
	mu      sync.Mutex
	open    map[netip.AddrPort]bool
	dropped int
}

func (f *firewall) WriteTo(b []byte, a net.Addr) (int, error) {
	f.mu.Lock()
	f.open[a.(*net.UDPAddr).AddrPort()] = true
	f.mu.Unlock()
	return f.UDPConn.WriteTo(b, a)
}

func (f *firewall) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := f.UDPConn.ReadFrom(b)
		if err != nil {
			return n, a, err
		}
		f.mu.Lock()
		ok := f.open[a.(*net.UDPAddr).AddrPort()]
		if !ok {
			f.dropped++
		}
		f.mu.Unlock()
		if ok {
			return n, a, nil
		}
	}
}

// hpNode is a swarm with TCP and uTP on one loopback port.
type hpNode struct {
	s    *Swarm
	ap   netip.AddrPort
	fw   *firewall // nil: no firewall
	mu   sync.Mutex
	evs  []Event
	done chan struct{}
}

// events returns the events of type typ so far.
func (n *hpNode) events(typ EventType) []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Event
	for _, e := range n.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// newHPNode starts a swarm on a loopback port whose TCP and UDP sides are
// both free; behind a firewall (UDP) when fw, and refusing TCP dials to
// the ports in noTCP. mods change its Config before it starts.
func newHPNode(t *testing.T, ih [20]byte, fw bool, noTCP map[uint16]bool, hc HolepunchConfig, noPEX bool, mods ...func(*Config)) *hpNode {
	t.Helper()
	var ln net.Listener
	var uc *net.UDPConn
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(l.Addr().String())))
		if err == nil {
			ln, uc = l, u
			break
		}
		l.Close()
	}
	if ln == nil {
		t.Fatal("no loopback port free for both TCP and UDP")
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	n := &hpNode{ap: ap, done: make(chan struct{})}
	var pc net.PacketConn = uc
	if fw {
		n.fw = &firewall{UDPConn: uc, open: map[netip.AddrPort]bool{}}
		pc = n.fw
	}
	u, err := utp.ListenPacket(pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{}
	cfg := &Config{ListenPort: int(ap.Port()), HandshakeTimeout: 2 * time.Second, Holepunch: hc, NoPEX: noPEX,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if noTCP[netip.MustParseAddrPort(addr).Port()] {
				return nil, errors.New("test: TCP blocked")
			}
			return d.DialContext(ctx, network, addr)
		}}
	for _, mod := range mods {
		mod(cfg)
	}
	s, err := New(ih, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	go s.Serve(ln)
	s.UseUTP(u)
	go func() {
		defer close(n.done)
		for ev := range s.Events() {
			n.mu.Lock()
			n.evs = append(n.evs, ev)
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.Close()
		<-n.done
	})
	return n
}

// linkTo returns n's live link to o, if any.
func (n *hpNode) linkTo(o *hpNode) (PeerInfo, bool) {
	for _, p := range n.s.Peers() {
		if p.Addr == o.ap || p.Listen == o.ap {
			return p, true
		}
	}
	return PeerInfo{}, false
}

// until waits, for limit at most, for cond.
func until(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}

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

// A peer that lists us back to ourselves, at the address its yourip says
// it sees us at and the port we tell, is not dialed: no dial of our own
// address, no rendezvous asking a relay for ourselves.
func TestOwnAddressFromPeersPEXNotDialed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{8, 8}
		a := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		c, err := l.dial("10.0.0.9", a.addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The peer tells a it sees it at 198.51.100.7, then lists that
		// address with a's port, and one other peer.
		ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, YourIP: netip.MustParseAddr("198.51.100.7")}
		msgs := append(ltepHandshake(ih, "-XX0001-mirror000000"), wire.AppendExtended(nil, 0, ext.Bytes())...)
		own := netip.MustParseAddrPort("198.51.100.7:6881")
		other := netip.MustParseAddrPort("198.51.100.8:6881")
		payload, err := pex.Append(nil, &pex.Msg{Added: []pex.Peer{{Addr: own}, {Addr: other}}})
		if err != nil {
			t.Fatal(err)
		}
		msgs = wire.AppendExtended(msgs, utPexID, payload) // a's id for ut_pex
		go io.Copy(io.Discard, c)
		if _, err := c.Write(msgs); err != nil {
			t.Fatal(err)
		}
		ev := waitEvent(t, a.s, EventDiscovered, nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if ev.Peer != other {
			t.Fatalf("discovered %v first, want only %v", ev.Peer, other)
		}
		if n := a.s.Stats().Learned[SourcePEX]; n != 1 {
			t.Fatalf("took %d peers from the PEX message, want 1 (not our own address)", n)
		}
	})
}

// Two links with one peer id from two IPs are not doubles: a multihomed
// peer (libtorrent dialing from another address than it listens on) keeps
// a link on each. From one IP, the second goes.
func TestDedupeOnlyFromOneIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{9, 1}
		a := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		link := func(ip string) {
			c, err := l.dial(ip, a.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}}
			go io.Copy(io.Discard, c)
			c.Write(append(ltepHandshake(ih, "-XX0001-samepeerid00"), wire.AppendExtended(nil, 0, ext.Bytes())...))
		}
		link("10.0.0.8")
		link("10.0.0.9")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(a.s.Peers()); n != 2 {
			t.Fatalf("%d links from two IPs with one peer id, want 2: %+v", n, a.s.Peers())
		}
		link("10.0.0.9")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(a.s.Peers()); n != 2 {
			t.Fatalf("%d links after a second from one IP, want 2: %+v", n, a.s.Peers())
		}
	})
}
