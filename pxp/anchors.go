package pxp

import (
	"slices"
	"time"
)

// Anchors, as Bitcoin Core's (its anchors.dat, and "Eclipse Attacks on
// Bitcoin's Peer-to-Peer Network", Heilman et al. 2015): a node that
// restarts asks its peers anew, and an attacker who holds its bootstrap or
// floods it with newcomers at that moment chooses them all. A few links
// the node chose itself and that proved themselves, saved and dialed first
// at the next start, give it back honest peers before anyone else speaks.

// Anchors returns the addresses of up to Config.MaxAnchors links fit to be
// this node's anchors, longest-connected first: links this node opened
// (Connect, GetNewPeer), up, whose peer sent something past the handshake
// (a request, an answer, data), and that can be dialed again: over TCP
// to the address dialed, else to the address the peer advertises. An
// application saves them and dials them first at its next start (pex node
// does so with --state).
func (e *Exchange) Anchors() []string {
	if e.cfg.MaxAnchors < 0 {
		return nil
	}
	type anchor struct {
		addr  string
		since time.Time
	}
	var as []anchor
	for _, p := range e.Peers() {
		if !p.outgoing || p.Err() != nil {
			continue
		}
		if !p.carriedTraffic() {
			continue
		}
		if a := p.dialAddr(); a != "" {
			as = append(as, anchor{a, p.since})
		}
	}
	slices.SortFunc(as, func(a, b anchor) int { return a.since.Compare(b.since) })
	var out []string
	for _, a := range as {
		if len(out) == e.cfg.MaxAnchors {
			break
		}
		if !slices.Contains(out, a.addr) {
			out = append(out, a.addr)
		}
	}
	return out
}

// handshakeMessages is what a peer sends in a link's handshake: its hello,
// and the connect or the answer to ours.
const handshakeMessages = 2

// carriedTraffic reports whether the link's handshake is over and its peer
// sent something since: a control message (a request, an answer to one of
// ours) or other bytes (data, relayed sessions) read after the handshake.
func (p *Peer) carriedTraffic() bool {
	at := p.openedIn.Load()
	return at != 0 && (p.msgsIn.Load() > handshakeMessages || p.bytesIn.Load() > at)
}

// dialAddr is the address the link's peer can be dialed at: the address
// this node dialed for a TCP link of its own, else the one the peer
// advertises; "" for none.
func (p *Peer) dialAddr() string {
	if p.via == nil && p.kind == "tcp" {
		return p.RemoteAddr().String()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remote.tcp
}
