package swarm

import (
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// peerSet is what the swarm knows of its peers. It is embedded in Swarm
// and guarded by Swarm.mu.
type peerSet struct {
	conns     map[*conn]struct{}
	known     map[netip.AddrPort]string          // dials in flight and outgoing connections -> source
	listening map[netip.AddrPort]*conn           // connections by listen address, where known
	self      map[netip.AddrPort]bool            // our own listen addresses as peers see them
	claims    map[netip.Addr]map[netip.Addr]bool // yourip claims not yet agreed: address -> claimants
	observed  netip.Addr                         // the address peers agree they see us at (nat.go)
	backoff   map[netip.AddrPort]time.Duration   // manual peers whose dials failed: the last wait
	dialing   int                                // dials in flight
	dials     dialPolicy                         // what may be dialed, and when
	slots     int                                // of MaxPeers: dials in flight, outgoing links, incoming links past their handshakes
	log       pexLog                             // the listen addresses PEX tells, in order of change
	hints     map[netip.AddrPort]*peerHint       // what PEX said of peers (hints.go)
	punches   map[netip.AddrPort]*punchState     // hole punches under way (holepunch.go)
	asked     map[netip.AddrPort]time.Time       // rendezvous sent, by target
	punchedAt map[netip.AddrPort]time.Time       // punches begun lately, by peer
	running   int                                // punches dialing
}

func (ps *peerSet) init() {
	ps.conns = map[*conn]struct{}{}
	ps.known = map[netip.AddrPort]string{}
	ps.listening = map[netip.AddrPort]*conn{}
	ps.self = map[netip.AddrPort]bool{}
	ps.claims = map[netip.Addr]map[netip.Addr]bool{}
	ps.backoff = map[netip.AddrPort]time.Duration{}
	ps.log.init()
	ps.dials.init()
	ps.hints = map[netip.AddrPort]*peerHint{}
	ps.punches = map[netip.AddrPort]*punchState{}
	ps.asked = map[netip.AddrPort]time.Time{}
	ps.punchedAt = map[netip.AddrPort]time.Time{}
}

// syncPEXLocked brings the PEX log in line with whether the listen
// address a is told: it is while a connection past its handshakes is
// known to listen there.
func (s *Swarm) syncPEXLocked(a netip.AddrPort) {
	if !a.IsValid() {
		return
	}
	c := s.listening[a]
	switch told := s.log.has(a); {
	case c != nil && c.live() && !told:
		s.log.add(a, c.pexFlags())
	case (c == nil || !c.live()) && told:
		s.log.drop(a, s.minCursorLocked)
	}
}

// pexFlags are the flags PEX gives the peer of link c: honest ones,
// from what the link has shown, never from what others said of the peer.
func (c *conn) pexFlags() pex.Flags {
	var f pex.Flags
	if c.reached() {
		f |= pex.FlagReachable // we dialed it, and no punch was needed
	}
	if c.encryption {
		f |= pex.FlagEncryption
	}
	if c.speaksUTP() {
		f |= pex.FlagUTP // its link runs over uTP
	}
	if c.hp != 0 {
		f |= pex.FlagHolepunch // its extended handshake listed ut_holepunch
	}
	return f
}

// reached reports a peer known to take connections: we dialed it, and
// no punch was needed.
func (c *conn) reached() bool { return c.outgoing && !c.punched }

// speaksUTP reports a peer known to speak uTP: its link runs over uTP,
// whichever side opened it. Listing ut_holepunch is no proof: libtorrent
// lists it with uTP turned off, and a peer that took no uTP would be
// dialed over uTP in vain by everyone we told (0x04), and chosen for
// introductions (introduce.go) it cannot take.
func (c *conn) speaksUTP() bool { return c.utp }

// minCursorLocked is the least PEX log cursor of the connections that
// have read the log (those that have not skip every drop anyway).
func (s *Swarm) minCursorLocked() uint64 {
	m := s.log.next
	for c := range s.conns {
		if c.cursor.reading {
			m = min(m, c.cursor.next)
		}
	}
	return m
}

// AddPeer dials addr unless it is unusable, known already (connected,
// being dialed, or our own), or the swarm is full.
func (s *Swarm) AddPeer(addr netip.AddrPort, source string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.takeLocked(compact.Unmap(addr), source, netip.AddrPort{})
}

// learnLocked takes the peers that from named in a PEX message over net:
// each that is new is recorded, reported as discovered and dialed, all
// under one hold of s.mu (the caller's), so that no peer is reported that
// is then refused.
func (s *Swarm) learnLocked(added []netip.AddrPort, flags []pex.Flags, from netip.AddrPort, net string) {
	for i, a := range added {
		var f pex.Flags
		if i < len(flags) {
			f = flags[i]
		}
		s.hintLocked(a, f, from)
		if s.takeHintedLocked(a, SourcePEX, from, f) {
			s.emitLocked(Event{Type: EventDiscovered, Peer: a, Source: SourcePEX, From: from, Net: net})
		}
	}
}

// takeLocked decides whether to dial a, offered by source (and, for PEX,
// by the peer from), records it and starts the dial. A dial takes one of
// MaxPeers' slots at once, so a stream of PEX messages full of new
// addresses cannot start more dials than there is room for, and the dial
// policy (dialpolicy.go) keeps pex from being aimed at anyone.
func (s *Swarm) takeLocked(a netip.AddrPort, source string, from netip.AddrPort) bool {
	return s.takeHintedLocked(a, source, from, 0)
}

// takeHintedLocked is takeLocked for a peer whose PEX flags say how it
// may be reached (0x04 uTP, 0x08 hole punching: hints, verified by the
// connection).
func (s *Swarm) takeHintedLocked(a netip.AddrPort, source string, from netip.AddrPort, flags pex.Flags) bool {
	if s.closed || !pex.Usable(a) || s.slots >= s.cfg.MaxPeers {
		return false
	}
	if _, ok := s.known[a]; ok || s.listening[a] != nil {
		return false
	}
	now := s.now()
	if !s.mayDialLocked(a, source, from, now) {
		if source == SourceManual && s.ours(a) {
			// The user named this swarm's own address (a --peer on the
			// port it listens on): say so rather than drop it unsaid.
			s.emitLocked(Event{Type: EventDialFailed, Peer: a, Source: source, Err: errOwnAddress})
		}
		return false
	}
	s.dialingLocked(a, source, from, now)
	s.known[a] = source
	s.counts.add(func(c *counters) { bump(&c.learned, source) })
	s.dialing++
	s.slots++
	s.wg.Add(1)
	go s.dialAndRun(a, source, from, flags)
	return true
}

// redial dials a manually given peer again a little later: clients drop
// idle connections (libtorrent and aria2 after about a minute), a peer may
// not be listening yet, and a peer the user named should stay in the
// swarm. failed says the last dial failed, which doubles the wait. It
// returns the wait (0 when the swarm has closed).
func (s *Swarm) redial(addr netip.AddrPort, failed bool) time.Duration {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0
	}
	d := RedialFirst
	if failed {
		d = min(max(2*s.backoff[addr], RedialFirst), RedialMax)
		s.backoff[addr] = d
	} else {
		delete(s.backoff, addr)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(s.real(d))
		defer t.Stop()
		select {
		case <-t.C:
			s.AddPeer(addr, SourceManual)
		case <-s.ctx.Done():
		}
	}()
	return d
}

