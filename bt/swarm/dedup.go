package swarm

import (
	"bytes"
	"errors"
	"time"
)

// Two links to one peer: a hole punch makes them on purpose (both sides
// dial at once, BEP 55), and a peer may also reach us over TCP while we
// reach it over uTP. One must go, and both sides must pick the same one,
// or each closes the link the other kept.
//
//   - A link past its handshakes for longer than crossingWindow stays, and
//     the newcomer goes: the peer dialed again though linked (aria2 does,
//     to a peer PEX named at its listen address while linked to it from
//     another port), and every client keeps its old link then. Closing
//     the old one instead, as the rule below would half the time, loses
//     both: aria2 drops its new dial on seeing our peer id again (seen in
//     lab/interop TestCrawlCoverage: the swarms that dialed aria2 lost it).
//   - Two young links are crossing dials: the link kept is the one the
//     peer with the greater peer id dialed, a rule both pex peers compute
//     alike from the two ids, behind any NAT.
//   - Of two links in the same direction, the older stays.
//
// Only links from one IP are doubles: a peer with two addresses (a
// multihomed host, whose dials leave from another address than it listens
// on, as libtorrent's may) keeps a link on each, since PEX names it at the
// address of each.

// crossingWindow is how long after a link's handshakes a second link to
// the same peer counts as its crossing dial rather than a dial again. Two
// dials that cross (a hole punch, two peers told of each other at once)
// end their handshakes within a few round trips of each other.
const crossingWindow = 5 * time.Second

// errDuplicate ends the second link to a peer.
var errDuplicate = errors.New("a second link to the same peer (peer id): the other is kept")

// dedupe records c's peer id, from its BitTorrent handshake, and decides
// between c and another link to the same peer: it returns errDuplicate
// when c must go, and closes the other when c stays.
func (s *Swarm) dedupe(c *conn, id [20]byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c.peerID, c.hasID = id, true
	s.replaceStaleLocked(c)
	weWin := bytes.Compare(s.cfg.PeerID[:], id[:]) > 0 // our dial is the one kept
	for o := range s.conns {
		if o == c || !o.hasID || o.peerID != id || o.evicted || o.dup.Load() || o.addr.Addr() != c.addr.Addr() {
			continue
		}
		settled := o.ready && s.real(s.now().Sub(o.readyAt)) > crossingWindow
		if settled || c.outgoing == o.outgoing || o.outgoing == weWin {
			o.punched = o.punched || c.punched
			return errDuplicate
		}
		c.punched = c.punched || o.punched
		o.dup.Store(true)
		o.nc.Close() // its reader ends it, as a duplicate
	}
	return nil
}

// errReplaced ends a uTP link its peer gave up on: the peer came back
// from the same address and port with a new one.
var errReplaced = errors.New("replaced by the peer's new uTP link from the same address and port: it had given up on this one")

// replaceStaleLocked closes the incoming uTP links that come from c's
// very address and port, c being one too. uTP connections from one UDP
// port are one client's (a client's uTP leaves from its listen socket),
// and a client opens a second link to a peer it is linked to only when it
// has given up on the first: libtorrent drops a link that is of no use to
// it (a seed's peer that requests nothing, after a minute) with a FIN
// that libutp does not take, so without this the old link would stay
// "connected" here until the keep-alive found it dead, and a BEP 55 relay
// could name the peer on it. Peer ids cannot tell: libtorrent 2.0 sends
// another on every connection. Crossing dials are in opposite directions,
// and dedupe's business.
func (s *Swarm) replaceStaleLocked(c *conn) {
	if c.outgoing || !c.utp {
		return
	}
	for o := range s.conns {
		if o == c || o.outgoing || !o.utp || o.addr != c.addr || o.evicted || o.dup.Load() {
			continue
		}
		o.replaced.Store(true)
		o.nc.Close() // its reader ends it, and says why
	}
}
