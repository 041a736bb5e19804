package swarm

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// The punch itself (BEP 55), on a connect message: the target's side,
// and the initiator's once its relay answered.

// connectLocked takes c's connect message naming a: the answer to our
// rendezvous, or another peer's, relayed by c, asking us to punch.
func (s *Swarm) connectLocked(c *conn, a netip.AddrPort) {
	hc := s.cfg.Holepunch
	if !allow(&c.connectsIn, hc.ConnectRate, hc.ConnectBurst) {
		s.counts.add(func(k *counters) { k.hp.limited++ })
		return
	}
	s.counts.add(func(k *counters) { k.hp.connectsReceived++ })
	role := RoleTarget
	p := s.punches[a]
	if p == nil {
		// The relay names the target where it sees the target's link come
		// from, which a NAT may have moved off the port we asked for: the
		// answer to our rendezvous is the connect from that relay naming
		// that IP.
		for t, q := range s.punches {
			if q.asked && q.relay == c.addr && t.Addr() == a.Addr() {
				delete(s.punches, t)
				p = q
				break
			}
		}
	}
	if p != nil && p.asked && p.relay == c.addr {
		role = RoleInitiator
	} else if p != nil {
		return // already punching it
	}
	now := s.now()
	switch {
	case !pex.Usable(a) || s.ours(a) || scopeOf(a.Addr()) > scopeOf(c.addr.Addr()):
		// Not an address c can name to us (as for PEX, dialpolicy.go).
	case s.utpForLocked(a) == nil:
		// No uTP socket of a's address family to punch from.
	case s.linkAtLocked(a) != nil || s.known[a] != "":
		// Linked to it already, or dialing it.
	case s.running >= hc.MaxPunches || s.slots >= s.cfg.MaxPeers:
		s.counts.add(func(k *counters) { k.hp.limited++ })
	case !s.mayPunchLocked(a, now):
		s.counts.add(func(k *counters) { k.hp.limited++ })
	default:
		s.dialingLocked(a, SourceHolepunch, c.addr, now)
		s.known[a] = SourceHolepunch
		s.dialing++
		s.slots++
		s.running++
		start := now
		if p != nil {
			start = p.start
		}
		s.punches[a] = &punchState{role: role, relay: c.addr, start: start, running: true}
		s.notePunchLocked(a, now)
		s.wg.Add(1)
		go s.punch(a, c.addr, role)
		return
	}
	if p != nil { // our own rendezvous, answered with a connect we cannot take
		delete(s.punches, a)
	}
}

// notePunchLocked remembers that a punch to a began at now: a link that
// comes in from a soon after followed it.
func (s *Swarm) notePunchLocked(a netip.AddrPort, now time.Time) {
	if len(s.punchedAt) >= 4*s.cfg.Holepunch.MaxPunches {
		for k, t := range s.punchedAt {
			if now.Sub(t) >= s.cfg.Holepunch.PunchWindow+s.cfg.HandshakeTimeout {
				delete(s.punchedAt, k)
			}
		}
	}
	if len(s.punchedAt) < 4*s.cfg.Holepunch.MaxPunches {
		s.punchedAt[a] = now
	}
}

// mayPunchLocked applies the dial policy's per-IP window to a punch: a
// stream of connect messages cannot aim this swarm's uTP at one host.
func (s *Swarm) mayPunchLocked(a netip.AddrPort, now time.Time) bool {
	w := s.dials.perIP[a.Addr()]
	return w == nil || now.Sub(w.start) >= s.cfg.DialBackoff || w.count < s.cfg.MaxDialsPerIP
}

// punch opens uTP to a, which via's connect message named, and runs the
// link it makes.
func (s *Swarm) punch(a, via netip.AddrPort, role string) {
	defer s.wg.Done()
	hc := s.cfg.Holepunch
	u := s.utpFor(a)
	end := time.Now().Add(hc.PunchWindow)
	var nc net.Conn
	var err error
	for {
		u.Punch(a) // opens our router for the peer's SYN, should ours be lost
		ctx, cancel := context.WithTimeout(s.ctx, hc.PunchRetry)
		nc, err = u.DialContext(ctx, a)
		cancel()
		if err == nil || s.ctx.Err() != nil || !time.Now().Before(end) || s.linkedTo(a) {
			break
		}
	}
	if err == nil && s.cfg.EncryptOutgoing {
		nc, err = s.secure(nc)
	}
	s.mu.Lock()
	p := s.punches[a]
	delete(s.punches, a)
	s.running--
	var took time.Duration
	if p != nil {
		took = s.now().Sub(p.start)
	}
	if err != nil {
		s.dialing--
		s.slots--
		delete(s.known, a)
		s.dialEndedLocked(a, SourceHolepunch, via, false, s.now())
		outcome := OutcomeFailed
		if s.linkAtLocked(a) != nil {
			outcome = OutcomeConnected // the peer's SYN got through first
			s.counts.add(func(k *counters) { k.hp.reached++ })
		}
		s.counts.add(func(k *counters) { bump(&k.hp.outcomes, outcome) })
		s.emitLocked(Event{Type: EventHolepunch, Role: role, Peer: a, From: via, Outcome: outcome, Duration: took, Err: errIf(outcome == OutcomeFailed, err)})
		s.mu.Unlock()
		return
	}
	s.counts.add(func(k *counters) { k.hp.reached++; bump(&k.hp.outcomes, OutcomeConnected) })
	s.emitLocked(Event{Type: EventHolepunch, Role: role, Peer: a, From: via, Outcome: OutcomeConnected, Duration: took})
	s.mu.Unlock()
	s.runConn(nc, a, SourceHolepunch, true, s.cfg.EncryptOutgoing, nil, via)
}

func errIf(cond bool, err error) error {
	if cond {
		return err
	}
	return nil
}

// linkedTo reports a live link to a.
func (s *Swarm) linkedTo(a netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.linkAtLocked(a) != nil
}
