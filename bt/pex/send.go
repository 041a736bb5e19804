package pex

import (
	"net/netip"
	"time"
)

// Limits of BEP 11.
const (
	MaxAdded   = 50          // BEP 11: at most 50 added peers a message
	MaxDropped = 50          // BEP 11: at most 50 dropped peers a message
	Interval   = time.Minute // BEP 11: at most one message a minute
)

// Config tunes what pex sends a peer, over either PEX network. The zero
// value means BEP 11's limits.
type Config struct {
	// Interval is the least time between two messages we send. Default 60 s.
	Interval time.Duration
	// MaxAdded and MaxDropped cap a message we send. Default 50 each.
	MaxAdded, MaxDropped int
}

// Defaults returns c with every zero field set to its default (c may be
// nil).
func (c *Config) Defaults() Config { return c.withDefaults() }

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
