package swarm

import (
	"net/netip"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// azMessages are the AZMP message ids pex accepts; it advertises them in
// its AZ_HANDSHAKE and ignores all but AZ_PEER_EXCHANGE.
var azMessages = []string{azmp.IDKeepAlive, azmp.IDChoke, azmp.IDUnchoke, azmp.IDInterested, azmp.IDUninterested,
	azmp.IDHave, azmp.IDBitfield, azmp.IDRequest, azmp.IDPiece, azmp.IDCancel}

// azVersion is the version pex speaks of every AZ message: 1, no padding.
const azVersion = 1

// azLink runs a connection over AZMP: both sides send AZ_HANDSHAKE, then
// AZ_PEER_EXCHANGE when both list it. Every message is AZ-framed.
type azLink struct {
	c    *conn
	r    *azmp.Reader
	recv *pex.Receiver
	pex  bool // both sides take AZ_PEER_EXCHANGE
	ver  byte // the AZ_PEER_EXCHANGE version pex sends
	keep bool // the peer takes BT_KEEP_ALIVE
}

var _ network = (*azLink)(nil)

func (a *azLink) open() error {
	c, s := a.c, a.c.s
	// AZ_HANDSHAKE names client and version apart: "pex/0.2.0" is sent
	// as "pex" and "0.2.0".
	name, version, _ := strings.Cut(s.cfg.Client, "/")
	h := azmp.Handshake{Identity: s.azIdentity, Client: name, Version: version, TCPPort: s.publicPortNow()}
	for _, id := range azMessages {
		h.Messages = append(h.Messages, azmp.MessageInfo{ID: id, Version: azVersion})
	}
	if s.pexOn() {
		h.Messages = append(h.Messages, azmp.MessageInfo{ID: azmp.IDPeerExchange, Version: azVersion})
	}
	if err := c.write(azmp.AppendFrame(nil, azmp.IDHandshake, azVersion, h.Bytes())); err != nil {
		return err
	}
	a.r = azmp.NewReader(&c.in, 0)
	// Nothing but AZ_HANDSHAKE may be sent before the peer has said which
	// ids it takes.
	c.nc.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	var theirs azmp.Handshake
	for {
		f, err := a.r.ReadFrame()
		if err != nil {
			return stageErr(err, "AZ_HANDSHAKE", 0, s.cfg.HandshakeTimeout)
		}
		if string(f.ID) != azmp.IDHandshake {
			continue
		}
		if theirs, err = azmp.ParseHandshake(f.Payload); err != nil {
			return err
		}
		break
	}
	if theirs.Identity == s.azIdentity {
		return errSelf
	}
	if _, ok := theirs.Supports(azmp.IDInterested); ok { // stay interesting to seeds
		if err := c.write(azmp.AppendFrame(nil, azmp.IDInterested, azVersion, nil)); err != nil {
			return err
		}
	}
	st := linkState{client: theirs.Client, encryption: theirs.HandshakeType == azmp.HandshakeCrypto}
	if theirs.Version != "" {
		st.client += " " + theirs.Version
	}
	if theirs.TCPPort > 0 && theirs.TCPPort < 65536 {
		st.listen = netip.AddrPortFrom(c.addr.Addr(), uint16(theirs.TCPPort))
	}
	if v, ok := theirs.Supports(azmp.IDPeerExchange); ok && s.pexOn() {
		st.pexNet, a.pex, a.ver = NetAZMP, true, min(v, azVersion)
		if a.ver == 0 {
			a.ver = azVersion
		}
	}
	_, a.keep = theirs.Supports(azmp.IDKeepAlive)
	return c.update(st, true)
}

func (a *azLink) readOne() error {
	c, s := a.c, a.c.s
	f, err := a.r.ReadFrame()
	if err != nil {
		return readErr(err)
	}
	if string(f.ID) != azmp.IDPeerExchange || !a.pex {
		return nil // a BitTorrent message, or one pex does not use
	}
	if a.recv == nil { // made at the first message: many peers never send one
		a.recv = pex.NewAZReceiver(s.cfg.AZMPRule)
	}
	added, dropped, err := a.recv.ReceiveAZ(s.now(), f.Payload, s.ih, netip.AddrPort{})
	if err != nil {
		return err
	}
	as := make([]netip.AddrPort, len(added))
	for i, p := range added {
		as[i] = compact.Unmap(p.Addr)
	}
	c.received(NetAZMP, as, nil, append([]netip.AddrPort(nil), dropped...))
	return nil
}

// pexFrame turns what a Sender decided into an AZ_PEER_EXCHANGE: ut_pex's
// encryption flag becomes the crypto handshake type.
func (a *azLink) pexFrame(b *pexBuf) ([]byte, bool, error) {
	if !a.pex {
		return nil, false, nil
	}
	m, am := &b.m, &b.am
	am.Reset()
	am.InfoHash = a.c.s.ih
	for _, p := range m.Added {
		am.Added = append(am.Added, azmp.Peer{Addr: p.Addr, Crypto: p.Flags&pex.FlagEncryption != 0})
	}
	for _, d := range m.Dropped {
		am.Dropped = append(am.Dropped, azmp.Peer{Addr: d})
	}
	payload, err := azmp.AppendPeerExchange(b.payload[:0], am)
	if err != nil {
		return nil, false, err
	}
	b.payload = payload
	b.frame = azmp.AppendFrame(b.frame[:0], azmp.IDPeerExchange, a.ver, payload)
	return b.frame, true, nil
}

func (a *azLink) keepAlive() []byte {
	if !a.keep {
		return nil
	}
	return azmp.AppendFrame(nil, azmp.IDKeepAlive, azVersion, nil)
}

func (a *azLink) handshakeDue() time.Time { return time.Time{} } // AZ_HANDSHAKE came in open

func (a *azLink) release() { a.r.Release() }
