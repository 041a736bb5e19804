package swarm

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/utp"
)

// How a peer is dialed: over TCP, or over uTP (BEP 29) when the swarm has
// a uTP socket (ServeUTP). As libtorrent does, a peer that PEX flags as
// speaking uTP (0x04, or 0x08, hole punching, which needs uTP) is tried
// over uTP first and TCP after; any other over TCP, and over uTP when its
// TCP port refused the connection (the host is up, but takes no TCP). A
// uTP dial leaves from the socket's port, the one its TCP listener has
// too, so that the peers and relays that see it see an address they can
// name (BEP 55).

// UTPDialTimeout bounds a uTP connection's set-up. It is shorter than a
// TCP dial's: libutp gives up on a SYN unanswered for a few seconds, and a
// peer that does not answer uTP is tried over TCP after.
const UTPDialTimeout = 5 * time.Second

// ServeUTP accepts uTP connections on u, as Serve does on a TCP listener,
// and dials uTP peers and hole punches (BEP 55) from it, until the swarm
// is closed, which closes u. A swarm takes one uTP socket.
func (s *Swarm) ServeUTP(u *utp.Socket) error {
	s.mu.Lock()
	if s.utp != nil && !s.closed {
		s.mu.Unlock()
		return errors.New("swarm: ServeUTP called twice")
	}
	s.utp = u
	s.mu.Unlock()
	return s.Serve(u)
}

// utpSocket returns the swarm's uTP socket, nil when it has none.
func (s *Swarm) utpSocket() *utp.Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.utp
}

// dialAndRun dials a peer taken into the set and runs the connection.
func (s *Swarm) dialAndRun(addr netip.AddrPort, source string, from netip.AddrPort, flags pex.Flags) {
	defer s.wg.Done()
	c, encrypted, err := s.dial(addr, flags)
	s.counts.add(func(c *counters) { bump(&c.dials, dialOutcome(err)) })
	if err != nil {
		s.cfg.Logger.Debug("swarm: dial failed", "peer", addr, "err", err)
		s.mu.Lock()
		s.dialing--
		s.slots--
		delete(s.known, addr)
		s.dialEndedLocked(addr, source, from, false, s.now())
		s.undialableLocked(addr) // BEP 55: ask a peer that has it to introduce us
		s.mu.Unlock()
		var retry time.Duration
		if source == SourceManual {
			retry = s.redial(addr, true)
		}
		s.emit(Event{Type: EventDialFailed, Peer: addr, Source: source, From: from, Err: err, Retry: retry})
		return
	}
	s.runConn(c, addr, source, true, encrypted, nil, from)
}

// dial connects to addr, over uTP or TCP as flags suggest (above).
func (s *Swarm) dial(addr netip.AddrPort, flags pex.Flags) (net.Conn, bool, error) {
	u := s.utpSocket()
	if u == nil {
		return s.dialOver(addr, nil)
	}
	if flags&(pex.FlagUTP|pex.FlagHolepunch) != 0 {
		c, enc, err := s.dialOver(addr, u)
		if err == nil || s.ctx.Err() != nil {
			return c, enc, err
		}
		s.cfg.Logger.Debug("swarm: uTP dial failed, trying TCP", "peer", addr, "err", err)
		return s.dialOver(addr, nil)
	}
	c, enc, err := s.dialOver(addr, nil)
	if err == nil || !refused(err) || s.ctx.Err() != nil {
		return c, enc, err
	}
	s.cfg.Logger.Debug("swarm: TCP refused, trying uTP", "peer", addr, "err", err)
	if c, enc, uerr := s.dialOver(addr, u); uerr == nil {
		return c, enc, nil
	}
	return nil, false, err
}

// refused reports a dial the peer's host answered with a refusal.
func refused(err error) bool { return dialOutcome(err) == "refused" }

// dialOver connects to addr over uTP from u, or over TCP when u is nil:
// with EncryptOutgoing, first with MSE (RC4 preferred) and, when that
// fails, once more in the clear.
func (s *Swarm) dialOver(addr netip.AddrPort, u *utp.Socket) (net.Conn, bool, error) {
	raw := func() (net.Conn, error) {
		if u != nil {
			ctx, cancel := context.WithTimeout(s.ctx, min(UTPDialTimeout, s.cfg.HandshakeTimeout))
			defer cancel()
			return u.DialContext(ctx, addr)
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
		defer cancel()
		return s.cfg.Dialer(ctx, "tcp", addr.String())
	}
	c, err := raw()
	if err != nil || !s.cfg.EncryptOutgoing {
		return c, false, err
	}
	mc, err := s.secure(c)
	if err == nil {
		return mc, true, nil
	}
	s.cfg.Logger.Debug("swarm: MSE failed, dialing in the clear", "peer", addr, "err", err)
	c, err = raw()
	return c, false, err
}

// secure opens Message Stream Encryption on a dialed connection, RC4
// preferred; it closes c when that fails.
func (s *Swarm) secure(c net.Conn) (net.Conn, error) {
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	mc, _, err := mse.Initiate(c, s.ih, mse.CryptoRC4|mse.CryptoPlain, nil, time.Now().Add(s.cfg.HandshakeTimeout))
	stop()
	if err != nil {
		c.Close()
		return nil, err
	}
	return mc, nil
}

// isUTP reports whether nc is a uTP connection (its addresses are UDP's).
func isUTP(nc net.Conn) bool {
	_, ok := nc.LocalAddr().(*net.UDPAddr)
	return ok
}
