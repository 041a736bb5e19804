package swarm

import (
	"context"
	"errors"
	"maps"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// Stats are counters of a Swarm: a snapshot, taken by Swarm.Stats. The
// maps are copies the caller may keep.
type Stats struct {
	Peers         int    // connected peers (past their handshakes)
	Dialing       int    // dials in flight
	Handshaking   int    // incoming connections in their handshakes
	EventsDropped uint64 // events that found the Events channel full

	// PEXSent and PEXReceived count PEX messages by network (NetUTPex,
	// NetAZMP).
	PEXSent, PEXReceived map[string]uint64
	// Learned counts the peers taken into the peer set to be dialed, by
	// source (SourceTracker, SourceDHT, SourcePEX, SourceManual), and the
	// peers that dialed in and passed their handshakes (SourceIncoming).
	Learned map[string]uint64
	// Dials counts dials by outcome: "connected", or why one failed:
	// "refused", "timeout", "unreachable", "canceled", "other".
	Dials map[string]uint64
	// FloodDisconnects counts peers disconnected for sending messages
	// too often (PEX messages over BEP 11's rate, or any message flood).
	FloodDisconnects uint64
	// Referrals counts PEX messages naming peers the swarm has, sent to
	// peers it had no room for: turned away, or let go for a newcomer
	// (referral.go).
	Referrals uint64
	// OpeningsAdmitted and OpeningsRefused count incoming connections at
	// the opening gate (Accept): admitted into the handshakes, where an
	// MSE opening's Diffie-Hellman is answered, or refused because their
	// IP opened more than OpeningRate and OpeningBurst allow, and closed
	// before any work was done on them. Over uTP (UseUTP) the gate is at
	// the SYN, before a connection is made: a refused SYN is dropped
	// unanswered, and each SYN a dialer repeats is counted again.
	OpeningsAdmitted, OpeningsRefused uint64
	// SenderWakeups counts the firings of the links' senders (sender.go:
	// a timer each, or a kick when the link's PEX state or the swarm's PEX
	// log changed): the work an established link costs besides reading
	// what its peer sends. An idle link's sender wakes when a PEX message
	// is due (BEP 11: a minute apart at least) or a keep-alive is
	// (KeepAliveInterval), for nothing else.
	SenderWakeups uint64
	// Holepunch counts hole punching (BEP 55) in its three roles.
	Holepunch HolepunchStats
}

// HolepunchStats count hole punching (BEP 55). Undialable and Reached
// are what a success rate needs: peers flagged as taking punches whose
// dial failed, and peers reached through a punch (anacrolix/torrent's
// NumPeersUndialableWithoutHolepunch and
// NumPeersDialableOnlyAfterHolepunch).
type HolepunchStats struct {
	Undialable         uint64 // dials failed to peers flagged 0x08
	Reached            uint64 // links a punch made
	RendezvousSent     uint64 // initiator
	RendezvousReceived uint64 // relay: asked
	ConnectsRelayed    uint64 // relay: rendezvous answered with connect to both sides
	ConnectsReceived   uint64 // initiator and target
	Introductions      uint64 // relay: PEX messages naming a newcomer sent out of pace (introduce.go)
	Limited            uint64 // messages dropped, rendezvous refused, or punches not started by a limit (HolepunchConfig)
	Malformed          uint64 // ut_holepunch messages dropped as malformed (the link stays)
	// Outcomes counts the ends of punches and rendezvous by outcome:
	// OutcomeConnected, OutcomeFailed, OutcomeNoAnswer, and the BEP 55
	// error codes a relay sent or an initiator received.
	Outcomes map[string]uint64
	// ErrorsSent counts the BEP 55 errors this swarm sent as a relay, by
	// code (no-such-peer, not-connected, no-support, no-self), over-limit
	// answers included; ErrorsReceived those it received as an initiator,
	// in answer to its own rendezvous. Outcomes holds both without the
	// role.
	ErrorsSent, ErrorsReceived map[string]uint64
}

// counters are the swarm's counts, under a lock of their own so that
// counting never waits on the swarm's.
type counters struct {
	mu                   sync.Mutex
	pexSent, pexReceived map[string]uint64
	learned, dials       map[string]uint64
	floods, referrals    uint64
	hp                   hpCounters

	// Counted on hot paths (a refused opening, a sender's firing) without
	// the lock.
	openingsAdmitted, openingsRefused, wakeups atomic.Uint64
}

// hpCounters are HolepunchStats' counts.
type hpCounters struct {
	undialable, reached, rendezvousSent, rendezvousReceived uint64
	connectsRelayed, connectsReceived, limited, malformed   uint64
	introductions                                           uint64
	outcomes, errorsSent, errorsReceived                    map[string]uint64
}

func bump(m *map[string]uint64, k string) {
	if *m == nil {
		*m = make(map[string]uint64)
	}
	(*m)[k]++
}

func (c *counters) add(f func(c *counters)) {
	c.mu.Lock()
	f(c)
	c.mu.Unlock()
}

// Stats returns the swarm's counters.
func (s *Swarm) Stats() Stats {
	s.mu.Lock()
	st := Stats{Dialing: s.dialing, Handshaking: s.handshakes.Len(), EventsDropped: s.dropped.Load()}
	for c := range s.conns {
		if c.live() {
			st.Peers++
		}
	}
	s.mu.Unlock()
	c := &s.counts
	c.mu.Lock()
	defer c.mu.Unlock()
	st.PEXSent = maps.Clone(c.pexSent)
	st.PEXReceived = maps.Clone(c.pexReceived)
	st.Learned = maps.Clone(c.learned)
	st.Dials = maps.Clone(c.dials)
	st.FloodDisconnects = c.floods
	st.Referrals = c.referrals
	st.OpeningsAdmitted, st.OpeningsRefused = c.openingsAdmitted.Load(), c.openingsRefused.Load()
	st.SenderWakeups = c.wakeups.Load()
	h := c.hp
	st.Holepunch = HolepunchStats{Undialable: h.undialable, Reached: h.reached, RendezvousSent: h.rendezvousSent,
		RendezvousReceived: h.rendezvousReceived, ConnectsRelayed: h.connectsRelayed, ConnectsReceived: h.connectsReceived,
		Limited: h.limited, Malformed: h.malformed, Introductions: h.introductions, Outcomes: maps.Clone(h.outcomes),
		ErrorsSent: maps.Clone(h.errorsSent), ErrorsReceived: maps.Clone(h.errorsReceived)}
	return st
}

// dialOutcome names a dial's result for Stats.Dials.
func dialOutcome(err error) string {
	var ne net.Error
	switch {
	case err == nil:
		return "connected"
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "unreachable"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "other"
}

// isFlood says a disconnect was for sending too often.
func isFlood(err error) bool {
	return errors.Is(err, pex.ErrFlood) || errors.Is(err, errMessageFlood)
}
