package swarm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// azPeer is a hand-driven AZMP peer, for feeding a swarm bad input.
type azPeer struct {
	t  *testing.T
	c  net.Conn
	r  *azmp.Reader
	hs azmp.Handshake // the swarm's AZ_HANDSHAKE
}

func dialAZ(t *testing.T, to netip.AddrPort, ih [20]byte) *azPeer {
	t.Helper()
	c, err := net.DialTimeout("tcp", to.String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := wire.Handshake{InfoHash: ih}
	hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
	azmp.Offer(&hs.Reserved)
	copy(hs.PeerID[:], "-XX0001-azpeer000000")
	if _, err := c.Write(hs.Append(nil)); err != nil {
		t.Fatal(err)
	}
	theirs, err := wire.ReadHandshake(c)
	if err != nil || !azmp.Chosen(hs.Reserved, theirs.Reserved) {
		t.Fatalf("handshake %+v %v: AZMP not chosen", theirs, err)
	}
	p := &azPeer{t: t, c: c, r: azmp.NewReader(c, 0)}
	f, err := p.r.ReadFrame()
	if err != nil || string(f.ID) != azmp.IDHandshake {
		t.Fatalf("first frame %q %v, want AZ_HANDSHAKE", f.ID, err)
	}
	if p.hs, err = azmp.ParseHandshake(f.Payload); err != nil {
		t.Fatal(err)
	}
	mine := azmp.Handshake{Client: "test", Version: "1", TCPPort: 1234,
		Messages: []azmp.MessageInfo{{ID: azmp.IDPeerExchange, Version: 1}, {ID: azmp.IDInterested, Version: 1}}}
	copy(mine.Identity[:], "test-identity-000000")
	p.send(azmp.IDHandshake, mine.Bytes())
	return p
}

func (p *azPeer) send(id string, payload []byte) {
	p.c.Write(azmp.AppendFrame(nil, id, 1, payload))
}

func (p *azPeer) exchange(ih [20]byte, added ...netip.AddrPort) []byte {
	m := azmp.PeerExchange{InfoHash: ih}
	for _, a := range added {
		m.Added = append(m.Added, azmp.Peer{Addr: a})
	}
	b, err := azmp.AppendPeerExchange(nil, &m)
	if err != nil {
		p.t.Fatal(err)
	}
	return b
}

// closed reports whether the swarm closed the connection within 10 s,
// reading (and dropping) whatever it sends meanwhile.
func (p *azPeer) closed() bool {
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, err := io.Copy(io.Discard, p.c)
	var ne net.Error
	return !(errors.As(err, &ne) && ne.Timeout())
}

func TestAZHandshakeOffersPEX(t *testing.T) {
	ih := [20]byte{0xa1}
	n := newNodeConfig(t, ih, Config{})
	p := dialAZ(t, n.addr(), ih)
	if v, ok := p.hs.Supports(azmp.IDPeerExchange); !ok || v != 1 {
		t.Fatalf("AZ_HANDSHAKE lists AZ_PEER_EXCHANGE %d %v", v, ok)
	}
	if p.hs.TCPPort != int(n.addr().Port()) || p.hs.Client != "pex" {
		t.Fatalf("handshake %+v", p.hs)
	}
	// A valid exchange is taken; its peer is discovered over azmp.
	other := netip.MustParseAddrPort("127.0.0.1:9")
	p.send(azmp.IDPeerExchange, p.exchange(ih, other))
	ev := waitEvent(t, n.s, "discovered", func(ev Event) bool { return ev.Peer == other })
	if ev.Net != NetAZMP || ev.Source != SourcePEX {
		t.Fatalf("discovered %+v", ev)
	}
	// The peer it gave its listen port for is listed to others.
	for _, pi := range n.s.Peers() {
		if pi.Net == NetAZMP && pi.Listen.Port() == 1234 && pi.Client == "test 1" {
			return
		}
	}
	t.Fatalf("peers %+v", n.s.Peers())
}

// Bad AZMP input closes that connection only; a bystander keeps its link,
// and an unknown message id is ignored.
func TestAZBadInput(t *testing.T) {
	ih := [20]byte{0xa2}
	victim := newNodeConfig(t, ih, Config{})
	bystander := newNodeConfig(t, ih, Config{})
	victim.s.AddPeer(bystander.addr(), SourceManual)
	waitEvent(t, victim.s, "connected", nil)
	other := ih
	other[1] = 1
	oversized := binary.BigEndian.AppendUint32(nil, 200<<10)
	for _, c := range []struct {
		name string
		feed func(p *azPeer)
	}{
		{"flood", func(p *azPeer) {
			for i := range 8 {
				p.send(azmp.IDPeerExchange, p.exchange(ih, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, 9, byte(i)}), 1)))
			}
		}},
		{"wrong infohash", func(p *azPeer) { p.send(azmp.IDPeerExchange, p.exchange(other, netip.MustParseAddrPort("10.1.1.1:1"))) }},
		{"empty exchange", func(p *azPeer) { p.send(azmp.IDPeerExchange, []byte("d8:infohash20:"+string(ih[:])+"e")) }},
		{"undecodable exchange", func(p *azPeer) { p.send(azmp.IDPeerExchange, []byte("d5:addedl5:xxxxxee")) }},
		{"oversized frame", func(p *azPeer) { p.c.Write(oversized) }},
		{"zero id length", func(p *azPeer) { p.c.Write([]byte{0, 0, 0, 6, 0, 0, 0, 0, 'A', 1}) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := dialAZ(t, victim.addr(), ih)
			c.feed(p)
			if !p.closed() {
				t.Fatal("connection still open")
			}
		})
	}
	t.Run("unknown id ignored", func(t *testing.T) {
		p := dialAZ(t, victim.addr(), ih)
		p.send("AZ_SOMETHING_NEW", []byte("whatever"))
		p.send(azmp.IDPeerExchange, p.exchange(ih, netip.MustParseAddrPort("10.2.2.2:2")))
		waitEvent(t, victim.s, "pex-received", func(ev Event) bool {
			return len(ev.Added) == 1 && ev.Added[0] == netip.MustParseAddrPort("10.2.2.2:2")
		})
	})
	linked := false
	for _, pi := range victim.s.Peers() {
		linked = linked || pi.Addr == bystander.addr()
	}
	if !linked {
		t.Fatalf("the bystander lost its link: %+v", victim.s.Peers())
	}
}

