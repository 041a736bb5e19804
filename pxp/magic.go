package pxp

import (
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/pxp/psk"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// The magic: the five bytes each side writes first, checked before the
// first frame is read, and the one case an upgraded link may go without.

// magicConn checks the peer's magic before the first frame is read and
// counts bytes of direct transports.
type magicConn struct {
	net.Conn
	ex      *Exchange
	p       *Peer
	direct  bool
	checked bool
	// upgraded: the link is an Upgrader's (a WebRTC data channel), made
	// with a peer already known to speak PXP, whose first message a
	// browser may have lost (see lostMagic).
	upgraded bool
	// ahead holds bytes read while looking for the magic that belong to
	// the first frame.
	ahead []byte
}

// lostMagic is how an upgraded link begins when the peer's first data
// channel message, its magic, was lost on the way: with the frame that
// opens its "pxp" stream (channel 0, NEW_STREAM, 3 bytes of name).
// Chromium loses a message a page sends on a channel the other side
// opened, now and then, when the page sends it the moment the channel is
// open (seen: the channel's DCEP ACK and the page's second message reach
// the wire with consecutive TSNs, the first never): about 1 browser
// upgrade in 200 in the NAT lab. Such a link is taken as if the
// magic had come, rather than failing an upgrade whose peer proved it
// speaks PXP over the session it was signaled on.
const lostMagic = "\x00\x03pxp"

func (m *magicConn) Read(b []byte) (int, error) {
	if !m.checked {
		var got [len(wire.Magic)]byte
		if _, err := io.ReadFull(m.Conn, got[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, ErrBadMagic
			}
			return 0, err
		}
		m.p.bytesIn.Add(uint64(len(got)))
		if m.direct {
			m.ex.bytesIn.Add(uint64(len(got)))
		}
		switch {
		case string(got[:]) == wire.Magic:
		case string(got[:]) == psk.Preamble && m.ex.cfg.NetworkKey == nil:
			return 0, &NetworkKeyError{Transport: m.p.kind, Remote: m.Conn.RemoteAddr().String(), Reason: ErrPeerKeyed}
		case m.upgraded && string(got[:]) == lostMagic:
			m.ahead = append([]byte(nil), got[:]...)
			m.ex.cfg.Logger.Debug("pxp: an upgraded link began without the peer's magic (lost by its browser); taken", "peer", m.p.String())
		default:
			return 0, fmt.Errorf("%w (got %q)", ErrBadMagic, got[:])
		}
		m.checked = true
	}
	if len(m.ahead) > 0 {
		n := copy(b, m.ahead)
		m.ahead = m.ahead[n:]
		return n, nil
	}
	n, err := m.Conn.Read(b)
	if n > 0 {
		m.p.lastActive.Store(time.Now().UnixNano())
		m.p.bytesIn.Add(uint64(n))
	}
	if m.direct {
		m.ex.bytesIn.Add(uint64(n))
	}
	return n, err
}

func (m *magicConn) Write(b []byte) (int, error) {
	n, err := m.Conn.Write(b)
	m.p.bytesOut.Add(uint64(n))
	if m.direct {
		m.ex.bytesOut.Add(uint64(n))
	}
	return n, err
}

// CloseWrite half closes the transport when it can (TCP, a relayed
// stream), for package mux's graceful close; errors.ErrUnsupported when
// it cannot (WebSocket, WebRTC), and mux then closes it at once.
func (m *magicConn) CloseWrite() error {
	if cw, ok := m.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}
