package sim

import (
	"encoding/binary"
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// What an honest peer knows of the swarm is read off its connections as
// the bytes arrive, not from its engine's events: a swarm drops events
// its channel has no room for, and a simulation that falls behind its
// clock leaves the channels' readers waiting while the engines run (a run
// of 1,000 peers dropped half a million). A pexTap reads the BitTorrent
// stream an honest peer receives on one connection (the handshake, then
// length-prefixed messages) and takes from it the peers named in ut_pex
// messages and, on a connection dialed to it, the listen port of the
// extended handshake. The simulator's peers speak no MSE.

// tapExtPEX is the extended id an honest swarm takes ut_pex under (its
// extended handshake's; bt/swarm's utPexID).
const tapExtPEX = 1

// tapMaxKept bounds a message the tap keeps to read: an extended
// handshake or a ut_pex message, within the swarm's own limits.
const tapMaxKept = pex.DefaultMaxMessageSize + 2

// pexTap is one connection's reader of what an honest peer receives.
type pexTap struct {
	w      *btWorld
	p      *btPeer
	remote netip.Addr // the other end's IP, for an incoming link's listen address
	skip   int        // handshake bytes still to pass
	hdr    [4]byte    // a message's length, as it arrives
	hn     int
	left   int    // bytes of the current message still to come
	keep   bool   // the current message is kept to read
	msg    []byte // what has come of it
	m      pex.Msg
}

func newTap(w *btWorld, p *btPeer, remote netip.Addr) *pexTap {
	return &pexTap{w: w, p: p, remote: remote, skip: wire.HandshakeLen}
}

// feed reads b, the next bytes the peer received.
func (t *pexTap) feed(b []byte) {
	for len(b) > 0 {
		switch {
		case t.skip > 0:
			n := min(t.skip, len(b))
			t.skip -= n
			b = b[n:]
		case t.left == 0:
			n := copy(t.hdr[t.hn:], b)
			t.hn += n
			b = b[n:]
			if t.hn == 4 {
				t.hn = 0
				t.left = int(binary.BigEndian.Uint32(t.hdr[:]))
				t.keep, t.msg = t.left >= 2 && t.left <= tapMaxKept, t.msg[:0]
			}
		default:
			n := min(t.left, len(b))
			if t.keep {
				t.msg = append(t.msg, b[:n]...)
				if len(t.msg) >= 2 && (t.msg[0] != wire.MsgExtended || t.msg[1] != 0 && t.msg[1] != tapExtPEX) {
					t.keep, t.msg = false, t.msg[:0] // not one the tap reads
				}
			}
			t.left -= n
			b = b[n:]
			if t.left == 0 && t.keep {
				t.read(t.msg)
			}
		}
	}
}

// read takes what an extended message tells: the peers a ut_pex message
// names, or the listen address an extended handshake gives.
func (t *pexTap) read(msg []byte) {
	w, know := t.w, t.p.know
	switch msg[1] {
	case 0:
		if h, err := wire.ParseExtHandshake(msg[2:]); err == nil && h.Port > 0 && h.Port < 65536 {
			if j, ok := w.byAdr[netip.AddrPortFrom(t.remote, uint16(h.Port))]; ok {
				know.add(j)
			}
		}
	case tapExtPEX:
		if pex.Decode(msg[2:], &t.m) == nil {
			for _, a := range t.m.Added {
				if j, ok := w.byAdr[a.Addr]; ok {
					know.add(j)
				}
			}
		}
	}
	if cap(t.msg) > 4096 {
		t.msg = nil // a large message's buffer is not kept for the next
	}
}
