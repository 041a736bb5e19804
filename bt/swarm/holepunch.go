package swarm

import (
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/holepunch"
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
// This file holds what the roles share: the message dispatch, the link
// lookup, the sending; holepunch_initiator.go, holepunch_relay.go and
// holepunch_target.go hold one role each.
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
	OutcomeIntroduced     = "introduced"      // relay: told Peer of the newcomer From out of PEX's pace (introduce.go)
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

// holepunchOnLocked reports whether the swarm takes part in hole punching:
// it has a uTP socket, of either family.
func (s *Swarm) holepunchOnLocked() bool {
	return (s.utp4 != nil || s.utp6 != nil) && !s.cfg.Holepunch.Disable
}

// allow takes a token of *l, a link's limiter made at its first use (most
// links never send or take a hole punching message); s.mu is held.
func allow(l **rate.Limiter, r float64, burst int) bool {
	if *l == nil {
		*l = rate.NewLimiter(rate.Limit(r), burst)
	}
	return (*l).Allow()
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
		s.counts.add(func(k *counters) { bump(&k.hp.outcomes, m.Err.String()); bump(&k.hp.errorsReceived, m.Err.String()) })
		s.emitLocked(Event{Type: EventHolepunch, Role: RoleInitiator, Peer: m.Addr, From: c.addr, Outcome: m.Err.String(), Duration: s.now().Sub(p.start)})
	}
	return nil
}
