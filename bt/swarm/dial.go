package swarm

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/utp"
)

// How a peer is dialed: over TCP, or over uTP (BEP 29) when the swarm has
// a uTP socket (UseUTP). As libtorrent does, every peer is tried over
// uTP first and over TCP when that fails; a peer that PEX flags as
// speaking uTP (0x04, or 0x08, hole punching, which needs uTP) is given
// longer. A uTP dial leaves from the socket's port, the one its TCP
// listener has too, so that the peers and relays that see the link see an
// address they can name (BEP 55): libtorrent, as a relay, finds a peer
// only by the address its link comes from, and a TCP link comes from a
// port nobody can punch to.

// UTPDialTimeout bounds a uTP connection's set-up to a peer flagged as
// speaking uTP, UTPProbeTimeout to any other (a host that takes no uTP
// answers nothing: no ICMP reaches a uTP socket). Both are shorter than a
// TCP dial's; a peer that does not answer is tried over TCP after.
const (
	UTPDialTimeout  = 5 * time.Second
	UTPProbeTimeout = 3 * time.Second
)

// UseUTP gives the swarm a uTP socket: from its return on, peers of its
// address family are dialed over uTP first and hole punches (BEP 55) to
// them go through u, and a goroutine accepts u's connections, as Serve
// does a TCP listener's, until the swarm is closed, which closes u. u's
// refusal hook (utp.Socket.SetRefuse) becomes the swarm's opening gate
// (refuseUTP): an opening over its IP's OpeningRate and OpeningBurst is
// dropped at its SYN, before libutp makes a connection of it; the
// connections that libutp took before UseUTP pass without a token. A
// swarm takes one socket of each family, IPv4 and IPv6 (a socket bound to
// an IPv6 address, the unspecified one included, is taken as IPv6's: bind
// it with network "udp6", which leaves IPv4 to a socket of its own); give
// them before adding peers, so that their dials can use them.
func (s *Swarm) UseUTP(u *utp.Socket) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	slot := &s.utp4
	if a := u.AddrPort().Addr(); a.Is6() && !a.Is4In6() {
		slot = &s.utp6
	}
	switch {
	case s.closed:
		u.Close()
		return errors.New("swarm: closed")
	case *slot != nil:
		return fmt.Errorf("swarm: UseUTP called twice for one address family (%s, then %s)", (*slot).AddrPort(), u.AddrPort())
	}
	*slot = u
	u.SetRefuse(s.refuseUTP)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.serve(u, func(c net.Conn) { s.accept(c, true) })
	}()
	return nil
}

// utpFor returns the swarm's uTP socket for a's address family, nil when
// it has none.
func (s *Swarm) utpFor(a netip.AddrPort) *utp.Socket {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.utpForLocked(a)
}

func (s *Swarm) utpForLocked(a netip.AddrPort) *utp.Socket {
	if ip := a.Addr(); ip.Is6() && !ip.Is4In6() {
		return s.utp6
	}
	return s.utp4
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
	u := s.utpFor(addr)
	if u == nil {
		return s.dialOver(addr, nil, 0)
	}
	wait := UTPProbeTimeout
	if flags&(pex.FlagUTP|pex.FlagHolepunch) != 0 {
		wait = UTPDialTimeout
	}
	c, enc, err := s.dialOver(addr, u, wait)
	if err == nil || s.ctx.Err() != nil {
		return c, enc, err
	}
	s.cfg.Logger.Debug("swarm: uTP dial failed, trying TCP", "peer", addr, "err", err)
	return s.dialOver(addr, nil, 0)
}

// dialOver connects to addr over uTP from u within wait, or over TCP when
// u is nil: with EncryptOutgoing, first with MSE (RC4 preferred) and, when
// that fails, once more in the clear.
func (s *Swarm) dialOver(addr netip.AddrPort, u *utp.Socket, wait time.Duration) (net.Conn, bool, error) {
	raw := func() (net.Conn, error) {
		if u != nil {
			ctx, cancel := context.WithTimeout(s.ctx, min(wait, s.cfg.HandshakeTimeout))
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