// A peer that offers AZMP with LTEP but no preference gets LTEP, as
// BiglyBT decides it too.
func TestAZNotPreferredGetsLTEP(t *testing.T) {
	ih := [20]byte{0xa3}
	n := newNodeConfig(t, ih, Config{})
	c, err := net.DialTimeout("tcp", n.addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := wire.Handshake{InfoHash: ih, Reserved: [8]byte{0x80, 0, 0, 0, 0, 0x10}}
	copy(hs.PeerID[:], "-XX0001-ltep00000000")
	c.Write(hs.Append(nil))
	if _, err := wire.ReadHandshake(c); err != nil {
		t.Fatal(err)
	}
	msg, err := wire.NewReader(c, 0).ReadMessage()
	if err != nil || msg.ID != wire.MsgExtended || len(msg.Payload) == 0 || msg.Payload[0] != 0 {
		t.Fatalf("first message %+v %v, want the extended handshake", msg, err)
	}
	if !bytes.Contains(msg.Payload, []byte("6:ut_pex")) {
		t.Fatalf("extended handshake %q offers no ut_pex", msg.Payload)
	}
}

// A peer re-sending extended handshakes with ever new "yourip" claims does
// not grow the swarm's memory without bound.
func TestYourIPClaimsBounded(t *testing.T) {
	ih := [20]byte{0xa4}
	n := newNodeConfig(t, ih, Config{NoAZMP: true})
	c, err := net.DialTimeout("tcp", n.addr().String(), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	hs := wire.Handshake{InfoHash: ih}
	hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
	copy(hs.PeerID[:], "-XX0001-yourip000000")
	c.Write(hs.Append(nil))
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
	// The link stays up (re-sent handshakes are allowed) and the claims
	// stop counting at the cap.
	waitEvent(t, n.s, "connected", nil)
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		n.s.mu.Lock()
		k := len(n.s.self)
		n.s.mu.Unlock()
		if k > MaxSelf {
			t.Fatalf("%d self addresses, cap %d", k, MaxSelf)
		}
		if k == MaxSelf {
			return
		}
	}
	t.Fatal("the claims never reached the cap: were they read?")
}

// A PEX message full of new addresses starts no more dials than MaxPeers
// leaves room for.
func TestDialsBoundedByMaxPeers(t *testing.T) {
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
	n := newNodeConfig(t, ih, Config{MaxPeers: 5, Dialer: dial, HandshakeTimeout: time.Second})
	p := dialAZ(t, n.addr(), ih)
	var added []netip.AddrPort
	for i := range 50 {
		added = append(added, netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, 0, byte(i + 1)}), 6881))
	}
	p.send(azmp.IDPeerExchange, p.exchange(ih, added...))
	waitEvent(t, n.s, "pex-received", nil)
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if most == 0 || most > 4 {
		t.Fatalf("%d dials in flight at most, want 1 to 4 (MaxPeers 5, one link)", most)
	}
}

// EncryptOutgoing: a pex node opens its link with MSE and the other side
// answers it; against a peer that cannot (a plain-only raw peer), it falls
// back to a plain handshake.
func TestEncryptOutgoing(t *testing.T) {
	ih := [20]byte{0xa6}
	a := newNodeConfig(t, ih, Config{EncryptOutgoing: true})
	b := newNodeConfig(t, ih, Config{})
	a.s.AddPeer(b.addr(), SourceManual)
	waitEvent(t, a.s, "connected", nil)
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		ap, bp := a.s.Peers(), b.s.Peers()
		if len(ap) == 1 && len(bp) == 1 && ap[0].Encrypted && bp[0].Encrypted {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("links not encrypted: a %+v b %+v", ap, bp)
		}
	}
	// A listener that answers only plain handshakes: the first attempt
	// (MSE) fails there, the second is plain.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	attempts := make(chan bool, 4)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(10 * time.Second))
				h, err := wire.ReadHandshake(c)
				attempts <- err == nil
				if err != nil {
					return
				}
				h.PeerID[0]++
				c.Write(h.Append(nil))
				io.Copy(io.Discard, c)
			}()
		}
	}()
	a.s.AddPeer(netip.MustParseAddrPort(ln.Addr().String()), SourceManual)
	next := func() bool {
		select {
		case ok := <-attempts:
			return ok
		case <-time.After(15 * time.Second):
			t.Fatal("no connection attempt")
			return false
		}
	}
	first, second := next(), next()
	if first || !second {
		t.Fatalf("attempts: MSE accepted %v, plain accepted %v", first, second)
	}
}