// register adds a connection whose dial, if any, is over. It reports false
// when the swarm has closed meanwhile.
func (s *Swarm) register(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c.outgoing {
		s.dialing--
		c.slot = true // taken when the dial began
	}
	if s.closed {
		if c.slot {
			s.slots--
		}
		return false
	}
	s.conns[c] = struct{}{}
	if t, ok := s.punchedAt[c.addr]; ok && !c.outgoing && s.now().Sub(t) < s.cfg.Holepunch.PunchWindow+s.cfg.HandshakeTimeout {
		c.punched = true // the other side's SYN of a punch got through
	}
	if c.outgoing && s.listening[c.addr] == nil {
		s.listening[c.addr] = c
	}
	return true
}

// unregister removes a connection that ended and reports whether it had
// been announced as connected.
func (s *Swarm) unregister(c *conn) (wasReady bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.conns, c)
	if c.outgoing {
		delete(s.known, c.addr)
		s.dialEndedLocked(c.addr, c.source, c.from, c.ready, s.now())
	}
	if s.listening[c.listen] == c {
		delete(s.listening, c.listen)
		s.syncPEXLocked(c.listen)
	}
	if c.slot {
		s.slots--
	}
	return c.ready
}

// slotLocked finds an incoming link that finished its handshakes one of
// MaxPeers' slots: a free one, or that of the incoming peer that has been
// connected longest without telling us anything (no PEX message yet),
// which is closed. Peers we dialed and peers that have been useful are
// never evicted for a newcomer. It reports false when the swarm is full.
func (s *Swarm) slotLocked(c *conn) bool {
	if s.slots < s.cfg.MaxPeers {
		s.slots++
		c.slot = true
		return true
	}
	var victim *conn
	for o := range s.conns {
		if o == c || !o.slot || o.outgoing || o.useful || !o.ready {
			continue
		}
		if victim == nil || o.readyAt.Before(victim.readyAt) {
			victim = o
		}
	}
	if victim == nil {
		return false
	}
	victim.slot = false // handed over: its end frees nothing
	victim.evicted = true
	s.syncPEXLocked(victim.listen) // no longer told about
	s.wg.Add(1)
	go func() { // it leaves with a referral (referral.go)
		defer s.wg.Done()
		victim.evict()
	}()
	c.slot = true
	return true
}

// setListenLocked records the listen address an incoming peer told.
func (s *Swarm) setListenLocked(c *conn, listen netip.AddrPort) {
	if c.outgoing || !listen.IsValid() || c.listen == listen {
		return
	}
	old := c.listen
	if s.listening[old] == c {
		delete(s.listening, old)
		s.syncPEXLocked(old)
	}
	c.listen = listen
	if s.listening[listen] == nil {
		s.listening[listen] = c
		s.syncPEXLocked(listen)
	}
}

// addSelfLocked remembers a as one of our own listen addresses, never to
// be dialed; at most MaxSelf are kept.
func (s *Swarm) addSelfLocked(a netip.AddrPort) {
	if len(s.self) < MaxSelf {
		s.self[a] = true
	}
}
