package swarm

import (
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// The relay's side of hole punching (BEP 55): answering a rendezvous.

// relayLocked answers c's rendezvous for target.
func (s *Swarm) relayLocked(c *conn, target netip.AddrPort) {
	if !allow(&c.rdvIn, s.cfg.Holepunch.RelayRate, s.cfg.Holepunch.RelayBurst) {
		s.counts.add(func(k *counters) { k.hp.limited++ })
		return
	}
	s.counts.add(func(k *counters) { k.hp.rendezvousReceived++ })
	var code holepunch.ErrCode
	var t *conn
	switch {
	case !pex.Usable(target):
		code = holepunch.NoSuchPeer
	case s.ours(target) || target.Addr() == s.observed && int(target.Port()) == s.publicPortNow():
		code = holepunch.NoSelf
	default:
		t = s.linkAtLocked(target)
		switch {
		case t == nil || t == c:
			code = holepunch.NotConnected
		case t.hp == 0:
			code = holepunch.NoSupport
		case local(c.addr.Addr()) != local(t.addr.Addr()):
			// Never bridge a peer on our LAN (or loopback) and one
			// outside it: neither could reach the address named.
			code = holepunch.NoSuchPeer
		case c.reachAt().Addr().Is4() != t.reachAt().Addr().Is4():
			// One linked over IPv4, the other over IPv6: each would punch
			// towards the other's address in a family its own packets
			// do not leave in, opening nothing the other's packets meet.
			code = holepunch.NoSuchPeer
		}
	}
	if code != 0 {
		s.sendHolepunchLocked(c, holepunch.Msg{Type: holepunch.Error, Addr: target, Err: code})
		s.counts.add(func(k *counters) { bump(&k.hp.outcomes, code.String()) })
		s.emitLocked(Event{Type: EventHolepunch, Role: RoleRelay, Peer: target, From: c.addr, Outcome: code.String()})
		return
	}
	s.sendHolepunchLocked(t, holepunch.Msg{Type: holepunch.Connect, Addr: c.reachAt()})
	s.sendHolepunchLocked(c, holepunch.Msg{Type: holepunch.Connect, Addr: t.reachAt()})
	s.counts.add(func(k *counters) { k.hp.connectsRelayed++ })
	s.emitLocked(Event{Type: EventHolepunch, Role: RoleRelay, Peer: target, From: c.addr, Outcome: OutcomeConnectSent})
}

// local reports an address outside the global internet: loopback, link
// local, private, or carrier-grade NAT's shared space.
func local(a netip.Addr) bool { return scopeOf(a) != scopeGlobal }
