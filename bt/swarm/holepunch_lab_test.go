package swarm

import (
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// Helpers for hole punching tests in the lab (lab_test.go): an in-memory
// network inside a synctest bubble, where hosts may have any address
// (public, private, IPv6) and the rate limits run on virtual time.
//
// A swarm takes part in hole punching only with a uTP socket, and a real
// one cannot live in a bubble (its reads are real I/O). hpLabNode gives
// the swarm a socket that is never opened: the relay's and the
// initiator's bookkeeping only ask whether there is one. Nothing in these
// tests may make the swarm dial (a dial would go to that socket and
// panic): its peers link to it, and the addresses they name in PEX are
// ones the dial policy refuses (more local than the peer naming them).

// hpLabNode starts a lab swarm at ip that offers ut_holepunch.
func hpLabNode(l *lab, ip string, ih [20]byte, hc HolepunchConfig) *node {
	l.t.Helper()
	n := l.node(ip, ih, Config{NoAZMP: true, Holepunch: hc})
	n.s.mu.Lock()
	n.s.utp4 = &utp.Socket{} // never used: see above
	n.s.mu.Unlock()
	return n
}

// labPeer is a bare BitTorrent peer linked to a lab swarm: it keeps the
// ut_holepunch messages the swarm sends it.
type labPeer struct {
	t      *testing.T
	c      net.Conn
	listen netip.AddrPort // the listen address it told, if any

	mu  sync.Mutex
	hps []holepunch.Msg
}

// peerIDs numbers the lab peers' ids, so that no two look like one peer.
var peerIDs struct {
	sync.Mutex
	n int
}

// labPeerOpts say what a lab peer's handshakes tell.
type labPeerOpts struct {
	holepunch bool // list ut_holepunch (under holepunchID)
	port      int  // the listen port told ("p"); 0 for none
	noExt     bool // send the BitTorrent handshake only: the link stays in its handshakes
}

// linkLabPeer links a bare peer at host ip to the swarm at to.
func linkLabPeer(t *testing.T, l *lab, ip string, to netip.AddrPort, ih [20]byte, o labPeerOpts) *labPeer {
	t.Helper()
	host := ip
	if netip.MustParseAddr(ip).Is6() {
		host = "[" + ip + "]"
	}
	c, err := l.dial(host, to.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	peerIDs.Lock()
	peerIDs.n++
	id := fmt.Sprintf("-XX0001-lab%09d", peerIDs.n)
	peerIDs.Unlock()
	p := &labPeer{t: t, c: c}
	if o.port != 0 {
		p.listen = netip.AddrPortFrom(netip.MustParseAddr(ip), uint16(o.port))
	}
	msgs := ltepHandshake(ih, id)
	if !o.noExt {
		m := map[string]int{}
		if o.holepunch {
			m[holepunch.ExtensionName] = holepunchID
		}
		ext := wire.ExtHandshake{M: m, Port: o.port}
		msgs = wire.AppendExtended(msgs, 0, ext.Bytes())
	}
	if _, err := c.Write(msgs); err != nil {
		t.Fatal(err)
	}
	go p.read()
	return p
}

// read keeps the ut_holepunch messages that come, until the link ends.
func (p *labPeer) read() {
	if _, err := wire.ReadHandshake(p.c); err != nil {
		return
	}
	r := wire.NewReader(p.c, 1<<20)
	for {
		msg, err := r.ReadMessage()
		if err != nil {
			io.Copy(io.Discard, p.c)
			return
		}
		if msg.ID != wire.MsgExtended || len(msg.Payload) == 0 || msg.Payload[0] != holepunchID {
			continue
		}
		m, err := holepunch.Parse(msg.Payload[1:])
		if err != nil {
			p.t.Errorf("the swarm sent a malformed ut_holepunch message %x: %v", msg.Payload[1:], err)
			continue
		}
		p.mu.Lock()
		p.hps = append(p.hps, m)
		p.mu.Unlock()
	}
}

// take returns the ut_holepunch messages received since the last take,
// once the bubble has settled (everything sent has been read).
func (p *labPeer) take() []holepunch.Msg {
	synctest.Wait()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.hps
	p.hps = nil
	return out
}

// sendHP sends the swarm n ut_holepunch messages m.
func (p *labPeer) sendHP(m holepunch.Msg, n int) {
	p.t.Helper()
	sendHolepunch(p.t, p.c, m, n)
}

// sendPEX sends the swarm a ut_pex message naming peers.
func (p *labPeer) sendPEX(peers ...pex.Peer) {
	p.t.Helper()
	payload, err := pex.Append(nil, &pex.Msg{Added: peers})
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.c.Write(wire.AppendExtended(nil, utPexID, payload)); err != nil {
		p.t.Fatal(err)
	}
}

// addr is the address the peer's link comes from, as the swarm sees it.
func (p *labPeer) addr() netip.AddrPort {
	return netip.MustParseAddrPort(p.c.LocalAddr().String())
}
