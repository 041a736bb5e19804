package swarm

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/internal/version"
)

// Defaults of Config's fields.
const (
	DefaultMaxPeers         = 50
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultDialTimeout      = 10 * time.Second
	DefaultClient           = "pex/" + version.Release
	DefaultEventBuffer      = 1024
	DefaultMessageRate      = 1000
	DefaultMessageBurst     = 10000
	DefaultOpeningRate      = 10
	DefaultOpeningBurst     = 20
	DefaultMaxHandshakes    = 128
	DefaultHandshakesPerIP  = 32
)

// Timers and sizes of every connection, fixed by the protocol or by what
// the clients pex talks to expect.
const (
	// WriteTimeout bounds one write to a peer; a peer that does not take
	// our bytes within it is dropped.
	WriteTimeout = 30 * time.Second
	// KeepAliveInterval: a keep-alive goes out after this long without any
	// write. BEP 3 clients drop a connection silent for two minutes.
	KeepAliveInterval = 90 * time.Second
	// IdleTimeout ends a connection that sent nothing, not even a
	// keep-alive, for this long.
	IdleTimeout = 3 * time.Minute
	// MaxMessageSize bounds one BitTorrent message read from a peer; a
	// larger length prefix ends the connection. AZMP frames have their own
	// cap (package bt/azmp).
	MaxMessageSize = 1 << 20
	// RedialFirst and RedialMax: a manually added peer is dialed again
	// RedialFirst after it dropped or could not be reached, the wait
	// doubling with each failed dial up to RedialMax.
	RedialFirst = 5 * time.Second
	RedialMax   = 2 * time.Minute
	// PEXSettleDelay: the first PEX message to a peer waits this long after
	// the handshakes, and a due message this long after the change of
	// peers that gives it something to tell, so that peers connecting or
	// leaving together are told in one message rather than one each.
	PEXSettleDelay = time.Second
	// MaxSelf bounds the addresses remembered as this swarm's own (learned
	// from peers' yourip and from dialing ourselves).
	MaxSelf = 64
)

// Config tunes a Swarm. A nil *Config, or the zero value of a field, means
// the default given per field; DefaultConfig returns them filled in.
type Config struct {
	// PeerID defaults to "-PX0002-" and 12 random bytes (swarm.go: the
	// prefix decides the PEX network between two pex peers).
	PeerID [20]byte
	// ListenPort is told to peers (the extended handshake's "p", AZ_HANDSHAKE's
	// TCP port) so that they can list us; 0 when not listening.
	ListenPort int
	// MaxPeers bounds connections, dials in flight included. Default 50.
	MaxPeers int
	// NoPEX turns peer exchange (ut_pex and AZ_PEER_EXCHANGE) off for this
	// swarm; Private (BEP 27) does too.
	NoPEX   bool
	Private bool
	// NoAZMP stops pex offering Vuze's messaging protocol in its
	// handshake; every connection then uses the extension protocol.
	NoAZMP bool
	// EncryptOutgoing opens outgoing connections with Message Stream
	// Encryption (RC4 preferred, plain offered), falling back to a plain
	// handshake when the peer does not answer it. Incoming MSE is always
	// answered.
	EncryptOutgoing bool
	// Dialer dials peers. Default a net.Dialer with DefaultDialTimeout.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// PEX tunes what pex sends, over either network; nil means BEP 11's
	// limits (50 added and 50 dropped a message, a message a minute).
	PEX *pex.Config
	// UTPexRule holds peers' ut_pex messages to limits; nil means
	// pex.LibtorrentRule (the 7th message within 60 s disconnects).
	UTPexRule *pex.Rule
	// AZMPRule holds peers' AZ_PEER_EXCHANGE messages to limits; nil means
	// pex.BiglyBTRule (the 8th message within 120 s disconnects).
	AZMPRule *pex.Rule
	// HandshakeTimeout bounds each phase of an opening: MSE, the
	// BitTorrent handshake, and the extended or AZMP handshake that must
	// follow it. Default 10 s.
	HandshakeTimeout time.Duration
	// DialBackoff is the least time between two dials of one address
	// learned from PEX, trackers or the DHT, however many peers name it and
	// however often; it doubles after each dial that ends in no handshake,
	// up to MaxDialBackoff. MaxDialsPerIP dials to one IP (on any ports)
	// start within a DialBackoff window at most; its other addresses are
	// parked until the window ends (negative: no limit). MaxDialsPerSource
	// bounds the dials in flight for addresses one peer named (default
	// MaxPeers/4, at least 2). And a peer's PEX is taken only for addresses
	// no more local than its own (a public peer cannot name private,
	// link-local or loopback ones), never for this swarm's own address.
	// Defaults 1 min, 30 min, 4.
	DialBackoff       time.Duration
	MaxDialBackoff    time.Duration
	MaxDialsPerIP     int
	MaxDialsPerSource int
	// MessageRate and MessageBurst bound the BitTorrent messages of any
	// kind a peer may send (a second, and at once); a peer over them is
	// disconnected. Extended handshakes, which may be sent again to update
	// what they say, are held to one every ten seconds after the first five.
	// Defaults 1000 and 10000.
	MessageRate  float64
	MessageBurst int
	// OpeningRate and OpeningBurst bound the incoming connections one IP
	// may open (a second, and at once); more are closed before any work is
	// done on them, Message Stream Encryption's Diffie-Hellman above all.
	// Defaults 10 and 20.
	OpeningRate  float64
	OpeningBurst int
	// MaxHandshakes bounds the incoming connections still in their
	// handshakes (MSE included), and MaxHandshakesPerIP those from one IP.
	// A newcomer is never refused: the oldest handshake of its IP, or of
	// the IP holding the most, is ended to make room. Defaults 128 and 32.
	MaxHandshakes      int
	MaxHandshakesPerIP int
	// Client is our "v" in the extended handshake, and "name/version" in
	// AZ_HANDSHAKE. Default DefaultClient, "pex/" and the release of
	// package internal/version (the one pex version prints).
	Client string
	// Logger receives debug logs; nil is silent.
	Logger *slog.Logger
	// EventBuffer is the Events channel's capacity; events that find it
	// full are dropped and counted (Stats.EventsDropped). Default 1024.
	EventBuffer int
	// Clock is the time the protocol runs on (clock.go); nil means real
	// time.
	Clock Clock
	// Holepunch bounds hole punching (BEP 55), which a swarm with a uTP
	// socket (UseUTP) does in every role; the zero value means the
	// defaults.
	Holepunch HolepunchConfig
}

