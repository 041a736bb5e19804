package swarm

import (
	"context"
	"net"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
	"golang.org/x/time/rate"
)

// Hole punching (BEP 55, ut_holepunch) in its three roles, for a swarm
// with a uTP socket (UseUTP):
//
//   - initiator: a peer PEX flagged 0x08 that cannot be dialed is asked
//     for (rendezvous) through a connected peer that named it and lists
//     ut_holepunch itself;
//   - relay: a peer that asks for one of ours gets connect messages sent to
//     both sides, naming each the other's address, or an error saying why
//     not;
//   - target (and the initiator, once the relay answers): on connect, uTP
//     is opened to the address named, with a datagram first and a new SYN
//     every PunchRetry for PunchWindow, while the other side does the
//     same; whichever connection gets through first is kept (the two
//     sides agree which by peer id, dedup.go).
//
// Every role is bounded (HolepunchConfig): a relay cannot be made to aim
// connect floods, a peer cannot make this swarm punch at will, and the
// swarm's own rendezvous are paced per target, per relay and overall.

// holepunchID is the extended id pex receives ut_holepunch under.
const holepunchID = 4

// Roles and outcomes of EventHolepunch.
const (
	RoleInitiator = "initiator"
	RoleRelay     = "relay"
	RoleTarget    = "target"

	OutcomeRendezvousSent = "rendezvous-sent" // initiator: asked a relay
	OutcomeConnectSent    = "connect-sent"    // relay: told both sides
	OutcomeConnected      = "connected"       // initiator, target: the punch made a link
	OutcomeFailed         = "failed"          // initiator, target: no link within PunchWindow
	OutcomeNoAnswer       = "no-answer"       // initiator: the relay said nothing within RendezvousTimeout
	// Otherwise the outcome is a BEP 55 error code's name
	// (holepunch.ErrCode.String: "no-such-peer", "not-connected",
	// "no-support", "no-self"), sent (relay) or received (initiator).
)

// SourceHolepunch is the source of a link a hole punch made.
const SourceHolepunch = "holepunch"

// punchState is a hole punch under way with one peer.
type punchState struct {
	role    string
	relay   netip.AddrPort // the relay asked (initiator) or that said connect (target)
	start   time.Time
	asked   bool // initiator: rendezvous sent, connect not yet come
	running bool // uTP dials under way
}

func (s *Swarm) holepunchOnLocked() bool { return s.utp != nil && !s.cfg.Holepunch.Disable }

// undialableLocked is called when a dial of a failed: when PEX flagged it
// as taking hole punches, a rendezvous goes to a connected peer that named
// it and speaks ut_holepunch.
func (s *Swarm) undialableLocked(a netip.AddrPort) {
	h := s.hints[a]
	if !s.holepunchOnLocked() || h == nil || h.flags&pex.FlagHolepunch == 0 {
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
		if r.rdvOut == nil {
			r.rdvOut = rate.NewLimiter(rate.Limit(s.cfg.Holepunch.PerRelayRate), s.cfg.Holepunch.PerRelayBurst)
		}
		if !r.rdvOut.Allow() {
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

// linkAtLocked finds the live link whose remote address is a, or else
// whose listen address is.
func (s *Swarm) linkAtLocked(a netip.AddrPort) *conn {
	var byListen *conn
	for o := range s.conns {
		if !o.live() {
			continue
		}
		if o.addr == a {
			return o
		}
		if o.listen == a && byListen == nil {
			byListen = o
		}
	}
	return byListen
}

// reachAt is the address to name o at in a connect message: the address
// its uTP link comes from (a NAT's mapping of its uTP port), else its
// listen address (the port its TCP link told, at the link's IP), else the
// link's.
func (o *conn) reachAt() netip.AddrPort {
	if o.utp || !o.listen.IsValid() {
		return o.addr
	}
	return o.listen
}

// sendHolepunchLocked sends m to o, in a goroutine of its own: a slow
// peer must hold neither s.mu nor the link that caused the message.
func (s *Swarm) sendHolepunchLocked(o *conn, m holepunch.Msg) {
	payload, err := holepunch.Append(make([]byte, 0, holepunch.MaxSize), m)
	if err != nil || o.hp == 0 {
		return
	}
	frame := wire.AppendExtended(nil, o.hp, payload)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := o.write(frame); err != nil {
			o.nc.Close() // the reader ends the link and says why
		}
	}()
}

// onHolepunch handles one ut_holepunch message from c.
func (c *conn) onHolepunch(payload []byte) error {
	m, err := holepunch.Parse(payload)
	if err != nil {
		// Dropped, not fatal: clients differ in the layout's details
		// (libtorrent leaves err_code out of rendezvous and connect), and
		// a link is worth more than one message. A flood of them is the
		// message limits' (Config.MessageRate).
		c.s.counts.add(func(k *counters) { k.hp.malformed++ })
		c.s.cfg.Logger.Debug("swarm: ut_holepunch message dropped", "peer", c.addr, "err", err)
		return nil
	}
	m.Addr = compact.Unmap(m.Addr)
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.holepunchOnLocked() {
		return nil // we did not offer it
	}
	switch m.Type {
	case holepunch.Rendezvous:
		s.relayLocked(c, m.Addr)
	case holepunch.Connect:
		s.connectLocked(c, m.Addr)
	case holepunch.Error:
		p := s.punches[m.Addr]
		if p == nil || !p.asked || p.relay != c.addr {
			return nil // not an answer to anything we asked
		}
		delete(s.punches, m.Addr)
		s.counts.add(func(k *counters) { bump(&k.hp.outcomes, m.Err.String()) })
		s.emitLocked(Event{Type: EventHolepunch, Role: RoleInitiator, Peer: m.Addr, From: c.addr, Outcome: m.Err.String(), Duration: s.now().Sub(p.start)})
	}
	return nil
}

// relayLocked answers c's rendezvous for target.
func (s *Swarm) relayLocked(c *conn, target netip.AddrPort) {
	hc := s.cfg.Holepunch
	if c.rdvIn == nil {
		c.rdvIn = rate.NewLimiter(rate.Limit(hc.RelayRate), hc.RelayBurst)
	}
	if !c.rdvIn.Allow() {
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

// connectLocked takes c's connect message naming a: the answer to our
// rendezvous, or another peer's, relayed by c, asking us to punch.
func (s *Swarm) connectLocked(c *conn, a netip.AddrPort) {
	hc := s.cfg.Holepunch
	if c.connectsIn == nil {
		c.connectsIn = rate.NewLimiter(rate.Limit(hc.ConnectRate), hc.ConnectBurst)
	}
	if !c.connectsIn.Allow() {
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
	u := s.utpSocket()
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
