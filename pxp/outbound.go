package pxp

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"time"
)

// The links a node opens itself (GetNewPeer) are its defence against an
// eclipse: they are never evicted for newcomers (slots.go), and they are
// spread over the relays that introduce them and over network prefixes,
// so that one relay, or one attacker's /24, cannot choose all of them
// (Config.MaxOutboundPerRelay and MaxOutboundPerPrefix).

// offered is a candidate a relay offered, with its connectInfo parsed.
type offered struct {
	Candidate
	ci  connectInfo
	via *Peer
}

// outboundPending counts the introductions in progress, by the relay
// asked and by the prefix of the candidate's advertised address, so that
// GetNewPeer calls running at once keep to the caps together; guarded by
// Exchange.mu.
type outboundPending struct {
	relay  map[string]int
	prefix map[netip.Prefix]int
}

// relayKey names a relay for MaxOutboundPerRelay: its node id, or, for a
// peer that names none (a JS peer), its address.
func relayKey(p *Peer) string {
	if id := p.ID(); id != "" {
		return "id:" + id
	}
	return "addr:" + p.RemoteAddr().String()
}

// IntroducedBy names the relay that introduced this link to this node
// through GetNewPeer: its node id, or "addr:" and its address for a peer
// that names no id. It is "" for links opened with Connect, accepted, or
// introduced to this node by others.
func (p *Peer) IntroducedBy() string {
	p.ex.mu.Lock()
	defer p.ex.mu.Unlock()
	k := p.slot.introducer
	if len(k) > 3 && k[:3] == "id:" {
		return k[3:]
	}
	return k
}

// relaysLocked picks up to maxRelaysAsked peers to ask for candidates:
// from different prefixes first, at random, none that already introduced
// MaxOutboundPerRelay of this node's links (and, when some did, up to as
// many more under the cap, asked after the first); and, apart, up to
// maxRelaysAsked of those at it, to ask only when no other relay gave a
// link. (Asking the relays
// that introduced fewest first was tried: it asks the newest links, whose
// peers are the node's neighbours' neighbours, and raised pex sim's
// clustering coefficient from 0.19 to 0.26 for no gain in spread that the
// cap does not give.)
//
// Relays held back for their standing (standing.go) are left out, unless
// every relay is.
func (e *Exchange) relaysLocked() (relays, capped []*Peer) {
	now := time.Now()
	relays, capped = e.relaysAmongLocked(func(q *Peer) bool { return e.inStandingLocked(q, now) })
	if len(relays)+len(capped) == 0 {
		relays, capped = e.relaysAmongLocked(func(*Peer) bool { return true })
	}
	return relays, capped
}

// relaysAmongLocked is relaysLocked among the peers accept accepts, past
// their handshakes: a link whose handshake has yet to end may never end it
// (a peer that sends its hello and no more holds it until
// HandshakeTimeout), and asking it would wait as long.
func (e *Exchange) relaysAmongLocked(accept func(*Peer) bool) (relays, capped []*Peer) {
	among := func(q *Peer) bool { return q.established.Load() && accept(q) }
	ok := func(q *Peer) bool { return q.via == nil && among(q) && e.relayRoomLocked(q) }
	relays = e.relayOrderLocked(ok)
	if !e.anyRelayCappedLocked() {
		return relays, nil
	}
	// A relay at its cap is asked only when the relays under it gave
	// nothing; before that, up to maxRelaysAsked more of those are asked
	// than the first draw: four drawn at random can all be peers that know
	// nobody new while others do, and the cap would give way each time
	// (one relay chose 5 of 12 links, cap 4, about once in 100 runs).
	// Asking every one would make a node whose neighbours all know nobody
	// new ask them all in every call. The sample draws from a few prefixes
	// only: with relays left out for their cap, every peer is looked at
	// (more is a reservoir sample of them).
	k := max(0, 2*maxRelaysAsked-len(relays))
	more := make([]*Peer, 0, k)
	seen := 0
	for q := range e.peers {
		if q.via != nil || !q.acceptsIncoming() || !among(q) {
			continue
		}
		if !e.relayRoomLocked(q) {
			capped = append(capped, q)
		} else if !slices.Contains(relays, q) {
			seen++
			if len(more) < k {
				more = append(more, q)
			} else if j := e.rng.IntN(seen); j < k {
				more[j] = q
			}
		}
	}
	if len(capped) == 0 {
		return relays, nil
	}
	e.rng.Shuffle(len(more), func(i, j int) { more[i], more[j] = more[j], more[i] })
	relays = append(relays, more...)
	e.rng.Shuffle(len(capped), func(i, j int) { capped[i], capped[j] = capped[j], capped[i] })
	return relays, capped[:min(len(capped), maxRelaysAsked)]
}

// anyRelayCappedLocked reports whether some relay introduced
// MaxOutboundPerRelay of this node's links (without walking the peers).
func (e *Exchange) anyRelayCappedLocked() bool {
	c := e.cfg.MaxOutboundPerRelay
	if c < 0 {
		return false
	}
	for key := range e.index.introduced {
		if e.introducedLocked(key) >= c {
			return true
		}
	}
	for key := range e.outPending.relay {
		if e.introducedLocked(key) >= c {
			return true
		}
	}
	return false
}

