package azmp

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
)

// ReceiveConfig tunes a Receiver. The zero value means the defaults.
type ReceiveConfig struct {
	// FloodCount messages within FloodWindow are tolerated; one more is a
	// flood and ends the connection. Defaults 7 and 120 s: BiglyBT's rule.
	FloodCount  int
	FloodWindow time.Duration
	// MaxTaken bounds the added peers taken from one message; the rest are
	// ignored. Default MaxPeers (50).
	MaxTaken int
	// MaxMessageSize bounds a message's payload; a larger one ends the
	// connection. Default 64 KiB (50+50 IPv6 peers need under 3 KiB).
	MaxMessageSize int
}

func (c *ReceiveConfig) withDefaults() ReceiveConfig {
	var o ReceiveConfig
	if c != nil {
		o = *c
	}
	if o.FloodCount <= 0 {
		o.FloodCount = 7
	}
	if o.FloodWindow <= 0 {
		o.FloodWindow = 2 * time.Minute
	}
	if o.MaxTaken <= 0 {
		o.MaxTaken = MaxPeers
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 64 << 10
	}
	return o
}

// Errors from a Receiver; each ends the connection. A flood is reported
// with an error wrapping package bt/pex's ErrFlood.
var (
	ErrTooLarge      = errors.New("azmp: AZ_PEER_EXCHANGE too large")
	ErrWrongInfoHash = errors.New("azmp: AZ_PEER_EXCHANGE for another infohash")
)

// Receiver holds one peer's AZ_PEER_EXCHANGE messages to the limits.
type Receiver struct {
	cfg     ReceiveConfig
	flood   *pex.FloodLimit
	msg     PeerExchange
	dropped []netip.AddrPort
}

// NewReceiver returns a Receiver. cfg may be nil.
func NewReceiver(cfg *ReceiveConfig) *Receiver {
	c := cfg.withDefaults()
	return &Receiver{cfg: c, flood: pex.NewFloodLimit(c.FloodCount, c.FloodWindow)}
}

// Receive checks and decodes one message that arrived at now on a
// connection for infohash. It returns the usable added peers (at most
// MaxTaken, without self, duplicates or unusable addresses) and the dropped
// ones; both are valid until the next call.
func (r *Receiver) Receive(now time.Time, payload []byte, infohash [20]byte, self netip.AddrPort) (added []Peer, dropped []netip.AddrPort, err error) {
	if len(payload) > r.cfg.MaxMessageSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), r.cfg.MaxMessageSize)
	}
	if err := r.flood.Arrive(now); err != nil {
		return nil, nil, fmt.Errorf("azmp: AZ_PEER_EXCHANGE: %w", err)
	}
	if err := DecodePeerExchange(payload, &r.msg); err != nil {
		return nil, nil, err
	}
	if r.msg.InfoHash != infohash {
		return nil, nil, fmt.Errorf("%w: %x", ErrWrongInfoHash, r.msg.InfoHash[:])
	}
	kept := r.msg.Added[:0]
	for i, p := range r.msg.Added {
		if len(kept) == r.cfg.MaxTaken {
			break
		}
		if p.Addr == self || !pex.Usable(p.Addr) || dupBefore(r.msg.Added[:i], p.Addr) {
			continue
		}
		kept = append(kept, p)
	}
	r.msg.Added = kept
	r.dropped = r.dropped[:0]
	for _, p := range r.msg.Dropped {
		r.dropped = append(r.dropped, p.Addr)
	}
	return r.msg.Added, r.dropped, nil
}

func dupBefore(ps []Peer, a netip.AddrPort) bool {
	for _, p := range ps {
		if p.Addr == a {
			return true
		}
	}
	return false
}
