package swarm

import (
	"errors"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
	"golang.org/x/time/rate"
)

// utPexID is the extended id pex receives ut_pex under (most clients use 1).
const utPexID = 1

// ltepLink runs a connection over the plain wire protocol, with ut_pex when
// both sides speak the extension protocol (BEP 10).
type ltepLink struct {
	c        *conn
	ltep     bool // the peer's handshake offered the extension protocol
	r        *wire.Reader
	recv     *pex.Receiver
	theirPex atomic.Uint32 // the extended id the peer receives ut_pex under; 0 for none
	extBy    time.Time     // the peer's extended handshake is due by then; zero once it came
	exts     *rate.Limiter // extended handshakes the peer may send
}

var _ network = (*ltepLink)(nil)

func (l *ltepLink) open() error {
	c, s := l.c, l.c.s
	m := map[string]int{}
	if s.pexOn() {
		m["ut_pex"] = utPexID
	}
	s.mu.Lock()
	if s.holepunchOnLocked() {
		m[holepunch.ExtensionName] = holepunchID
	}
	s.mu.Unlock()
	ext := wire.ExtHandshake{M: m, Port: s.publicPortNow(), Version: s.cfg.Client, YourIP: c.addr.Addr(), ReqQ: 250}
	msgs := wire.AppendExtended(nil, 0, ext.Bytes())
	msgs = wire.AppendMessage(msgs, wire.MsgInterested, nil) // stay interesting to seeds
	if err := c.write(msgs); err != nil {
		return err
	}
	l.r = wire.NewReader(&c.in, MaxMessageSize)
	l.exts = rate.NewLimiter(0.1, 5)
	if !l.ltep {
		// No extension protocol: no client name to wait for.
		if err := c.update(linkState{}, true); err != nil {
			return err
		}
	} else {
		l.extBy = time.Now().Add(s.cfg.HandshakeTimeout)
	}
	return nil
}

func (l *ltepLink) readOne() error {
	c, s := l.c, l.c.s
	if !l.extBy.IsZero() {
		c.nc.SetReadDeadline(l.extBy)
	}
	msg, err := l.r.ReadMessage()
	if err != nil {
		if !l.extBy.IsZero() {
			return stageErr(err, "extended handshake", 0, s.cfg.HandshakeTimeout)
		}
		return readErr(err)
	}
	if msg.KeepAlive || msg.ID != wire.MsgExtended || len(msg.Payload) == 0 {
		return nil
	}
	switch msg.Payload[0] {
	case 0:
		if !l.exts.Allow() {
			return errors.New("extended handshakes sent too frequently")
		}
		h, err := wire.ParseExtHandshake(msg.Payload[1:])
		if err != nil {
			return err
		}
		if h.YourIP.IsValid() {
			// How this peer sees us: our public address, and our listen
			// address never to dial, once peers from two addresses agree.
			s.mu.Lock()
			s.claimSelfLocked(h.YourIP.Unmap(), c.addr.Addr())
			c.yourIP = h.YourIP.Unmap()
			s.mu.Unlock()
		}
		l.extBy = time.Time{}
		st := linkState{client: h.Version, encryption: h.Encryption}
		id := h.M["ut_pex"]
		if id <= 0 || id > 255 || !s.pexOn() {
			id = 0
		} else {
			st.pexNet = NetUTPex
		}
		l.theirPex.Store(uint32(id))
		if hp := h.M[holepunch.ExtensionName]; hp > 0 && hp < 256 {
			st.hp = byte(hp)
		}
		switch {
		case h.Port > 0 && h.Port < 65536:
			st.listen = netip.AddrPortFrom(c.addr.Addr(), uint16(h.Port))
		case c.utp && !c.outgoing:
			// No port told (libtorrent 2.0 leaves "p" out of some of its
			// handshakes over IPv6), but a uTP link comes from its
			// client's listen socket: where it comes from is where the
			// client takes connections (or its NAT's mapping of it, what
			// a punch aims at).
			st.listen = c.addr
		}
		if err := c.update(st, true); err != nil {
			return err
		}
	case utPexID:
		if !s.pexOn() {
			return nil // we did not offer it
		}
		if l.recv == nil { // made at the first message: many peers never send one
			l.recv = pex.NewReceiver(s.cfg.UTPexRule)
		}
		added, dropped, err := l.recv.Receive(s.now(), msg.Payload[1:], netip.AddrPort{})
		if err != nil {
			return err
		}
		as := make([]netip.AddrPort, len(added))
		fs := make([]pex.Flags, len(added))
		for i, p := range added {
			as[i], fs[i] = compact.Unmap(p.Addr), p.Flags
		}
		c.received(NetUTPex, as, fs, append([]netip.AddrPort(nil), dropped...))
	case holepunchID:
		return c.onHolepunch(msg.Payload[1:])
	}
	return nil
}

func (l *ltepLink) pexFrame(b *pexBuf) ([]byte, bool, error) {
	id := l.theirPex.Load()
	if id == 0 {
		return nil, false, nil
	}
	payload, err := pex.Append(b.payload[:0], &b.m)
	if err != nil {
		return nil, false, err
	}
	b.payload = payload
	b.frame = wire.AppendExtended(b.frame[:0], byte(id), payload)
	return b.frame, true, nil
}

func (l *ltepLink) keepAlive() []byte { return wire.AppendKeepAlive(nil) }

func (l *ltepLink) handshakeDue() time.Time { return l.extBy }

func (l *ltepLink) release() { l.r.Release() }
