package swarm

// An incoming link's opening: its place in the handshake budget, the
// first bytes that tell BitTorrent, MSE and other protocols apart, and
// the report of one that failed.

import (
	"errors"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/internal/gate"
)

// opening is an incoming link's place in the handshake budget
// (Config.MaxHandshakes), held until its handshakes are done.
type opening struct {
	ticket  *gate.Ticket
	evicted atomic.Bool // closed to make room for a newer handshake
}

// leave gives the place back; a nil opening (an outgoing link) has none.
func (o *opening) leave() {
	if o != nil {
		o.ticket.Leave()
	}
}

// acceptOpening reads the first bytes of an incoming link: a plain
// BitTorrent handshake is left in place to be read again, Message Stream
// Encryption is answered (encrypted), and another protocol is refused
// with ErrNotBitTorrent.
func (s *Swarm) acceptOpening(nc net.Conn) (_ net.Conn, encrypted bool, _ error) {
	timeout := s.cfg.HandshakeTimeout
	deadline := time.Now().Add(timeout)
	nc.SetReadDeadline(deadline)
	var head [len(protocolStart)]byte
	n := 0
	for {
		plain, more, err := sniff(head[:n])
		switch {
		case err != nil:
			return nil, false, err
		case !more && plain:
			nc.SetReadDeadline(time.Time{})
			return &replayConn{Conn: nc, prefix: head[:n]}, false, nil
		case !more && n == len(head):
			mc, enc, err := mse.Accept(&replayConn{Conn: nc, prefix: head[:n]}, s.ih, deadline)
			if err != nil {
				return nil, false, mseErr(err, timeout)
			}
			return mc, enc, nil
		}
		m, err := nc.Read(head[n:])
		n += m
		if err != nil && n < len(head) {
			return nil, false, stageErr(err, "handshake", n, timeout)
		}
	}
}

// refuseUTP is the refusal hook of the swarm's uTP sockets (UseUTP).
// libutp asks it about each SYN that would start a connection, before it
// answers: the opening takes its IP's token here, as a TCP one does in
// Accept, so that an IP over OpeningRate and OpeningBurst (or a new IP
// when maxOpeningLimiters IPs are tracked) gets no answer at all, and no
// connection, goroutine or handshake place is spent on it. A dialer
// repeats an unanswered SYN, and each repeat is refused and counted
// (Stats.OpeningsRefused). The connection the SYN makes reaches accept
// with its token taken. Refusals send no event: the hook runs with
// libutp's lock held, and must take no lock but openMu.
func (s *Swarm) refuseUTP(from netip.AddrPort) bool {
	if s.ctx.Err() != nil {
		return true // closed
	}
	if !s.takeOpening(from.Addr().Unmap()) {
		s.counts.openingsRefused.Add(1)
		return true
	}
	s.counts.openingsAdmitted.Add(1)
	return false
}

// replayConn reads prefix before the rest of Conn.
type replayConn struct {
	net.Conn
	prefix []byte
}

func (r *replayConn) Read(b []byte) (int, error) {
	if len(r.prefix) > 0 {
		n := copy(b, r.prefix)
		r.prefix = r.prefix[n:]
		return n, nil
	}
	return r.Conn.Read(b)
}

// CloseWrite half closes the connection underneath (a swarm turning a
// link away sends its referral, then half closes).
func (r *replayConn) CloseWrite() error {
	if cw, ok := r.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// openingFailed reports an incoming link that ended in its handshakes.
func (s *Swarm) openingFailed(addr netip.AddrPort, op *opening, reason error) {
	if op != nil && op.evicted.Load() {
		reason = errHandshakeEvicted
	}
	s.cfg.Logger.Debug("swarm: incoming handshake failed", "peer", addr, "err", reason)
	if s.refusals.Allow() {
		s.emit(Event{Type: EventDisconnected, Peer: addr, Source: SourceIncoming, Err: reason, Handshaking: true})
	}
}
