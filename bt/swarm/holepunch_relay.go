package swarm

import (
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// The relay's side of hole punching (BEP 55): answering a rendezvous.
//
// Every rendezvous the relay takes up is answered: with connect to both
// sides, or with an error saying why not. Answers are bounded per asking
// peer, in two budgets of RelayRate a second and RelayBurst at once each
// (HolepunchConfig):
//
//   - the connect budget: a rendezvous within it is answered as its target
//     warrants, connect to both sides or an error;
//   - the error budget, for rendezvous over the connect budget: such a
//     rendezvous is answered with an error only, never with connect,
//     so that no peer can aim more connect messages at others than the
//     connect budget allows.
//
// Past both, a rendezvous is dropped unanswered (and counted as limited).
// That silence is deliberate: an error is a write to the asker's link, and
// a peer flooding rendezvous would otherwise make the relay write as fast
// as it reads. Errors go back to the asker only, one per rendezvous at
// most, so they amplify nothing; the error budget only keeps the relay's
// writes to a flooding peer bounded. A peer that asks at a sane pace never
// meets the silence.
//
// BEP 55 has no code for "not now". A rendezvous over the connect budget
// whose target would be put through is answered NotConnected: "this relay
// cannot put you through to it", which sends an initiator to another
// relay or a later try, and says nothing false of the target itself (not
// that its address is bad, that it lacks ut_holepunch, or that it is us).
// One whose target would be refused anyway gets that refusal's own code.

// relayLocked answers c's rendezvous for target.
func (s *Swarm) relayLocked(c *conn, target netip.AddrPort) {
	hc := s.cfg.Holepunch
	if !allow(&c.rdvIn, hc.RelayRate, hc.RelayBurst) {
		s.counts.add(func(k *counters) { k.hp.limited++ })
		if !allow(&c.rdvErrs, hc.RelayRate, hc.RelayBurst) {
			return // past both budgets: see above
		}
		_, code := s.rendezvousLocked(c, target)
		if code == 0 {
			code = holepunch.NotConnected // not now (above)
		}
		s.sendHolepunchLocked(c, holepunch.Msg{Type: holepunch.Error, Addr: target, Err: code})
		s.counts.add(func(k *counters) { bump(&k.hp.errorsSent, code.String()) })
		return
	}
	s.counts.add(func(k *counters) { k.hp.rendezvousReceived++ })
	t, code := s.rendezvousLocked(c, target)
	if code != 0 {
		s.sendHolepunchLocked(c, holepunch.Msg{Type: holepunch.Error, Addr: target, Err: code})
		s.counts.add(func(k *counters) { bump(&k.hp.outcomes, code.String()); bump(&k.hp.errorsSent, code.String()) })
		s.emitLocked(Event{Type: EventHolepunch, Role: RoleRelay, Peer: target, From: c.addr, Outcome: code.String()})
		return
	}
	s.sendHolepunchLocked(t, holepunch.Msg{Type: holepunch.Connect, Addr: c.reachAt()})
	s.sendHolepunchLocked(c, holepunch.Msg{Type: holepunch.Connect, Addr: t.reachAt()})
	s.counts.add(func(k *counters) { k.hp.connectsRelayed++ })
	s.emitLocked(Event{Type: EventHolepunch, Role: RoleRelay, Peer: target, From: c.addr, Outcome: OutcomeConnectSent})
}

// rendezvousLocked decides c's rendezvous for target: the link to put c
// through to, or the BEP 55 error code that says why not.
//
// The codes, as BEP 55 defines them and as pex reads the cases it leaves
// open:
//   - NoSuchPeer: the target is no address a peer can have (port 0, an
//     unspecified, multicast or broadcast address), or one the relay must
//     not name to c: across the edge of a LAN, or across address families
//     (below);
//   - NotConnected: no live link at the target's address (a link still in
//     its handshakes is not one);
//   - NoSupport: the target's extended handshake did not list
//     ut_holepunch;
//   - NoSelf: the target is the relay itself (BEP 55's meaning), or the
//     asker itself (libtorrent answers so too: the target is the asker's
//     own address, where no punch can go).
func (s *Swarm) rendezvousLocked(c *conn, target netip.AddrPort) (*conn, holepunch.ErrCode) {
	if !pex.Usable(target) {
		return nil, holepunch.NoSuchPeer
	}
	if s.ours(target) || target.Addr() == s.observed && int(target.Port()) == s.publicPortNow() {
		return nil, holepunch.NoSelf
	}
	t := s.linkAtLocked(target)
	switch {
	case t == c:
		return nil, holepunch.NoSelf
	case t == nil:
		return nil, holepunch.NotConnected
	case t.hp == 0:
		return nil, holepunch.NoSupport
	case local(c.addr.Addr()) != local(t.addr.Addr()):
		// Never bridge a peer on our LAN (or loopback) and one outside
		// it: neither could reach the address named.
		return nil, holepunch.NoSuchPeer
	case c.reachAt().Addr().Is4() != t.reachAt().Addr().Is4():
		// One linked over IPv4, the other over IPv6: each would punch
		// towards the other's address in a family its own packets do not
		// leave in, opening nothing the other's packets meet.
		return nil, holepunch.NoSuchPeer
	}
	return t, 0
}

// local reports an address outside the global internet: loopback, link
// local, private, or carrier-grade NAT's shared space.
func local(a netip.Addr) bool { return scopeOf(a) != scopeGlobal }
