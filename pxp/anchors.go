package pxp

import (
	"slices"
	"time"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Anchors, as Bitcoin Core's (its anchors.dat, and "Eclipse Attacks on
// Bitcoin's Peer-to-Peer Network", Heilman et al. 2015): a node that
// restarts asks its peers anew, and an attacker who holds its bootstrap or
// floods it with newcomers at that moment chooses them all. A few links
// the node chose itself and that proved themselves, saved and dialed first
// at the next start, give it back honest peers before anyone else speaks.

// Anchors returns the addresses of up to Config.MaxAnchors links fit to be
// this node's anchors, longest-connected first: links this node opened
// (Connect, GetNewPeer), up, whose peer sent traffic past the handshake
// (a request, an answer, data; not its own bookkeeping: an info, the ends
// of its half of the data stream), and that can be dialed again: over TCP
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

// handshakeMessages is what Peer.msgsIn counts of a link's handshake: the
// answer to this node's connect (or to the peer's, when both sent one).
const handshakeMessages = 1

// isTraffic reports whether a control message the peer sent is traffic
// (a request, an answer) rather than the link's bookkeeping: its hello,
// its connect, an info re-advertising it.
func isTraffic(m wire.Message) bool {
	switch m.Command {
	case wire.CmdHello, wire.CmdConnect, wire.CmdInfo:
		return false
	}
	return true
}

// carriedTraffic reports whether the link's handshake is over and its peer
// sent traffic: a control message past the handshake (a request, which
// relayed sessions and introductions begin with, or an answer to one of
// this node's), or payload on the data stream. What a silent peer sends
// on its own does not count, however late it is read: its hello and info
// messages, and the mux frames that carry no payload (the NEW and END of
// its half of the data stream, which it sends when this node ends its
// own). So neither when the handshake's last bytes are read nor when this
// is asked changes the answer for a link whose peer said nothing.
func (p *Peer) carriedTraffic() bool {
	p.mu.Lock()
	opened, data := p.opened, p.data
	p.mu.Unlock()
	if !opened {
		return false
	}
	return p.msgsIn.Load() > handshakeMessages || (data != nil && data.BytesReceived() > 0)
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
