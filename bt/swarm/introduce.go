package swarm

import (
	"github.com/seed0021ed4d/pex/bt/pex"
)

// Simultaneous introductions: how a relay joins two peers behind NATs
// when one of them lacks ut_holepunch, which BEP 55 needs on both sides.
//
// A newcomer dials the peers its first PEX message names, at once. When
// such a peer t cannot be dialed (nobody has reached it: its link came
// in), the dial dies in t's router, unless t dials the newcomer at the
// same moment: then each side's packets leave a mapping in its own
// router that the other's next packets meet, as in a punch. So with a
// newcomer's first message the relay sends each such peer t, out of
// BEP 11's minute-long pace, a PEX message naming the newcomer. Both
// sides then dial each other over uTP from their listen ports within a
// second or so, and their SYNs' retransmissions cross.
//
// Only where BEP 55 cannot serve: one of the two lacks ut_holepunch (both
// having it, the newcomer's failed dial brings a rendezvous), both speak
// uTP (TCP's dials leave from ports nobody can aim at), neither is known
// to take connections (0x10), and both are on the same side of a NAT and
// of one address family, as the relay's own rule (holepunch_relay.go).
//
// Bounded so that no one can turn it into a flood: a link is sent at most
// HolepunchConfig.IntroduceBurst introductions at once and IntroduceRate
// a second after that (defaults 2 and one a minute), which keeps
// libtorrent's (6 ut_pex messages in 60 s) and BiglyBT's (7 AZMP ones in
// 120 s) flood rules unbroken beside the regular message a minute; one
// newcomer's first message brings at most MaxIntroductions of them. An
// introduction names only the newcomer, at the address its own link comes
// from: a newcomer cannot aim a peer's dials at anyone but itself.

// introductionsLocked picks the links to tell of c, whose first PEX
// message names added.
func (s *Swarm) introductionsLocked(c *conn, added []pex.Peer) []*conn {
	h := s.cfg.Holepunch
	if h.NoIntroductions || !s.holepunchOnLocked() || c.reached() || !c.speaksUTP() || !c.live() {
		return nil
	}
	var ts []*conn
	for _, p := range added {
		t := s.listening[p.Addr]
		switch {
		case t == nil || t == c || !t.live() || t.pexNet == "":
		case t.reached() || !t.speaksUTP():
		case c.hp != 0 && t.hp != 0: // BEP 55's
		case local(c.addr.Addr()) != local(t.addr.Addr()):
		case c.reachAt().Addr().Is4() != t.reachAt().Addr().Is4():
		case len(ts) >= h.MaxIntroductions:
			return ts
		case !allow(&t.introsIn, h.IntroduceRate, h.IntroduceBurst):
			s.counts.add(func(k *counters) { k.hp.limited++ })
		default:
			ts = append(ts, t)
		}
	}
	return ts
}

// introduce sends each of ts a PEX message naming c, the newcomer, on
// goroutines of their own (a slow peer holds up neither c's sender nor
// the others).
func (s *Swarm) introduce(c *conn, ts []*conn) {
	if len(ts) == 0 {
		return
	}
	s.mu.Lock()
	newcomer := pex.Peer{Addr: c.reachAt(), Flags: c.pexFlags()}
	for _, t := range ts {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			b := pexBufs.Get().(*pexBuf)
			defer pexBufs.Put(b)
			b.m.Reset()
			b.m.Added = append(b.m.Added, newcomer)
			ok, err := t.sendPEX(b, t.pexNet, WriteTimeout)
			if err != nil {
				t.nc.Close() // the reader ends the link and says why
				return
			}
			if ok {
				s.counts.add(func(k *counters) { k.hp.introductions++ })
				s.emit(Event{Type: EventHolepunch, Role: RoleRelay, Peer: t.addr, From: newcomer.Addr, Outcome: OutcomeIntroduced})
			}
		}()
	}
	s.mu.Unlock()
}
