package swarm

import (
	"net"
	"net/netip"
	"time"
)

// What pex may dial of the addresses it is told, and when: peer exchange
// must not be a way to aim pex's connections at a victim (Su et al., "DDoS
// vulnerability of BitTorrent peer exchange"), to make it scan a host's
// ports, or to reach into a network the sender is not on.

// Defaults of the dial policy's Config fields.
const (
	DefaultDialBackoff    = time.Minute
	DefaultMaxDialBackoff = 30 * time.Minute
	DefaultMaxDialsPerIP  = 4
	// MaxDialRecords bounds the addresses whose last dial is remembered
	// for backoff; when it is full of live records, new addresses are not
	// dialed until some expire.
	MaxDialRecords = 8192
)

// Address scopes, from the most global to the most local.
const (
	scopeGlobal = iota
	scopeShared // 100.64.0.0/10, carrier-grade NAT
	scopePrivate
	scopeLinkLocal
	scopeLoopback
)

var sharedPrefix = netip.MustParsePrefix("100.64.0.0/10")

// scopeOf classifies an address. Documentation ranges count as global:
// they stand for public addresses in test networks.
func scopeOf(a netip.Addr) int {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return scopeLoopback
	case a.IsLinkLocalUnicast():
		return scopeLinkLocal
	case a.IsPrivate():
		return scopePrivate
	case sharedPrefix.Contains(a):
		return scopeShared
	}
	return scopeGlobal
}

// dialRecord is the backoff state of one address.
type dialRecord struct {
	next  time.Time // not dialed again before
	fails int       // dials in a row that did not end in a handshake
}

// ipWindow counts the dials started to one IP in a DialBackoff window.
type ipWindow struct {
	start time.Time
	count int
}

// dialPolicy is the swarm's memory of its dials; guarded by Swarm.mu.
type dialPolicy struct {
	records  map[netip.AddrPort]*dialRecord
	perIP    map[netip.Addr]*ipWindow
	bySource map[netip.AddrPort]int // dials in flight by the peer that named them
	local    map[netip.Addr]bool    // this host's addresses
	// the IPs the listeners given to Serve are bound to; anyIP when one
	// listens on every address
	listenIPs map[netip.Addr]bool
	anyIP     bool
}

func (dp *dialPolicy) init() {
	dp.records = map[netip.AddrPort]*dialRecord{}
	dp.perIP = map[netip.Addr]*ipWindow{}
	dp.bySource = map[netip.AddrPort]int{}
	dp.local = map[netip.Addr]bool{}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if p, err := netip.ParsePrefix(a.String()); err == nil {
				dp.local[p.Addr().Unmap()] = true
			}
		}
	}
}

// ours reports whether a is this swarm's own listen address: one Serve
// listens on, or, for a listener on every address (or one not given to
// Serve), its port on a loopback address or one of the host's interfaces.
func (s *Swarm) ours(a netip.AddrPort) bool {
	if s.self[a] {
		return true
	}
	if s.cfg.ListenPort == 0 || int(a.Port()) != s.cfg.ListenPort {
		return false
	}
	ip := a.Addr().Unmap()
	if len(s.dials.listenIPs) > 0 && !s.dials.anyIP {
		return s.dials.listenIPs[ip]
	}
	return ip.IsLoopback() || s.dials.local[ip]
}

// listeningLocked records the address a listener given to Serve is bound
// to.
func (s *Swarm) listeningLocked(a net.Addr) {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return
	}
	if ap.Addr().IsUnspecified() {
		s.dials.anyIP = true
		return
	}
	if s.dials.listenIPs == nil {
		s.dials.listenIPs = map[netip.Addr]bool{}
	}
	s.dials.listenIPs[ap.Addr().Unmap()] = true
}

// mayDialLocked applies the policy to a that source (and, for PEX, the
// peer from) offers; now is the time of the decision.
func (s *Swarm) mayDialLocked(a netip.AddrPort, source string, from netip.AddrPort, now time.Time) bool {
	if s.ours(a) {
		return false
	}
	if source == SourceManual {
		return true // the user's word
	}
	dp := &s.dials
	if source == SourcePEX {
		// A peer names only addresses no more local than its own: a
		// public peer cannot make pex dial into its LAN or loopback.
		if scopeOf(a.Addr()) > scopeOf(from.Addr()) {
			return false
		}
		if dp.bySource[from] >= s.maxDialsPerSource() {
			return false
		}
	}
	if r := dp.records[a]; r != nil && now.Before(r.next) {
		return false
	}
	if w := dp.perIP[a.Addr()]; w != nil && now.Sub(w.start) < s.cfg.DialBackoff && w.count >= s.cfg.MaxDialsPerIP {
		return false // that IP is parked: a port scan gets no further
	}
	if _, ok := dp.records[a]; !ok && len(dp.records) >= MaxDialRecords {
		dp.sweep(now, s.cfg.DialBackoff)
		if len(dp.records) >= MaxDialRecords {
			return false
		}
	}
	return true
}

func (s *Swarm) maxDialsPerSource() int {
	if s.cfg.MaxDialsPerSource > 0 {
		return s.cfg.MaxDialsPerSource
	}
	return max(2, s.cfg.MaxPeers/4)
}

// dialingLocked records a dial that starts now.
func (s *Swarm) dialingLocked(a netip.AddrPort, source string, from netip.AddrPort, now time.Time) {
	dp := &s.dials
	r := dp.records[a]
	if r == nil {
		r = &dialRecord{}
		dp.records[a] = r
	}
	r.next = now.Add(s.dialWait(r.fails))
	if source != SourceManual {
		w := dp.perIP[a.Addr()]
		if w == nil || now.Sub(w.start) >= s.cfg.DialBackoff {
			w = &ipWindow{start: now}
			dp.perIP[a.Addr()] = w
		}
		w.count++
	}
	if source == SourcePEX {
		dp.bySource[from]++
	}
}

// dialEndedLocked records how a dial ended: in a finished handshake
// (success) or not.
func (s *Swarm) dialEndedLocked(a netip.AddrPort, source string, from netip.AddrPort, success bool, now time.Time) {
	dp := &s.dials
	if source == SourcePEX {
		if dp.bySource[from]--; dp.bySource[from] <= 0 {
			delete(dp.bySource, from)
		}
	}
	r := dp.records[a]
	if r == nil {
		return
	}
	if success {
		r.fails = 0
		return
	}
	r.fails++
	r.next = maxTime(r.next, now.Add(s.dialWait(r.fails)))
}

// dialWait is the wait after fails failed dials: DialBackoff, doubling, up
// to MaxDialBackoff.
func (s *Swarm) dialWait(fails int) time.Duration {
	d := s.cfg.DialBackoff
	for range min(fails, 20) {
		if d >= s.cfg.MaxDialBackoff {
			break
		}
		d *= 2
	}
	return min(d, s.cfg.MaxDialBackoff)
}

// sweep forgets records and windows that no longer restrain anything.
func (dp *dialPolicy) sweep(now time.Time, window time.Duration) {
	for a, r := range dp.records {
		if now.After(r.next) {
			delete(dp.records, a)
		}
	}
	for ip, w := range dp.perIP {
		if now.Sub(w.start) >= window {
			delete(dp.perIP, ip)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