// introducedLocked is how many of this node's live links the relay named
// key introduced, with those it is introducing now.
func (e *Exchange) introducedLocked(key string) int {
	return e.index.introduced[key] + e.outPending.relay[key]
}

func (e *Exchange) relayRoomLocked(q *Peer) bool {
	c := e.cfg.MaxOutboundPerRelay
	return c < 0 || e.introducedLocked(relayKey(q)) < c || q == e.oldestOutLocked()
}

// reserveRelay counts an introduction through via as in progress, when
// via has room for one or over is set; release ends it.
func (e *Exchange) reserveRelay(via *Peer, over bool) (release func(), ok bool) {
	key := relayKey(via)
	e.mu.Lock()
	defer e.mu.Unlock()
	if !over && !e.relayRoomLocked(via) {
		return nil, false
	}
	if e.outPending.relay == nil {
		e.outPending.relay = make(map[string]int)
	}
	e.outPending.relay[key]++
	return func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.outPending.relay[key]--; e.outPending.relay[key] <= 0 {
			delete(e.outPending.relay, key)
		}
	}, true
}

// advertisedPrefix is the prefix a candidate is counted in: that of the
// IP it advertises, or, for one that advertises none (or a name), the
// zero Prefix, where the links whose address this node cannot tell are
// counted (relayed sessions among them).
func (e *Exchange) advertisedPrefix(ci connectInfo) netip.Prefix {
	ap, err := netip.ParseAddrPort(ci.tcp)
	if err != nil {
		return netip.Prefix{}
	}
	return prefixOf(ap.Addr().Unmap(), e.cfg.PrefixBits4, e.cfg.PrefixBits6)
}

// outboundLocked is how many of this node's outgoing links are in prefix,
// with the introductions into it in progress.
func (e *Exchange) outboundLocked(prefix netip.Prefix) int {
	n := e.outPending.prefix[prefix]
	if b := e.index.buckets[prefix]; b != nil {
		n += b.outbound
	}
	return n
}

// spreadByPrefix orders candidates by how many of this node's outgoing
// links their prefix holds (advertisedPrefix), fewest first (stable: a
// relay's order stands among equals), and sets apart those in prefixes
// holding MaxOutboundPerPrefix. Both come from one new array, the
// candidates copied once (an offered is some 150 bytes).
func (e *Exchange) spreadByPrefix(cands []offered) (kept, crowded []offered) {
	var nbuf, ibuf [16]int // a relay's answer, by default: none allocated
	ns, idx := nbuf[:0], ibuf[:0]
	e.mu.Lock()
	for i, o := range cands {
		ns = append(ns, e.outboundLocked(e.advertisedPrefix(o.ci)))
		idx = append(idx, i)
	}
	e.mu.Unlock()
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(ns[a], ns[b]) })
	out := make([]offered, len(cands))
	c, k := e.cfg.MaxOutboundPerPrefix, 0
	for j, i := range idx {
		out[j] = cands[i]
		if c < 0 || ns[i] < c {
			k++ // sorted by ns: those under the cap come first
		}
	}
	return out[:k:k], out[k:]
}

// introduceOffered connects to an offered candidate (introduceTo),
// counting it toward its advertised prefix while it is in progress, and
// records which relay introduced the link.
func (e *Exchange) introduceOffered(ctx context.Context, o offered) (*Conn, error) {
	prefix := e.advertisedPrefix(o.ci)
	e.mu.Lock()
	if e.outPending.prefix == nil {
		e.outPending.prefix = make(map[netip.Prefix]int)
	}
	e.outPending.prefix[prefix]++
	e.mu.Unlock()
	c, err := e.introduceTo(ctx, o.via, o.Candidate, o.ci)
	e.mu.Lock()
	if e.outPending.prefix[prefix]--; e.outPending.prefix[prefix] <= 0 {
		delete(e.outPending.prefix, prefix)
	}
	if err == nil && c.Peer() != nil {
		e.attributeLocked(c.Peer(), relayKey(o.via))
	}
	e.mu.Unlock()
	return c, err
}

// attributeLocked records that the relay named key introduced p, when p
// is still in the peer list.
func (e *Exchange) attributeLocked(p *Peer, key string) {
	if _, ok := e.peers[p]; !ok || p.slot.introducer != "" {
		return
	}
	p.slot.introducer = key
	e.index.introduced[key]++
}

// introduceCrowded tries up to three of the candidates GetNewPeer passed
// over for their crowded prefix, those in the least crowded first,
// through relays still under their cap. It returns nil, nil when it tried
// none.
func (e *Exchange) introduceCrowded(ctx context.Context, crowded []offered) (*Conn, error) {
	crowded, more := e.spreadByPrefix(crowded)
	crowded = append(crowded, more...)
	var err error
	tried := 0
	for _, o := range crowded {
		if tried == maxCandidatesTried || ctx.Err() != nil {
			break
		}
		if o.via.Err() != nil || e.knows(o.ci.id) {
			continue
		}
		release, ok := e.reserveRelay(o.via, false)
		if !ok {
			continue
		}
		tried++
		var c *Conn
		c, err = e.introduceOffered(ctx, o)
		release()
		if err == nil {
			return c, nil
		}
	}
	return nil, err
}
