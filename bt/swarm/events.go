package swarm

import (
	"fmt"
	"net/netip"
	"time"
)

// EventType says what an Event reports.
type EventType int

// Event types. Their String forms are the event names of `pex bt swarm
// --json`.
const (
	// EventConnected: a peer passed the handshakes (Listen, Client, Source,
	// Net, Encrypted and Outgoing are set).
	EventConnected EventType = iota + 1
	// EventDisconnected: a connected peer left (Err says why), or a peer
	// that connected to us failed its handshakes (Handshaking set; Err
	// wraps ErrWrongInfoHash, ErrNotBitTorrent, ErrMSEFailed,
	// ErrClosedEarly or ErrHandshakeTimeout, or says it was refused).
	// Anyone can open links that fail: those are reported at most
	// FailedOpeningEventRate a second, so that a flood of them cannot
	// fill the Events channel and crowd out the others.
	EventDisconnected
	// EventDiscovered: a peer named in a PEX message was new and taken into
	// the peer set to be dialed (Source, From and Net are set).
	EventDiscovered
	// EventPEXReceived: a PEX message arrived (Added, Dropped, Net).
	EventPEXReceived
	// EventPEXSent: a PEX message was sent (Added, Dropped, Net).
	EventPEXSent
	// EventDialFailed: a dial ended without a connection (Err says why,
	// Source how the address was learned, Retry when a manually added
	// peer is dialed again; 0 for others, which the dial policy paces).
	// A peer that took the TCP connection but failed the handshakes is
	// one: Err wraps ErrWrongInfoHash, ErrNotBitTorrent, ErrClosedEarly
	// or ErrHandshakeTimeout then.
	EventDialFailed
	// EventObserved: peers from two addresses agree on the address they
	// see this swarm at (their yourip); Peer is that address with the port
	// peers are told to dial. See Swarm.Observed.
	EventObserved
	// EventHolepunch: a step of a hole punch (BEP 55, holepunch.go): Role
	// is RoleInitiator, RoleRelay or RoleTarget, Peer the peer punched to
	// (for a relay: the target asked for), From the relay (for a relay:
	// the peer that asked), Outcome what happened (Outcome* or a BEP 55
	// error code's name), Duration the time since the punch began.
	EventHolepunch
)

func (t EventType) String() string {
	switch t {
	case EventConnected:
		return "connected"
	case EventDisconnected:
		return "disconnected"
	case EventDiscovered:
		return "discovered"
	case EventPEXReceived:
		return "pex-received"
	case EventPEXSent:
		return "pex-sent"
	case EventDialFailed:
		return "dial-failed"
	case EventObserved:
		return "observed"
	case EventHolepunch:
		return "holepunch"
	}
	return fmt.Sprintf("EventType(%d)", int(t))
}

// Event is something that happened in the swarm. Events are delivered on a
// buffered channel and dropped (and counted) when it is full; they never
// block the swarm.
type Event struct {
	Type    EventType
	Peer    netip.AddrPort // the peer concerned (for pex-*: the sender or receiver; observed: our own address)
	Listen  netip.AddrPort // connected: the peer's listen address, if known
	Client  string         // connected: the peer's client name
	Source  string         // connected, discovered, disconnected, dial-failed: how the peer was learned
	From    netip.AddrPort // discovered: who named it
	Added   []netip.AddrPort
	Dropped []netip.AddrPort
	Net     string // pex-*, discovered: NetUTPex or NetAZMP; connected: the link's PEX network, "" if none
	Err     error  // disconnected, dial-failed: why
	// Encrypted (connected): the link runs over Message Stream Encryption.
	Encrypted bool
	// Outgoing (connected): this swarm dialed the peer.
	Outgoing bool
	// Handshaking (disconnected): the peer connected to us and the link
	// ended in its handshakes; it was never announced connected.
	Handshaking bool
	// Retry (dial-failed): the wait before the next dial of a manual peer.
	Retry time.Duration
	// UTP (connected): the link runs over uTP. Holepunch (connected): it
	// followed a hole punch's connect message (BEP 55), on either side.
	UTP, Holepunch bool
	// Solicited (connected, incoming over uTP): this swarm had sent to
	// the peer's address before (a dial or a punch), so the link may be
	// the other half of its own datagrams, through its own router: it
	// proves nothing about whether a stranger can reach the swarm.
	Solicited bool
	// Role, Outcome and Duration (holepunch): see EventHolepunch.
	Role, Outcome string
	Duration      time.Duration
	Time          time.Time
}

// FailedOpeningEventRate and FailedOpeningEventBurst bound the
// EventDisconnected events of incoming links that failed their handshakes
// (a second, and at once).
const (
	FailedOpeningEventRate  = 20
	FailedOpeningEventBurst = 100
)

// emitLocked delivers ev unless the swarm is closed; s.mu is held.
func (s *Swarm) emitLocked(ev Event) {
	if s.closed {
		return
	}
	ev.Time = s.now()
	select {
	case s.events <- ev:
	default:
		s.dropped.Add(1)
	}
}

func (s *Swarm) emit(ev Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.emitLocked(ev)
}
