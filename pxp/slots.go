package pxp

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/seed0021ed4d/pex/internal/gate"
)

// register adds p to the peer list after a valid hello, enforcing self
// links, duplicates and the slots of MaxPeers. An incoming link may take
// the slot of an idle incoming link from a more crowded prefix, and an
// outgoing one that of any incoming link; that link is closed.
func (e *Exchange) register(p *Peer) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return ErrClosed
	}
	if id := p.remote.id; id != "" {
		if id == e.id {
			e.mu.Unlock()
			return ErrSelf
		}
		if e.index.byID[id] != nil {
			e.mu.Unlock()
			return fmt.Errorf("%w: id %s", ErrDuplicatePeer, id)
		}
	}
	ip := gate.IP(p.conn)
	prefix := prefixOf(ip, e.cfg.PrefixBits4, e.cfg.PrefixBits6)
	var victim *Peer
	switch {
	case !p.outgoing && e.overInboundCapsLocked(ip, prefix):
		e.mu.Unlock()
		return ErrPeerFull
	case p.outgoing && len(e.peers) >= e.cfg.MaxPeers:
		// The links a node opens outrank those others opened to it: one
		// takes the slot of an incoming link, the most idle of the
		// prefix holding the most.
		b := e.index.crowdedInbound()
		if b == nil || b.inbound == 0 {
			e.mu.Unlock()
			return ErrTooManyPeers
		}
		victim = mostIdle(b, false, 0)
		delete(e.peers, victim)
		e.index.remove(victim)
	case !p.outgoing && (len(e.peers) >= e.cfg.MaxPeers || e.index.inbound >= e.inboundSlots()):
		if victim = e.victimLocked(prefix); victim == nil {
			e.mu.Unlock()
			return ErrPeerFull
		}
		delete(e.peers, victim)
		e.index.remove(victim)
	}
	e.peers[p] = struct{}{}
	e.index.add(p, ip, prefix)
	e.mu.Unlock()
	if victim != nil {
		victim.closeWith(ErrEvicted)
	}
	return nil
}

// overInboundCapsLocked reports whether a newcomer from ip in prefix would
// pass MaxInboundPerIP or MaxInboundPerPrefix.
func (e *Exchange) overInboundCapsLocked(ip netip.Addr, prefix netip.Prefix) bool {
	if c := e.cfg.MaxInboundPerIP; c > 0 && e.index.ipIn[ip] >= c {
		return true
	}
	if c := e.cfg.MaxInboundPerPrefix; c > 0 {
		if b := e.index.buckets[prefix]; b != nil && b.inbound >= c {
			return true
		}
	}
	return false
}

// inboundSlots is how many incoming links may be joined at once.
func (e *Exchange) inboundSlots() int {
	return max(e.cfg.MaxPeers-max(e.cfg.ReservedOutbound, 0), 0)
}

// victimLocked picks the incoming link a newcomer from prefix may replace:
// the most idle one of the prefix with the most incoming links, sparing
// its two longest-connected, when that prefix holds at least two more
// incoming links than the newcomer's. Failing that (the newcomer's prefix
// is about as crowded as any), the most idle of its own prefix's incoming
// links, its two longest-connected spared, when that link has sent
// nothing for EvictIdle: a crowd of idle links cannot lock the rest of
// its prefix out, and it cannot evict a link that talks. Nil when there is
// none.
func (e *Exchange) victimLocked(prefix netip.Prefix) *Peer {
	b := e.index.crowdedInbound()
	mine := e.index.buckets[prefix]
	n := 0
	if mine != nil {
		n = mine.inbound
	}
	if b != nil && b.inbound >= n+2 {
		return mostIdle(b, false, 0)
	}
	if mine == nil || e.cfg.EvictIdle < 0 {
		return nil
	}
	return mostIdle(mine, true, time.Now().Add(-e.cfg.EvictIdle).UnixNano())
}

// mostIdle returns the incoming link of b that has been silent longest,
// sparing its two longest-connected (always when spare is set, else only
// when it holds more than two), and, when idleSince is not zero, only a
// link silent since then. Nil when there is none.
func mostIdle(b *bucket, spare bool, idleSince int64) *Peer {
	var in []*Peer
	for _, q := range b.peers {
		if !q.outgoing {
			in = append(in, q)
		}
	}
	slices.SortFunc(in, func(x, y *Peer) int { return cmp.Compare(x.slot.seq, y.slot.seq) })
	switch {
	case len(in) > 2:
		in = in[2:] // the two longest-connected are spared
	case spare:
		return nil
	}
	var victim *Peer
	for _, q := range in {
		last := q.lastActive.Load()
		if idleSince != 0 && last > idleSince {
			continue
		}
		if victim == nil || last < victim.lastActive.Load() {
			victim = q
		}
	}
	return victim
}

// knows reports whether id is this node or one of its peers.
func (e *Exchange) knows(id string) bool {
	if id == "" {
		return false
	}
	if id == e.id {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.index.byID[id] != nil
}
