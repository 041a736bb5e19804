package webrtc

import (
	"sync"
	"sync/atomic"
	"time"
)

// consentPacer paces the consent checks (RFC 7675) of one established
// link: the STUN binding requests that tell each side the other is still
// there and keep NAT bindings open. pion's ICE agent sends one from each
// side every 2 s whatever its keep-alive setting (its check loop never
// waits longer), and an idle link's CPU is mostly those checks and their
// answers: a wake-up for each packet at both ends. Once the data channel
// is open, the pacer lets this side's checks out at most once per
// interval if this side is the ICE controlling agent, and none if it is
// the controlled one: the controlled side answers the other's checks, and
// every full ICE agent (pion, libwebrtc, browsers) checks as controlling.
// Each side still hears from the other once per interval, and a side that
// hears nothing for ConsentTimeout fails the link (pion's timeouts, set
// from the Config).
//
// Connectivity checks before the channel opens are never held.
type consentPacer struct {
	every   time.Duration // 0: pion's own schedule, nothing held
	settled atomic.Bool   // the data channel is open

	mu       sync.Mutex
	checking bool      // this side is controlling: it checks, paced
	last     time.Time // when this side's last check went out
	sent     int       // checks let out since settling
	held     int       // checks withheld since settling
}

// settle starts pacing: the link is up, and this side checks (paced) if
// it is the controlling agent.
func (p *consentPacer) settle(controlling bool) {
	if p.every <= 0 {
		return
	}
	p.mu.Lock()
	p.checking = controlling
	p.mu.Unlock()
	p.settled.Store(true)
}

// allow reports whether the packet b may go out. Everything but a consent
// check on a settled link passes; the common case is one atomic load. A
// nil pacer holds nothing.
func (p *consentPacer) allow(b []byte) bool {
	if p == nil || !p.settled.Load() || !isBindingRequest(b) {
		return true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	if !p.checking || (!p.last.IsZero() && now.Sub(p.last) < p.every) {
		p.held++
		return false
	}
	p.last = now
	p.sent++
	return true
}

// counts returns the checks let out and withheld since settling.
func (p *consentPacer) counts() (sent, held int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.held
}

// isBindingRequest reports whether b is a STUN binding request (RFC 8489),
// or one in a TURN ChannelData message (RFC 8656: how pion's TURN client
// sends to a peer once it has bound a channel).
func isBindingRequest(b []byte) bool {
	if len(b) >= 4 && b[0]&0xc0 == 0x40 {
		b = b[4:] // ChannelData: channel number, length, data
	}
	return len(b) >= 20 && b[0] == 0x00 && b[1] == 0x01 && // class request, method Binding
		b[4] == 0x21 && b[5] == 0x12 && b[6] == 0xa4 && b[7] == 0x42 // magic cookie
}

// iceTimeouts maps ConsentTimeout onto pion's two ICE timeouts: half
// without a packet before the link counts as disconnected (pion's state,
// only logged here), all of it before it fails and closes.
func iceTimeouts(consentTimeout time.Duration) (disconnected, failed time.Duration) {
	disconnected = consentTimeout / 2
	return disconnected, consentTimeout - disconnected
}
