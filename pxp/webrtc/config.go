package webrtc

import (
	"cmp"
	"log/slog"
	"time"
)

// Config tunes the upgrader. The zero value means the defaults per field.
type Config struct {
	// ICEServers are STUN and TURN server URLs (RFC 7064 and 7065:
	// "stun:host[:port]", "turn:host[:port][?transport=udp|tcp]", and the
	// "stuns:" and "turns:" forms). New rejects any other. Default none.
	ICEServers []string
	// ICEUsername and ICECredential authenticate to the TURN servers
	// among ICEServers.
	ICEUsername, ICECredential string
	// ICECredentials, when set, is called at the start of each upgrade
	// for the TURN servers' user name and credential, in place of
	// ICEUsername and ICECredential: short-lived credentials (package
	// turnrest) minted fresh for every upgrade, so that a node running for
	// months never offers a TURN server an expired one. An upgrade makes
	// its allocations within Timeout of its start.
	ICECredentials func() (username, credential string)
	// Loopback restricts ICE to loopback addresses, both the candidates
	// gathered here and the remote ones tried (wrtc lists the machine's
	// other addresses too). For tests and demos on one machine; `pex node
	// --ice-loopback` sets it.
	Loopback bool
	// Timeout bounds ICE, DTLS and the data channel's opening, on top of the
	// caller's context. Default 10 s.
	Timeout time.Duration
	// MaxPendingCandidates bounds remote candidates kept before the remote
	// description. Default 64.
	MaxPendingCandidates int
	// MaxRemoteCandidates bounds the remote candidates one upgrade checks,
	// in its description and trickled; more are dropped, so a peer cannot
	// make this node send connectivity checks to a long list of addresses.
	// Default 8.
	MaxRemoteCandidates int
	// MaxBindingRequests bounds the connectivity checks sent to one
	// candidate pair before it counts as failed. Default 10: pion checks a
	// pair every 200 ms, so a pair is tried for 2 s, as long as a relayed
	// pair waits before it is nominated. Behind a filtering router or
	// firewall, a direct path opens only once the other side's own checks
	// have gone out, which can start well after ours (its candidates
	// arrive through the relay); pion does not check again a pair it has
	// given up, even when the other side's checks then arrive, so a shorter
	// window loses punchable paths to the TURN relay. (With 4, a Go node
	// behind an endpoint-independent NAT and a JS node behind a firewall
	// met directly at 0.78 s, just inside the window, and through TURN on a
	// loaded machine.) What checks to silent candidates may send is bounded
	// by the check budget (bytes the peer signaled), not by this.
	MaxBindingRequests int
	// ConsentInterval paces the consent checks of an established link
	// (RFC 7675: the STUN checks that tell each side the other is still
	// there, and keep NAT bindings open): the side that is the ICE
	// controlling agent checks at most once per interval, the other side
	// only answers. pion's agent would check every 2 s from both sides,
	// and each check and answer wakes both ends: that was most of what an
	// idle link cost. Checks go out on the agent's 2 s tick, so the
	// default, 5 s, means a check every 6 s. Negative leaves pion's
	// schedule. Checks while ICE is connecting are never paced.
	ConsentInterval time.Duration
	// ConsentTimeout is how long an established link may hear nothing from
	// the other side (no check, no answer, no data) before it fails and is
	// closed: a peer that vanished without closing (a crashed host, a NAT
	// binding gone) is noticed within it, and the link's Read returns
	// ErrConsentLost. Default 30 s (RFC 7675's); at least three
	// ConsentIntervals.
	ConsentTimeout time.Duration
	// Logger receives debug logs; nil means silent.
	Logger *slog.Logger
}

// Defaults of Config's fields.
const (
	DefaultTimeout              = 10 * time.Second
	DefaultMaxPendingCandidates = 64
	DefaultMaxRemoteCandidates  = 8
	DefaultMaxBindingRequests   = 10
	DefaultConsentInterval      = 5 * time.Second
	DefaultConsentTimeout       = 30 * time.Second
)

// DefaultConfig returns the configuration a nil *Config stands for.
func DefaultConfig() *Config {
	c := (*Config)(nil).withDefaults()
	return &c
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.MaxBindingRequests = cmp.Or(o.MaxBindingRequests, DefaultMaxBindingRequests)
	o.MaxRemoteCandidates = cmp.Or(o.MaxRemoteCandidates, DefaultMaxRemoteCandidates)
	o.MaxPendingCandidates = cmp.Or(o.MaxPendingCandidates, DefaultMaxPendingCandidates)
	o.ConsentInterval = cmp.Or(o.ConsentInterval, DefaultConsentInterval) // negative: pion's schedule
	o.ConsentTimeout = cmp.Or(o.ConsentTimeout, DefaultConsentTimeout)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}
