package pxp

import (
	mrand "math/rand/v2"
	"net/netip"
)

// peerIndex holds the joined peers grouped by network prefix (a /24 of
// IPv4, a /48 of IPv6 by default), so that samples can be spread across
// prefixes and the most crowded prefix found, without walking every peer.
// It is guarded by Exchange.mu.
type peerIndex struct {
	buckets map[netip.Prefix]*bucket
	list    []*bucket // the same buckets, for drawing at random
	offer   []*bucket // the buckets with a peer that may be offered as a candidate
	byID    map[string]*Peer
	inbound int
	out     map[*Peer]struct{} // the outgoing links (chosen.go)
	ipIn    map[netip.Addr]int // incoming links by remote IP
	// introduced counts the live links each relay introduced (by
	// relayKey; outbound.go)
	introduced map[string]int
	joins      uint64 // links added so far: the next one's slotInfo.seq
}

type bucket struct {
	key      netip.Prefix
	pos      int // in peerIndex.list
	peers    []*Peer
	inbound  int
	outbound int     // its outgoing links
	offer    []*Peer // its peers that take introductions over a direct link: what samples draw from
	offerPos int     // in peerIndex.offer, while offer is not empty
}

// slotInfo is what the index keeps on each peer; guarded by Exchange.mu.
type slotInfo struct {
	ip       netip.Addr
	prefix   netip.Prefix
	pos      int // in its bucket's peers
	offerPos int // in its bucket's offer, or -1
	// seq orders the links by when they joined, lowest first: a count,
	// not a time, which may not advance between two links (the clock's
	// resolution; a test's virtual time)
	seq uint64
	// introducer is the relay that introduced the link (relayKey), set
	// once it joined (outbound.go)
	introducer string
	standing   relayStanding // as a relay this node asks (standing.go)
}

func (ix *peerIndex) init() {
	ix.buckets = make(map[netip.Prefix]*bucket)
	ix.byID = make(map[string]*Peer)
	ix.ipIn = make(map[netip.Addr]int)
	ix.out = make(map[*Peer]struct{})
	ix.introduced = make(map[string]int)
}

func (ix *peerIndex) add(p *Peer, ip netip.Addr, prefix netip.Prefix) {
	b := ix.buckets[prefix]
	if b == nil {
		b = &bucket{key: prefix, pos: len(ix.list)}
		ix.buckets[prefix] = b
		ix.list = append(ix.list, b)
	}
	ix.joins++
	p.slot = slotInfo{ip: ip, prefix: prefix, pos: len(b.peers), offerPos: -1, seq: ix.joins}
	b.peers = append(b.peers, p)
	// Only peers that take introductions, over a link of their own, are
	// drawn for samples: a node refusing them, or a relayed session,
	// never fills a sample's place (many prefixes of such peers could
	// otherwise leave a sample empty though offerable peers exist).
	if p.via == nil && p.remote.accepting {
		p.slot.offerPos = len(b.offer)
		b.offer = append(b.offer, p)
		if len(b.offer) == 1 {
			b.offerPos = len(ix.offer)
			ix.offer = append(ix.offer, b)
		}
	}
	if !p.outgoing {
		b.inbound++
		ix.inbound++
		ix.ipIn[ip]++
	} else {
		b.outbound++
		ix.out[p] = struct{}{}
	}
	if id := p.remote.id; id != "" {
		ix.byID[id] = p
	}
}

