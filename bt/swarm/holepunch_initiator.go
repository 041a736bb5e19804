package swarm

import (
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// The initiator's side of hole punching (BEP 55): asking a relay for a
// peer that could not be dialed, and giving up on one that is not
// answered.

// undialableLocked is called when a dial of a failed: when PEX flagged it
// as taking hole punches, a rendezvous goes to a connected peer that named
// it and speaks ut_holepunch.
func (s *Swarm) undialableLocked(a netip.AddrPort) {
	h := s.hints[a]
	if !s.holepunchOnLocked() || s.utpForLocked(a) == nil || h == nil || h.flags&pex.FlagHolepunch == 0 {
		return
	}
	now := s.now()
	if s.punches[a] != nil {
		return
	}
	if t, ok := s.asked[a]; ok && now.Sub(t) < s.cfg.Holepunch.RendezvousBackoff {
		return
	}
	s.counts.add(func(c *counters) { c.hp.undialable++ })
	for i := len(h.namers) - 1; i >= 0; i-- { // the newest namer first
		r := s.linkAtLocked(h.namers[i])
		if r == nil || r.hp == 0 {
			continue
		}
		if !allow(&r.rdvOut, s.cfg.Holepunch.PerRelayRate, s.cfg.Holepunch.PerRelayBurst) {
			continue
		}
		if !s.rdvAll.Allow() {
			s.counts.add(func(c *counters) { c.hp.limited++ })
			return
		}
		if len(s.asked) >= MaxHints {
			s.sweepAskedLocked(now)
		}
		s.asked[a] = now
		s.punches[a] = &punchState{role: RoleInitiator, relay: r.addr, start: now, asked: true}
		s.sendHolepunchLocked(r, holepunch.Msg{Type: holepunch.Rendezvous, Addr: a})
		s.counts.add(func(c *counters) { c.hp.rendezvousSent++ })
		s.emitLocked(Event{Type: EventHolepunch, Role: RoleInitiator, Peer: a, From: r.addr, Outcome: OutcomeRendezvousSent})
		s.expireRendezvous(a, r.addr, now)
		return
	}
}

// expireRendezvous gives up on a rendezvous the relay does not answer.
func (s *Swarm) expireRendezvous(a, relay netip.AddrPort, sent time.Time) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.real(s.cfg.Holepunch.RendezvousTimeout))
		defer t.Stop()
		select {
		case <-t.C:
		case <-s.ctx.Done():
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if p := s.punches[a]; p != nil && p.asked && p.start == sent {
			delete(s.punches, a)
			s.counts.add(func(c *counters) { bump(&c.hp.outcomes, OutcomeNoAnswer) })
			s.emitLocked(Event{Type: EventHolepunch, Role: RoleInitiator, Peer: a, From: relay, Outcome: OutcomeNoAnswer, Duration: s.now().Sub(sent)})
		}
	}()
}

func (s *Swarm) sweepAskedLocked(now time.Time) {
	for a, t := range s.asked {
		if now.Sub(t) >= s.cfg.Holepunch.RendezvousBackoff {
			delete(s.asked, a)
		}
	}
	for len(s.asked) >= MaxHints { // all recent: forget one at random
		for a := range s.asked {
			delete(s.asked, a)
			break
		}
	}
}