// DefaultConfig returns the configuration a nil *Config stands for (with a
// fresh random PeerID).
func DefaultConfig() *Config {
	c := (*Config)(nil).withDefaults()
	return &c
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	if o.PeerID == ([20]byte{}) {
		o.PeerID = newPeerID()
	}
	if o.Dialer == nil {
		d := &net.Dialer{Timeout: DefaultDialTimeout}
		o.Dialer = d.DialContext
	}
	o.Client = cmp.Or(o.Client, DefaultClient)
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	o.MaxPeers = cmp.Or(o.MaxPeers, DefaultMaxPeers)
	o.HandshakeTimeout = cmp.Or(o.HandshakeTimeout, DefaultHandshakeTimeout)
	o.EventBuffer = cmp.Or(o.EventBuffer, DefaultEventBuffer)
	o.MessageRate = cmp.Or(o.MessageRate, DefaultMessageRate)
	o.MessageBurst = cmp.Or(o.MessageBurst, DefaultMessageBurst)
	o.OpeningRate = cmp.Or(o.OpeningRate, DefaultOpeningRate)
	o.OpeningBurst = cmp.Or(o.OpeningBurst, DefaultOpeningBurst)
	o.DialBackoff = cmp.Or(o.DialBackoff, DefaultDialBackoff)
	o.MaxDialBackoff = cmp.Or(o.MaxDialBackoff, DefaultMaxDialBackoff)
	o.MaxHandshakes = cmp.Or(o.MaxHandshakes, DefaultMaxHandshakes)
	o.MaxHandshakesPerIP = cmp.Or(o.MaxHandshakesPerIP, DefaultHandshakesPerIP)
	o.MaxDialsPerIP = noLimitIfNegative(cmp.Or(o.MaxDialsPerIP, DefaultMaxDialsPerIP))
	o.Holepunch = o.Holepunch.withDefaults()
	return o
}

// noLimitIfNegative turns a negative limit, which means none, into the
// largest int.
func noLimitIfNegative(n int) int {
	if n < 0 {
		return int(^uint(0) >> 1)
	}
	return n
}

func (c *Config) validate() error {
	switch {
	case c.MaxPeers < 0:
		return errors.New("swarm: MaxPeers must not be negative")
	case c.ListenPort < 0 || c.ListenPort > 65535:
		return errors.New("swarm: ListenPort must be 0 to 65535")
	case c.HandshakeTimeout < 0:
		return errors.New("swarm: HandshakeTimeout must not be negative")
	case c.EventBuffer < 0:
		return errors.New("swarm: EventBuffer must not be negative")
	case c.OpeningRate < 0 || c.OpeningBurst < 0:
		return errors.New("swarm: OpeningRate and OpeningBurst must not be negative")
	case c.MessageRate < 0 || c.MessageBurst < 0:
		return errors.New("swarm: MessageRate and MessageBurst must not be negative")
	case c.DialBackoff < 0 || c.MaxDialBackoff < 0 || c.MaxDialsPerSource < 0:
		return errors.New("swarm: DialBackoff, MaxDialBackoff and MaxDialsPerSource must not be negative")
	case c.MaxHandshakes < 0 || c.MaxHandshakesPerIP < 0:
		return errors.New("swarm: MaxHandshakes and MaxHandshakesPerIP must not be negative")
	}
	return c.Holepunch.validate()
}
