package pex

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
)

// Rule is how pex holds a peer's incoming PEX messages, of either network:
// how many may arrive within a window, how large one may be, how many of
// its peers are taken. Breaking it ends the connection. The two presets are
// the rules of the clients that defined each network, so that pex is
// exactly as strict as they are.
type Rule struct {
	// FloodCount messages within FloodWindow are tolerated; one more is a
	// flood.
	FloodCount  int
	FloodWindow time.Duration
	// MaxTaken bounds the added peers taken from one message; the rest
	// are ignored.
	MaxTaken int
	// MaxMessageSize bounds a message's payload.
	MaxMessageSize int
}

// Limits shared by both presets.
const (
	// DefaultMaxTaken: libtorrent and BiglyBT take at most 50 added peers
	// from one message (BEP 11's sending limit).
	DefaultMaxTaken = 50
	// DefaultMaxMessageSize: 50 added and 50 dropped IPv6 peers with their
	// flags need under 3 KiB; 64 KiB leaves room for any honest sender.
	DefaultMaxMessageSize = 64 << 10
)

// LibtorrentRule is libtorrent's ut_pex rule: it disconnects a peer on the
// 7th message within 60 s (ut_pex.cpp). The default for ut_pex.
func LibtorrentRule() Rule {
	return Rule{FloodCount: 6, FloodWindow: time.Minute, MaxTaken: DefaultMaxTaken, MaxMessageSize: DefaultMaxMessageSize}
}

// BiglyBTRule is BiglyBT's AZ_PEER_EXCHANGE rule: the 8th message within
// 120 s ends the connection. The default for AZMP.
func BiglyBTRule() Rule {
	return Rule{FloodCount: 7, FloodWindow: 2 * time.Minute, MaxTaken: DefaultMaxTaken, MaxMessageSize: DefaultMaxMessageSize}
}

// orDefault fills the zero fields of r from def.
func (r *Rule) orDefault(def Rule) Rule {
	if r == nil {
		return def
	}
	o := *r
	if o.FloodCount <= 0 {
		o.FloodCount = def.FloodCount
	}
	if o.FloodWindow <= 0 {
		o.FloodWindow = def.FloodWindow
	}
	if o.MaxTaken <= 0 {
		o.MaxTaken = def.MaxTaken
	}
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = def.MaxMessageSize
	}
	return o
}

// Errors from a Receiver (ErrFlood from a FloodLimit too). Each ends the
// connection.
var (
	ErrFlood         = errors.New("PEX messages sent too frequently")
	ErrTooLarge      = errors.New("PEX message too large")
	ErrWrongInfoHash = errors.New("azmp: AZ_PEER_EXCHANGE for another infohash")
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

// Receiver holds one peer's PEX messages to a Rule: ut_pex with Receive,
// AZ_PEER_EXCHANGE with ReceiveAZ. Its results are valid until the next
// call; it allocates nothing once its buffers have grown.
type Receiver struct {
	rule    Rule
	flood   *FloodLimit
	msg     Msg
	az      azmp.PeerExchange
	dropped []netip.AddrPort
}

// NewReceiver returns a Receiver for ut_pex; rule may be nil for
// LibtorrentRule, and its zero fields take LibtorrentRule's values.
func NewReceiver(rule *Rule) *Receiver { return newReceiver(rule.orDefault(LibtorrentRule())) }

// NewAZReceiver returns a Receiver for AZ_PEER_EXCHANGE; rule may be nil
// for BiglyBTRule, and its zero fields take BiglyBTRule's values.
func NewAZReceiver(rule *Rule) *Receiver { return newReceiver(rule.orDefault(BiglyBTRule())) }

func newReceiver(r Rule) *Receiver {
	return &Receiver{rule: r, flood: NewFloodLimit(r.FloodCount, r.FloodWindow)}
}

// admit checks a message's size and its arrival at now.
func (r *Receiver) admit(now time.Time, size int) error {
	if size > r.rule.MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, size, r.rule.MaxMessageSize)
	}
	return r.flood.Arrive(now)
}

// Receive checks and decodes one ut_pex message that arrived at now. It
// returns the usable added peers (at most MaxTaken, without self,
// duplicates or unusable addresses) and the dropped ones. An error means
// the connection should be closed.
func (r *Receiver) Receive(now time.Time, payload []byte, self netip.AddrPort) (added []Peer, dropped []netip.AddrPort, err error) {
	if err := r.admit(now, len(payload)); err != nil {
		return nil, nil, fmt.Errorf("ut_pex: %w", err)
	}
	if err := Decode(payload, &r.msg); err != nil {
		return nil, nil, err
	}
	r.msg.Added = take(r.msg.Added, r.rule.MaxTaken, self, utAddr)
	return r.msg.Added, r.msg.Dropped, nil
}

// ReceiveAZ checks and decodes one AZ_PEER_EXCHANGE that arrived at now on
// a connection for infohash, as Receive does; a message for another
// infohash is an error too.
func (r *Receiver) ReceiveAZ(now time.Time, payload []byte, infohash [20]byte, self netip.AddrPort) (added []azmp.Peer, dropped []netip.AddrPort, err error) {
	if err := r.admit(now, len(payload)); err != nil {
		return nil, nil, fmt.Errorf("azmp: AZ_PEER_EXCHANGE: %w", err)
	}
	if err := azmp.DecodePeerExchange(payload, &r.az); err != nil {
		return nil, nil, err
	}
	if r.az.InfoHash != infohash {
		return nil, nil, fmt.Errorf("%w: %x", ErrWrongInfoHash, r.az.InfoHash[:])
	}
	r.az.Added = take(r.az.Added, r.rule.MaxTaken, self, azAddr)
	r.dropped = r.dropped[:0]
	for _, p := range r.az.Dropped {
		r.dropped = append(r.dropped, p.Addr)
	}
	return r.az.Added, r.dropped, nil
}

// take keeps, in place, the first max usable added peers that are neither
// self nor named twice; addr reads a peer's address.
func take[P any](ps []P, max int, self netip.AddrPort, addr func(P) netip.AddrPort) []P {
	kept := ps[:0]
	for i, p := range ps {
		if len(kept) == max {
			break
		}
		a := addr(p)
		if a == self || !Usable(a) || dupBefore(ps[:i], a, addr) {
			continue
		}
		kept = append(kept, p)
	}
	return kept
}

func dupBefore[P any](ps []P, a netip.AddrPort, addr func(P) netip.AddrPort) bool {
	for _, p := range ps {
		if addr(p) == a {
			return true
		}
	}
	return false
}

func utAddr(p Peer) netip.AddrPort      { return p.Addr }
func azAddr(p azmp.Peer) netip.AddrPort { return p.Addr }

// Usable reports whether a peer address can be dialed: a port, and an
// address that is not unspecified, multicast or the IPv4 broadcast.
func Usable(a netip.AddrPort) bool {
	ip := a.Addr().Unmap()
	return a.Port() != 0 && ip.IsValid() && !ip.IsUnspecified() && !ip.IsMulticast() &&
		ip != netip.AddrFrom4([4]byte{255, 255, 255, 255})
}
