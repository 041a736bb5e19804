package swarm

import (
	"net/netip"
)

// What the swarm knows of the address the internet sees it at: the
// address peers agree on in their yourip (BEP 10), and the port peers are
// told to dial, which a port mapping on a home router may move away from
// the listen port.

// Observed returns the address peers see this swarm at, once peers from
// two different addresses agree on it (their extended handshake's yourip);
// the zero Addr before. It changes when a later pair of peers agrees on
// another address (the router's public address changed).
func (s *Swarm) Observed() netip.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.observed
}

// SetPublicPort sets the port peers are told to dial (the extended
// handshake's "p" and AZ_HANDSHAKE's TCP port) from the next handshake
// on: the external port of a port mapping whose router chose another port
// than Config.ListenPort. 0 goes back to ListenPort. It does nothing on a
// swarm that does not listen.
func (s *Swarm) SetPublicPort(port int) {
	if s.cfg.ListenPort == 0 || port < 0 || port > 65535 {
		return
	}
	if port == 0 {
		port = s.cfg.ListenPort
	}
	s.publicPort.Store(int32(port))
	s.mu.Lock()
	if s.observed.IsValid() {
		s.addSelfLocked(netip.AddrPortFrom(s.observed, uint16(port)))
	}
	s.mu.Unlock()
}

// publicPortNow is the port told to peers in handshakes.
func (s *Swarm) publicPortNow() int {
	if p := s.publicPort.Load(); p > 0 {
		return int(p)
	}
	return s.cfg.ListenPort
}

// claimSelfLocked records that the peer at by says it sees us at ip
// (BEP 10's yourip). One peer's word is not enough, or any peer could
// make pex shun addresses of its choice, or report a false public address:
// ip becomes the observed address, and ip at the listen and public ports
// our own, once peers from two different addresses say so. Claims are
// bounded like the self set.
func (s *Swarm) claimSelfLocked(ip, by netip.Addr) {
	if ip == s.observed || ip.IsUnspecified() {
		return
	}
	who := s.claims[ip]
	if who == nil {
		if len(s.claims) >= MaxSelf {
			return
		}
		who = map[netip.Addr]bool{}
		s.claims[ip] = who
	}
	if len(who) < 8 {
		who[by] = true
	}
	if len(who) < 2 {
		return
	}
	delete(s.claims, ip)
	if s.cfg.ListenPort > 0 {
		s.addSelfLocked(netip.AddrPortFrom(ip, uint16(s.cfg.ListenPort)))
		if p := s.publicPortNow(); p != s.cfg.ListenPort {
			s.addSelfLocked(netip.AddrPortFrom(ip, uint16(p)))
		}
	}
	s.observed = ip
	s.emitLocked(Event{Type: EventObserved, Peer: netip.AddrPortFrom(ip, uint16(s.publicPortNow()))})
}
