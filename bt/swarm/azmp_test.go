package swarm

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"testing"
	"testing/synctest"
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

func dialAZ(t *testing.T, l *lab, to netip.AddrPort, ih [20]byte) *azPeer {
	t.Helper()
	c, err := l.dial("10.9.0.1", to.String())
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
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa1}
		n := l.node("10.0.0.1", ih, Config{})
		p := dialAZ(t, l, n.addr(), ih)
		if v, ok := p.hs.Supports(azmp.IDPeerExchange); !ok || v != 1 {
			t.Fatalf("AZ_HANDSHAKE lists AZ_PEER_EXCHANGE %d %v", v, ok)
		}
		if p.hs.TCPPort != int(n.addr().Port()) || p.hs.Client != "pex" {
			t.Fatalf("handshake %+v", p.hs)
		}
		// A valid exchange is taken; its peer is discovered over azmp.
		other := netip.MustParseAddrPort("10.1.2.3:9")
		p.send(azmp.IDPeerExchange, p.exchange(ih, other))
		ev := waitEvent(t, n.s, EventDiscovered, func(ev Event) bool { return ev.Peer == other })
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
	})
}

// Bad AZMP input closes that connection only; a bystander keeps its link,
// and an unknown message id is ignored.
func TestAZBadInput(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa2}
		victim := l.node("10.0.0.1", ih, Config{})
		bystander := l.node("10.0.0.2", ih, Config{})
		victim.s.AddPeer(bystander.addr(), SourceManual)
		waitEvent(t, victim.s, EventConnected, nil)
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
			p := dialAZ(t, l, victim.addr(), ih)
			c.feed(p)
			if !p.closed() {
				t.Errorf("%s: connection still open", c.name)
			}
		}
		// An unknown message id is ignored, and the next exchange taken.
		p := dialAZ(t, l, victim.addr(), ih)
		p.send("AZ_SOMETHING_NEW", []byte("whatever"))
		p.send(azmp.IDPeerExchange, p.exchange(ih, netip.MustParseAddrPort("10.2.2.2:2")))
		waitEvent(t, victim.s, EventPEXReceived, func(ev Event) bool {
			return len(ev.Added) == 1 && ev.Added[0] == netip.MustParseAddrPort("10.2.2.2:2")
		})
		linked := false
		for _, pi := range victim.s.Peers() {
			linked = linked || pi.Addr == bystander.addr()
		}
		if !linked {
			t.Fatalf("the bystander lost its link: %+v", victim.s.Peers())
		}
	})
}

// A peer that offers AZMP with LTEP but no preference gets LTEP, as
// BiglyBT decides it too.
func TestAZNotPreferredGetsLTEP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xa3}
		n := l.node("10.0.0.1", ih, Config{})
		c, err := l.dial("10.9.0.1", n.addr().String())
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
	})
}
