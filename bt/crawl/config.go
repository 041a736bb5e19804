package crawl

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/seed0021ed4d/pex/internal/version"
)

// Defaults of Config.
const (
	DefaultConcurrency      = 64
	DefaultDialTimeout      = 10 * time.Second
	DefaultHandshakeTimeout = 15 * time.Second
	// DefaultPEXWait is how long a connection waits for the first PEX
	// message: libtorrent sends one a minute, Transmission every 90 s,
	// BiglyBT about every minute, so a first message can take that long.
	DefaultPEXWait = 100 * time.Second
	// DefaultMaxPeers bounds the peers a crawl records.
	DefaultMaxPeers = 1 << 20
	// KeepAliveInterval spaces keep-alives while a connection waits.
	KeepAliveInterval = 45 * time.Second
	// MaxMessageSize bounds one message read from a peer.
	MaxMessageSize = 1 << 20
	// MinRevisit is the least Config.Revisit: BEP 11's interval between
	// two PEX messages to one peer.
	MinRevisit = time.Minute
	// CoverageInterval spaces the points of Report.Coverage.
	CoverageInterval = time.Second
)

// DefaultClient is the client name a crawler gives in its handshakes.
var DefaultClient = "pex-crawl/" + version.Release

// Config tunes a Crawler; nil or zero fields mean the defaults.
type Config struct {
	// PeerID is the crawler's BitTorrent peer id; zero means a random one.
	PeerID [20]byte
	// Client is the name and version given in the extended handshake and
	// AZ_HANDSHAKE. Default DefaultClient.
	Client string
	// Concurrency bounds the connections open at once. Default
	// DefaultConcurrency.
	Concurrency int
	// DialTimeout bounds a dial; HandshakeTimeout the BitTorrent and
	// extended (or AZ) handshakes after it.
	DialTimeout, HandshakeTimeout time.Duration
	// PEXWait bounds the wait for the first PEX message after the
	// handshakes. Default DefaultPEXWait.
	PEXWait time.Duration
	// Revisit, when set, visits every peer again this long after its
	// last visit ended: a peer tells a crawler only the peers it knew when
	// the crawler came, and peers that joined since are learned on the
	// next round. Never less than a minute (BEP 11's interval); 0 visits
	// each peer once.
	Revisit time.Duration
	// MaxPeers bounds the peers recorded; peers named past it are
	// counted in Report.Overflow and not visited.
	MaxPeers int
	// NoAZMP does not offer Vuze's messaging protocol: every peer is
	// asked over LTEP and ut_pex.
	NoAZMP bool
	// Encrypt opens connections with Message Stream Encryption, falling
	// back to plain when the peer refuses it.
	Encrypt bool
	// Dialer dials peers; nil means a net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// Logger gets debug logs; nil means silent.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	var o Config
	if c != nil {
		o = *c
	}
	if o.Concurrency < 0 || o.DialTimeout < 0 || o.HandshakeTimeout < 0 || o.PEXWait < 0 || o.MaxPeers < 0 {
		return o, errors.New("crawl: negative Config field")
	}
	o.Client = cmp.Or(o.Client, DefaultClient)
	o.Concurrency = cmp.Or(o.Concurrency, DefaultConcurrency)
	o.DialTimeout = cmp.Or(o.DialTimeout, DefaultDialTimeout)
	o.HandshakeTimeout = cmp.Or(o.HandshakeTimeout, DefaultHandshakeTimeout)
	o.PEXWait = cmp.Or(o.PEXWait, DefaultPEXWait)
	if o.Revisit > 0 && o.Revisit < MinRevisit {
		o.Revisit = MinRevisit
	}
	o.MaxPeers = cmp.Or(o.MaxPeers, DefaultMaxPeers)
	if o.Dialer == nil {
		var d net.Dialer
		o.Dialer = d.DialContext
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}
