package swarm

import (
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// What PEX messages said of a peer beyond its address: the flags they
// gave it and which connected peers named it. A peer that cannot be
// dialed is asked for through one of those (BEP 55, holepunch.go): a peer
// that names another in PEX says it is connected to it.
//
// The flags are other peers' word, which may be wrong (a client that
// sets 0x08 for everyone, or a lie), so a link to the peer settles them:
// the 0x08 (hole punching) of a peer is what its own extended handshake
// said, on the last link that told it, and PEX no longer changes it
// (settleHintLocked). Of the flags, only 0x08 is kept: it is the one read
// later, when a dial fails (undialableLocked). A dial takes the flags of
// the message that named the peer, and uses them only to wait longer for
// uTP before trying TCP (dial.go); every peer is tried over uTP anyway.

// MaxHints bounds the peers whose hints are kept; MaxNamers the peers
// remembered as having named one.
const (
	MaxHints  = 4096
	MaxNamers = 4
)

// peerHint is what PEX said of one peer, corrected by what a link to it
// showed.
type peerHint struct {
	flags  pex.Flags
	shown  pex.Flags        // the flags a link settled: PEX's word on them is ignored
	namers []netip.AddrPort // connected peers that named it, at most MaxNamers
}

// hintLocked records that from named a with flags. Only a peer flagged as
// taking hole punches, in a swarm that punches, is recorded: nothing else
// reads the hints (the flags of a dial go with it), and a PEX message of 50
// peers should not cost 50 records.
func (s *Swarm) hintLocked(a netip.AddrPort, flags pex.Flags, from netip.AddrPort) {
	if flags&pex.FlagHolepunch == 0 && s.hints[a] == nil || !s.holepunchOnLocked() {
		return
	}
	h := s.hints[a]
	if h == nil {
		if len(s.hints) >= MaxHints {
			for k := range s.hints { // forget one at random
				delete(s.hints, k)
				break
			}
		}
		h = &peerHint{}
		s.hints[a] = h
		if o := s.listening[a]; o != nil && o.live() {
			h.settle(o) // linked already: the link knows better
		}
	}
	h.flags |= flags &^ h.shown
	if !from.IsValid() {
		return
	}
	for _, n := range h.namers {
		if n == from {
			return
		}
	}
	if len(h.namers) < MaxNamers {
		h.namers = append(h.namers, from)
	} else {
		copy(h.namers, h.namers[1:]) // the newest namers are likeliest still linked to it
		h.namers[MaxNamers-1] = from
	}
}

// unhintLocked forgets that from names a (its PEX dropped a).
func (s *Swarm) unhintLocked(a, from netip.AddrPort) {
	h := s.hints[a]
	if h == nil {
		return
	}
	for i, n := range h.namers {
		if n == from {
			h.namers = append(h.namers[:i], h.namers[i+1:]...)
			break
		}
	}
	if len(h.namers) == 0 {
		delete(s.hints, a)
	}
}

// settleHintLocked corrects what PEX said of c's peer, if anything, with
// what c showed: called once c's handshakes have told whether it takes
// ut_holepunch.
func (s *Swarm) settleHintLocked(c *conn) {
	if h := s.hints[c.listen]; h != nil && c.listen.IsValid() {
		h.settle(c)
	}
}

// settle sets h's 0x08 to what link c showed, for good: a later PEX
// message flagging the peer otherwise changes nothing, a later link does.
func (h *peerHint) settle(c *conn) {
	h.shown |= pex.FlagHolepunch
	if c.hp != 0 {
		h.flags |= pex.FlagHolepunch
	} else {
		h.flags &^= pex.FlagHolepunch
	}
}
