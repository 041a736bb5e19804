package pex

import (
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Limits of BEP 11.
const (
	MaxAdded   = 50          // BEP 11: at most 50 added peers a message
	MaxDropped = 50          // BEP 11: at most 50 dropped peers a message
	Interval   = time.Minute // BEP 11: at most one message a minute
)

// Config tunes the per-connection state. The zero value means the defaults.
type Config struct {
	// Interval is the least time between two messages we send. Default 60 s.
	Interval time.Duration
	// MaxAdded and MaxDropped cap a message we send. Default 50 each.
	MaxAdded, MaxDropped int
	// FloodCount messages from a peer within FloodWindow are tolerated; one
	// more is a flood and ends the connection. Defaults 6 and 60 s, which is
	// libtorrent's rule (it disconnects on the 7th message within a minute),
	// so pex is exactly as strict as the strictest common client.
	FloodCount  int
	FloodWindow time.Duration
	// MaxTaken bounds the peers taken from one received message; the rest
	// are ignored. Default 50.
	MaxTaken int
	// MaxMessageSize bounds a received message; a larger one ends the
	// connection. Default 64 KiB (50+50 IPv6 peers need under 3 KiB).
	MaxMessageSize int
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	if o.Interval <= 0 {
		o.Interval = Interval
	}
	if o.MaxAdded <= 0 {
		o.MaxAdded = MaxAdded
	}
	if o.MaxDropped <= 0 {
		o.MaxDropped = MaxDropped
	}
	if o.FloodCount <= 0 {
		o.FloodCount = 6
	}
	if o.FloodWindow <= 0 {
		o.FloodWindow = time.Minute
	}
	if o.MaxTaken <= 0 {
		o.MaxTaken = 50
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = 64 << 10
	}
	return o
}

// Sender decides what to tell one peer: the current set first (at most
// MaxAdded of it), then differences, never more often than Interval.
type Sender struct {
	cfg  Config
	told map[netip.AddrPort]bool
	last time.Time
	sent bool
}

// NewSender returns a Sender. cfg may be nil.
func NewSender(cfg *Config) *Sender {
	return &Sender{cfg: cfg.withDefaults(), told: make(map[netip.AddrPort]bool)}
}

// Due reports when the next message may be sent.
func (s *Sender) Due() time.Time {
	if !s.sent {
		return time.Time{}
	}
	return s.last.Add(s.cfg.Interval)
}

// Next fills m with what the peer has not been told about current (the
// peers we are connected to, whose listen addresses we know), excluding the
// receiver's own address. It reports false when it is too early or there is
// nothing new; then m is empty.
func (s *Sender) Next(now time.Time, current []Peer, receiver netip.AddrPort, m *Msg) bool {
	m.Reset()
	if s.sent && now.Before(s.last.Add(s.cfg.Interval)) {
		return false
	}
	in := make(map[netip.AddrPort]bool, len(current))
	for _, p := range current {
		if p.Addr == receiver || !Usable(p.Addr) {
			continue
		}
		in[p.Addr] = true
		if !s.told[p.Addr] && len(m.Added) < s.cfg.MaxAdded {
			m.Added = append(m.Added, p)
		}
	}
	for a := range s.told {
		if !in[a] && len(m.Dropped) < s.cfg.MaxDropped {
			m.Dropped = append(m.Dropped, a)
		}
	}
	if len(m.Added) == 0 && len(m.Dropped) == 0 {
		return false
	}
	for _, p := range m.Added {
		s.told[p.Addr] = true
	}
	for _, a := range m.Dropped {
		delete(s.told, a)
	}
	s.last, s.sent = now, true
	return true
}

// Errors from a Receiver (ErrFlood from a FloodLimit too). Both end the
// connection.
var (
	ErrFlood    = errors.New("PEX messages sent too frequently")
	ErrTooLarge = errors.New("ut_pex: message too large")
)

// FloodLimit tells a flood from a peer's messages: more than Count of them
// within Window. The zero value is not usable; see NewFloodLimit.
type FloodLimit struct {
	count  int
	window time.Duration
	times  []time.Time // arrival of the last count messages, oldest first
}

// NewFloodLimit returns a FloodLimit tolerating count messages a window.
func NewFloodLimit(count int, window time.Duration) *FloodLimit {
	return &FloodLimit{count: count, window: window, times: make([]time.Time, 0, count)}
}

// Arrive records a message that arrived at now. It returns an error
// wrapping ErrFlood when the message is one too many.
func (f *FloodLimit) Arrive(now time.Time) error {
	if len(f.times) == f.count {
		if now.Sub(f.times[0]) < f.window {
			return fmt.Errorf("%w: %d within %v", ErrFlood, f.count+1, f.window)
		}
		copy(f.times, f.times[1:])
		f.times = f.times[:len(f.times)-1]
	}
	f.times = append(f.times, now)
	return nil
}

// Receiver holds one peer to BEP 11's limits.
type Receiver struct {
	cfg   Config
	flood *FloodLimit
	msg   Msg
}

// NewReceiver returns a Receiver. cfg may be nil.
func NewReceiver(cfg *Config) *Receiver {
	c := cfg.withDefaults()
	return &Receiver{cfg: c, flood: NewFloodLimit(c.FloodCount, c.FloodWindow)}
}

// Receive checks and decodes one message that arrived at now. It returns
// the usable added peers (at most MaxTaken, without self, duplicates or
// unusable addresses) and the dropped ones; the slices are valid until the
// next call. An error means the connection should be closed.
func (r *Receiver) Receive(now time.Time, payload []byte, self netip.AddrPort) (added []Peer, dropped []netip.AddrPort, err error) {
	if len(payload) > r.cfg.MaxMessageSize {
		return nil, nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(payload), r.cfg.MaxMessageSize)
	}
	if err := r.flood.Arrive(now); err != nil {
		return nil, nil, fmt.Errorf("ut_pex: %w", err)
	}
	if err := Decode(payload, &r.msg); err != nil {
		return nil, nil, err
	}
	kept := r.msg.Added[:0]
	for i, p := range r.msg.Added {
		if len(kept) == r.cfg.MaxTaken {
			break
		}
		if p.Addr == self || !Usable(p.Addr) || dupBefore(r.msg.Added[:i], p.Addr) {
			continue
		}
		kept = append(kept, p)
	}
	r.msg.Added = kept
	return r.msg.Added, r.msg.Dropped, nil
}

func dupBefore(ps []Peer, a netip.AddrPort) bool {
	for _, p := range ps {
		if p.Addr == a {
			return true
		}
	}
	return false
}

// Usable reports whether a peer address can be dialed: a port, and an
// address that is not unspecified, multicast or the IPv4 broadcast.
func Usable(a netip.AddrPort) bool {
	ip := a.Addr().Unmap()
	return a.Port() != 0 && ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() &&
		ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
