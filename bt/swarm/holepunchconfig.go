package swarm

import (
	"cmp"
	"errors"
	"time"
)

// HolepunchConfig bounds hole punching (BEP 55, holepunch.go) in its
// three roles. The zero value of a field means its default.
type HolepunchConfig struct {
	// Disable turns hole punching off: ut_holepunch is not offered, no
	// rendezvous is sent or answered. A swarm without a uTP socket has
	// none anyway.
	Disable bool
	// RelayRate and RelayBurst bound the rendezvous one peer may ask this
	// swarm to relay (a second, and at once), so that no peer can use the
	// swarm to aim connect messages at others. Past them a rendezvous is
	// answered with an error only, within a second budget of the same
	// rate and burst, and past that one it is dropped unanswered: errors
	// go back to the asker alone, one per rendezvous, so they amplify
	// nothing, but answering a flood of them one for one would have the
	// swarm write as fast as the flooder sends (holepunch_relay.go).
	// Defaults 0.5 and 8.
	RelayRate  float64
	RelayBurst int
	// ConnectRate and ConnectBurst bound the connect messages taken from
	// one peer (a second, and at once); more are dropped, so that no relay
	// can make the swarm punch at will. Defaults 1 and 8.
	ConnectRate  float64
	ConnectBurst int
	// RendezvousRate and RendezvousBurst bound the rendezvous this swarm
	// sends, overall (a second, and at once); PerRelayRate and
	// PerRelayBurst those it sends through one relay, kept below what a
	// relay allows by default. Defaults 0.5 and 16; 0.2 and 4.
	RendezvousRate  float64
	RendezvousBurst int
	PerRelayRate    float64
	PerRelayBurst   int
	// RendezvousBackoff: a peer is asked for at most once in this long.
	// RendezvousTimeout: a rendezvous the relay has not answered by then
	// is given up. Defaults 1 min and 15 s.
	RendezvousBackoff time.Duration
	RendezvousTimeout time.Duration
	// MaxPunches bounds the punches dialing at once. PunchWindow is how
	// long one keeps trying, PunchRetry the time each SYN is given before
	// the next is sent (libutp's own retransmission is too slow for a
	// punch: the first SYN is usually lost in the other side's router).
	// Defaults 16, 8 s and 1 s.
	MaxPunches  int
	PunchWindow time.Duration
	PunchRetry  time.Duration
	// NoIntroductions turns off the relay's simultaneous introductions
	// (introduce.go): a newcomer's first PEX message naming a peer that
	// nobody has reached, one of the two lacking ut_holepunch, brings
	// that peer a PEX message naming the newcomer, so that the two dial
	// each other at once. IntroduceRate and IntroduceBurst bound the
	// introductions sent to one link (a second, and at once);
	// MaxIntroductions those one newcomer brings. Defaults 1/60, 2 and 8.
	NoIntroductions  bool
	IntroduceRate    float64
	IntroduceBurst   int
	MaxIntroductions int
}

// Defaults of HolepunchConfig's fields.
const (
	DefaultRelayRate         = 0.5
	DefaultRelayBurst        = 8
	DefaultConnectRate       = 1
	DefaultConnectBurst      = 8
	DefaultRendezvousRate    = 0.5
	DefaultRendezvousBurst   = 16
	DefaultPerRelayRate      = 0.2
	DefaultPerRelayBurst     = 4
	DefaultRendezvousBackoff = time.Minute
	DefaultRendezvousTimeout = 15 * time.Second
	DefaultMaxPunches        = 16
	DefaultPunchWindow       = 8 * time.Second
	DefaultPunchRetry        = time.Second
	DefaultIntroduceRate     = 1.0 / 60
	DefaultIntroduceBurst    = 2
	DefaultMaxIntroductions  = 8
)

func (h HolepunchConfig) withDefaults() HolepunchConfig {
	h.RelayRate = cmp.Or(h.RelayRate, DefaultRelayRate)
	h.RelayBurst = cmp.Or(h.RelayBurst, DefaultRelayBurst)
	h.ConnectRate = cmp.Or(h.ConnectRate, DefaultConnectRate)
	h.ConnectBurst = cmp.Or(h.ConnectBurst, DefaultConnectBurst)
	h.RendezvousRate = cmp.Or(h.RendezvousRate, DefaultRendezvousRate)
	h.RendezvousBurst = cmp.Or(h.RendezvousBurst, DefaultRendezvousBurst)
	h.PerRelayRate = cmp.Or(h.PerRelayRate, DefaultPerRelayRate)
	h.PerRelayBurst = cmp.Or(h.PerRelayBurst, DefaultPerRelayBurst)
	h.RendezvousBackoff = cmp.Or(h.RendezvousBackoff, DefaultRendezvousBackoff)
	h.RendezvousTimeout = cmp.Or(h.RendezvousTimeout, DefaultRendezvousTimeout)
	h.MaxPunches = cmp.Or(h.MaxPunches, DefaultMaxPunches)
	h.PunchWindow = cmp.Or(h.PunchWindow, DefaultPunchWindow)
	h.PunchRetry = cmp.Or(h.PunchRetry, DefaultPunchRetry)
	h.IntroduceRate = cmp.Or(h.IntroduceRate, DefaultIntroduceRate)
	h.IntroduceBurst = cmp.Or(h.IntroduceBurst, DefaultIntroduceBurst)
	h.MaxIntroductions = cmp.Or(h.MaxIntroductions, DefaultMaxIntroductions)
	return h
}

func (h HolepunchConfig) validate() error {
	if h.RelayRate < 0 || h.RelayBurst < 0 || h.ConnectRate < 0 || h.ConnectBurst < 0 ||
		h.RendezvousRate < 0 || h.RendezvousBurst < 0 || h.PerRelayRate < 0 || h.PerRelayBurst < 0 ||
		h.RendezvousBackoff < 0 || h.RendezvousTimeout < 0 || h.MaxPunches < 0 || h.PunchWindow < 0 || h.PunchRetry < 0 ||
		h.IntroduceRate < 0 || h.IntroduceBurst < 0 || h.MaxIntroductions < 0 {
		return errors.New("swarm: Holepunch's limits must not be negative")
	}
	return nil
}
