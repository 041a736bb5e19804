package pxp

import (
	mrand "math/rand/v2"
	"net/netip"
	"slices"
)

// Links this node chose itself come before the ones others opened to it.
// Anyone can make a node take an incoming link by dialing it, as many
// times as it has free incoming slots, so a crowd with many addresses can
// hold most of a node's incoming links however the slots are shared: no
// rule that cannot tell its members from honest peers keeps them out.
// What such a crowd cannot do is choose whom the node asks for new peers,
// nor be handed out in place of the peers the node chose. So, unless
// Config.InboundRelays or InboundCandidates says otherwise:
//
//   - GetNewPeer asks the links this node opened (Connect, GetNewPeer)
//     for candidates, the one it has held longest first (its bootstrap
//     or anchor, in practice: a link made before anyone could crowd the
//     node), then others at random, and incoming links only after those
//     brought no new link;
//   - a getpeers answer lists the links this node opened first, then
//     incoming ones.
//
// The pex sim's attack figures (docs/scale.md) are what this is for.

// relayOrderLocked returns up to maxRelaysAsked peers to ask for
// candidates, among those ok accepts: the longest-held outgoing link
// first, then other outgoing ones at random and one per prefix first,
// then incoming ones likewise. With Config.InboundRelays every peer is
// drawn alike, as peerIndex.sample draws.
func (e *Exchange) relayOrderLocked(ok func(*Peer) bool) []*Peer {
	if e.cfg.InboundRelays {
		return e.index.sample(e.rng, maxRelaysAsked, ok)
	}
	var out []*Peer
	var oldest *Peer
	for q := range e.index.out {
		switch {
		case q.slot.offerPos < 0 || !ok(q): // as peerIndex.sample, those that take introductions
		case oldest == nil || q.slot.seq < oldest.slot.seq:
			if oldest != nil {
				out = append(out, oldest)
			}
			oldest = q
		default:
			out = append(out, q)
		}
	}
	var relays []*Peer
	if oldest != nil {
		relays = append(relays, oldest)
	}
	relays = append(relays, spreadByPrefixRound(e.rng, out, maxRelaysAsked-len(relays))...)
	if len(relays) == maxRelaysAsked {
		return relays
	}
	return append(relays, e.index.sample(e.rng, maxRelaysAsked-len(relays), func(q *Peer) bool { return !q.outgoing && ok(q) })...)
}

// spreadByPrefixRound shuffles peers and orders them one per prefix
// first, then a second round, and so on, keeping the first k.
func spreadByPrefixRound(rng *mrand.Rand, peers []*Peer, k int) []*Peer {
	if k <= 0 || len(peers) == 0 {
		return nil
	}
	rng.Shuffle(len(peers), func(i, j int) { peers[i], peers[j] = peers[j], peers[i] })
	round := make(map[netip.Prefix]int, len(peers))
	rank := make([]int, len(peers))
	for i, q := range peers {
		rank[i] = round[q.slot.prefix]
		round[q.slot.prefix]++
	}
	idx := make([]int, len(peers))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return rank[a] - rank[b] })
	out := make([]*Peer, 0, min(k, len(peers)))
	for _, i := range idx[:min(k, len(idx))] {
		out = append(out, peers[i])
	}
	return out
}

// candidatesFor picks up to MaxCandidates peers to offer to asker: this
// node's outgoing links first (unless Config.InboundCandidates), then
// the others, each at random and spread across prefixes, leaving out
// relayed sessions (no chains of relays), links still in their handshake
// and peers that failed the last introduction relayed to them.
func (e *Exchange) candidatesFor(asker *Peer) []*Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	ok := func(q *Peer) bool {
		return q != asker && q.via == nil && q.established.Load() && !q.unresponsive.Load() && q.acceptsIncoming() && (q.remote.id == "" || q.remote.id != asker.remote.id)
	}
	k := e.cfg.MaxCandidates
	if e.cfg.InboundCandidates || len(e.index.out) == 0 {
		return e.index.sample(e.rng, k, ok)
	}
	var out []*Peer
	for q := range e.index.out {
		if q.slot.offerPos >= 0 && ok(q) {
			out = append(out, q)
		}
	}
	out = spreadByPrefixRound(e.rng, out, k)
	if len(out) == k {
		return out
	}
	taken := make(map[*Peer]bool, len(out))
	for _, q := range out {
		taken[q] = true
	}
	return append(out, e.index.sample(e.rng, k-len(out), func(q *Peer) bool { return !taken[q] && !q.outgoing && ok(q) })...)
}

// oldestOutLocked is the outgoing link this node has held longest, nil
// when it has none.
func (e *Exchange) oldestOutLocked() *Peer {
	var oldest *Peer
	for q := range e.index.out {
		if oldest == nil || q.slot.seq < oldest.slot.seq {
			oldest = q
		}
	}
	return oldest
}