func (ix *peerIndex) remove(p *Peer) {
	b := ix.buckets[p.slot.prefix]
	if b == nil || p.slot.pos >= len(b.peers) || b.peers[p.slot.pos] != p {
		return
	}
	last := b.peers[len(b.peers)-1]
	b.peers[p.slot.pos] = last
	last.slot.pos = p.slot.pos
	b.peers[len(b.peers)-1] = nil
	b.peers = b.peers[:len(b.peers)-1]
	if i := p.slot.offerPos; i >= 0 && i < len(b.offer) && b.offer[i] == p {
		lo := b.offer[len(b.offer)-1]
		b.offer[i] = lo
		lo.slot.offerPos = i
		b.offer[len(b.offer)-1] = nil
		b.offer = b.offer[:len(b.offer)-1]
		p.slot.offerPos = -1
		if len(b.offer) == 0 {
			lb := ix.offer[len(ix.offer)-1]
			ix.offer[b.offerPos] = lb
			lb.offerPos = b.offerPos
			ix.offer[len(ix.offer)-1] = nil
			ix.offer = ix.offer[:len(ix.offer)-1]
		}
	}
	if !p.outgoing {
		b.inbound--
		ix.inbound--
		if ix.ipIn[p.slot.ip]--; ix.ipIn[p.slot.ip] <= 0 {
			delete(ix.ipIn, p.slot.ip)
		}
	} else {
		b.outbound--
		delete(ix.out, p)
	}
	if k := p.slot.introducer; k != "" {
		if ix.introduced[k]--; ix.introduced[k] <= 0 {
			delete(ix.introduced, k)
		}
	}
	if id := p.remote.id; id != "" && ix.byID[id] == p {
		delete(ix.byID, id)
	}
	if len(b.peers) == 0 {
		lb := ix.list[len(ix.list)-1]
		ix.list[b.pos] = lb
		lb.pos = b.pos
		ix.list = ix.list[:len(ix.list)-1]
		delete(ix.buckets, b.key)
	}
}

// sample draws up to k distinct peers that ok accepts, spread across
// prefixes: one from each of up to k prefixes chosen at random, then
// another round, and so on. With peers from few prefixes and many from
// one, at least one from every prefix comes first, so a crowd in one /24
// cannot push everyone else out of a sample. It costs O(k) draws when ok
// accepts most peers.
func (ix *peerIndex) sample(rng *mrand.Rand, k int, ok func(*Peer) bool) []*Peer {
	if k <= 0 || len(ix.offer) == 0 {
		return nil
	}
	order := ix.buckets4(rng, k)
	out := make([]*Peer, 0, k)
	taken := make(map[*Peer]bool, k)
	for len(out) < k {
		progress := false
		for _, b := range order {
			if len(out) == k {
				break
			}
			if p := b.pick(rng, ok, taken); p != nil {
				out = append(out, p)
				taken[p] = true
				progress = true
			}
		}
		if !progress {
			break
		}
	}
	return out
}

// buckets4 returns up to k buckets with offerable peers in random order:
// all of them when there are few, else k distinct ones drawn at random.
func (ix *peerIndex) buckets4(rng *mrand.Rand, k int) []*bucket {
	n := len(ix.offer)
	if n <= 2*k {
		order := append([]*bucket(nil), ix.offer...)
		rng.Shuffle(n, func(i, j int) { order[i], order[j] = order[j], order[i] })
		return order
	}
	order := make([]*bucket, 0, k)
	seen := make(map[int]bool, k)
	for len(order) < k {
		i := rng.IntN(n)
		if !seen[i] {
			seen[i] = true
			order = append(order, ix.offer[i])
		}
	}
	return order
}

// pick draws an offerable peer of b that ok accepts and is not taken: a
// few random tries, then a walk from a random start.
func (b *bucket) pick(rng *mrand.Rand, ok func(*Peer) bool, taken map[*Peer]bool) *Peer {
	n := len(b.offer)
	if n == 0 {
		return nil
	}
	for range min(n, 4) {
		if p := b.offer[rng.IntN(n)]; !taken[p] && ok(p) {
			return p
		}
	}
	start := rng.IntN(n)
	for i := range n {
		if p := b.offer[(start+i)%n]; !taken[p] && ok(p) {
			return p
		}
	}
	return nil
}

// crowdedInbound returns the bucket with the most inbound peers.
func (ix *peerIndex) crowdedInbound() *bucket {
	var best *bucket
	for _, b := range ix.list {
		if best == nil || b.inbound > best.inbound {
			best = b
		}
	}
	return best
}

// prefixOf is the prefix a peer at ip is grouped under: ip masked to bits4
// or bits6; the zero Prefix for transports without an IP.
func prefixOf(ip netip.Addr, bits4, bits6 int) netip.Prefix {
	switch {
	case !ip.IsValid():
		return netip.Prefix{}
	case ip.Is4():
		p, _ := ip.Prefix(bits4)
		return p
	default:
		p, _ := ip.Prefix(bits6)
		return p
	}
}
