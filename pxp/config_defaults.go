package pxp

import (
	"cmp"
	"errors"
	"log/slog"
	"time"

	"github.com/seed0021ed4d/pex/mux"
)

// Config's defaults and its validation.

// DefaultConfig returns the configuration the zero value stands for.
func DefaultConfig() *Config {
	c := (&Config{}).withDefaults()
	return &c
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	// A zero field takes its default; a negative one is left for validate
	// to refuse, or, where the field says so, means none.
	o.MaxPeers = cmp.Or(o.MaxPeers, 64)
	o.ReservedOutbound = cmp.Or(o.ReservedOutbound, o.MaxPeers/8)
	o.PrefixBits4 = cmp.Or(o.PrefixBits4, 24)
	o.PrefixBits6 = cmp.Or(o.PrefixBits6, 48)
	o.EvictIdle = cmp.Or(o.EvictIdle, time.Minute)
	o.MaxOutboundPerRelay = cmp.Or(o.MaxOutboundPerRelay, 4)
	o.MaxOutboundPerPrefix = cmp.Or(o.MaxOutboundPerPrefix, 2)
	o.RelayFailures = cmp.Or(o.RelayFailures, 3)
	o.RelayBackoff = cmp.Or(o.RelayBackoff, 30*time.Second)
	o.MaxRelayBackoff = cmp.Or(o.MaxRelayBackoff, 10*time.Minute)
	o.DirectDialBackoff = cmp.Or(o.DirectDialBackoff, time.Minute)
	o.MaxDirectDialBackoff = cmp.Or(o.MaxDirectDialBackoff, 30*time.Minute)
	o.MaxDirectDialsPerIP = cmp.Or(o.MaxDirectDialsPerIP, 4)
	o.MaxDirectDialRecords = cmp.Or(o.MaxDirectDialRecords, 4096)
	o.MaxAnchors = cmp.Or(o.MaxAnchors, 2)
	o.HandshakeTimeout = cmp.Or(o.HandshakeTimeout, 10*time.Second)
	o.RequestTimeout = cmp.Or(o.RequestTimeout, 10*time.Second)
	o.MaxCandidates = cmp.Or(o.MaxCandidates, 16)
	o.CandidateTTL = cmp.Or(o.CandidateTTL, 15*time.Second)
	o.MaxCandidateIDs = cmp.Or(o.MaxCandidateIDs, 256)
	o.GetPeersRate = cmp.Or(o.GetPeersRate, 5)
	o.GetPeersBurst = cmp.Or(o.GetPeersBurst, 20)
	o.RequestRate = cmp.Or(o.RequestRate, 10)
	o.RequestBurst = cmp.Or(o.RequestBurst, 40)
	o.RefusalBurst = cmp.Or(o.RefusalBurst, 20)
	o.RelayRateLimit = cmp.Or(o.RelayRateLimit, 50_000)
	o.MaxRelays = cmp.Or(o.MaxRelays, 64)
	o.MaxRelaysPerPeer = cmp.Or(o.MaxRelaysPerPeer, 8)
	o.MaxRelaysPerPrefix = cmp.Or(o.MaxRelaysPerPrefix, max(1, o.MaxRelays/4))
	o.RelayIdleTimeout = cmp.Or(o.RelayIdleTimeout, 2*time.Minute)
	o.MaxPendingIncoming = cmp.Or(o.MaxPendingIncoming, 16)
	o.MaxPendingIncomingPerPeer = cmp.Or(o.MaxPendingIncomingPerPeer, 4)
	o.MaxHandshakes = cmp.Or(o.MaxHandshakes, 128)
	o.MaxHandshakesPerIP = cmp.Or(o.MaxHandshakesPerIP, 64)
	o.MaxMessageSize = cmp.Or(o.MaxMessageSize, 64<<10)
	o.MaxFrameSize = cmp.Or(o.MaxFrameSize, mux.DefaultMaxFrameSize)
	o.StreamBuffer = cmp.Or(o.StreamBuffer, mux.DefaultStreamBuffer)
	o.StallTimeout = cmp.Or(o.StallTimeout, mux.DefaultStallTimeout)
	o.EventBuffer = cmp.Or(o.EventBuffer, 256)
	o.IncomingBuffer = cmp.Or(o.IncomingBuffer, 16)
	o.MinObservers = cmp.Or(o.MinObservers, 2)
	o.DialBackTimeout = cmp.Or(o.DialBackTimeout, 5*time.Second)
	o.MaxDialBacks = cmp.Or(o.MaxDialBacks, 8)
	o.MaxUnclaimedBytes = cmp.Or(o.MaxUnclaimedBytes, 16<<20)
	o.CloseDrain = cmp.Or(o.CloseDrain, mux.DefaultCloseDrain)
	o.CloseDrainBytes = cmp.Or(o.CloseDrainBytes, mux.DefaultCloseDrainBytes)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

func (c *Config) validate() error {
	switch {
	case c.MaxPeers < 0, c.MaxCandidates < 0, c.MaxCandidateIDs < 0, c.GetPeersBurst < 0,
		c.MaxRelays < 0, c.MaxRelaysPerPeer < 0, c.MaxPendingIncoming < 0, c.MaxPendingIncomingPerPeer < 0, c.EventBuffer < 0,
		c.IncomingBuffer < 0, c.MaxHandshakes < 0, c.MaxHandshakesPerIP < 0,
		c.MaxInboundPerIP < 0, c.MaxInboundPerPrefix < 0, c.MaxRelaysPerPrefix < 0, c.MaxUnclaimedBytes < 0,
		c.MinObservers < 0, c.MaxDialBacks < 0, c.CloseDrainBytes < 0:
		return errors.New("pxp: config limits must not be negative")
	case c.MaxDirectDialsPerIP < 0, c.MaxDirectDialRecords < 0:
		return errors.New("pxp: MaxDirectDialsPerIP and MaxDirectDialRecords must not be negative")
	case c.RelayBackoff < 0, c.MaxRelayBackoff < c.RelayBackoff:
		return errors.New("pxp: RelayBackoff must not be negative, nor more than MaxRelayBackoff")
	case c.DirectDialBackoff < 0, c.MaxDirectDialBackoff < c.DirectDialBackoff:
		return errors.New("pxp: DirectDialBackoff must not be negative, nor more than MaxDirectDialBackoff")
	case c.HandshakeTimeout < 0, c.RequestTimeout < 0, c.CandidateTTL < 0, c.RelayIdleTimeout < 0, c.DialBackTimeout < 0,
		c.CloseDrain < 0:
		return errors.New("pxp: config durations must not be negative")
	case c.GetPeersRate < 0, c.RequestRate < 0, c.RequestBurst < 0, c.RefusalBurst < 0:
		return errors.New("pxp: request rates and bursts must not be negative")
	case c.RelayRateLimit < 1024:
		return errors.New("pxp: RelayRateLimit must be at least 1024 B/s")
	case c.PrefixBits4 < 0 || c.PrefixBits4 > 32 || c.PrefixBits6 < 0 || c.PrefixBits6 > 128:
		return errors.New("pxp: PrefixBits4 must be 0 to 32 and PrefixBits6 0 to 128")
	case c.MaxMessageSize < 1024:
		return errors.New("pxp: MaxMessageSize must be at least 1024")
	case c.MaxFrameSize < c.MaxMessageSize:
		return errors.New("pxp: MaxFrameSize must be at least MaxMessageSize")
	}
	return nil
}
