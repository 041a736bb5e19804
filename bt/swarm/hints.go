package swarm

import (
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// What PEX messages said of a peer beyond its address: the flags they
// gave it (uTP, hole punching: hints, verified when a connection is made)
// and which connected peers named it. A peer that cannot be dialed is
// asked for through one of those (BEP 55, holepunch.go): a peer that
// names another in PEX says it is connected to it.

// MaxHints bounds the peers whose hints are kept; MaxNamers the peers
// remembered as having named one.
const (
	MaxHints  = 4096
	MaxNamers = 4
)

// peerHint is what PEX said of one peer.
type peerHint struct {
	flags  pex.Flags
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
	}
	h.flags |= flags
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
