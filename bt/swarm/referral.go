package swarm

import (
	"net/netip"
	"slices"
	"time"
)

// A referral is written within ReferralTimeout; then the link is half
// closed and what the peer still sends is read and dropped for at most
// ReferralLinger and referralDrain bytes (conn.linger), so that closing
// with unread bytes does not reset the link before the peer has read the
// message.
const (
	ReferralTimeout = 5 * time.Second
	ReferralLinger  = time.Second
	referralDrain   = 64 << 10
)

// A peer the swarm has no room for leaves with a referral: one PEX message
// naming peers the swarm has, the way gossipsub's PRUNE carries peer
// exchange. A newcomer that found a full peer first, or a crawler, leaves
// knowing where to go instead of with nothing. The message names at most
// PEXConfig.MaxAdded peers (the oldest in the PEX log first) and goes only
// over a PEX network both sides offered. Two peers get one: an incoming
// peer turned away when its handshakes are done and no slot can be freed
// (refer), and the idle incoming peer whose slot a newcomer takes (evict).

// refer sends an incoming peer that found no slot its referral and lingers
// on the handshake's goroutine; the caller closes the link after.
func (c *conn) refer(st linkState) {
	receiver := st.listen
	if !receiver.IsValid() {
		receiver = c.addr
	}
	if !c.sendReferral(st.pexNet, receiver) {
		return
	}
	halfClose(c)
	c.linger(time.Now().Add(ReferralLinger))
}

// evict ends a link whose slot a newcomer took (slotLocked): it sends the
// peer its referral, half closes the link, and has the reader end it once
// ReferralLinger has passed, reading what the peer still sends until then.
func (c *conn) evict() {
	s := c.s
	c.stopSender() // nothing more but the referral
	s.mu.Lock()
	pexNet, receiver := c.pexNet, c.listen
	s.mu.Unlock()
	if !c.sendReferral(pexNet, receiver) {
		c.nc.Close()
		return
	}
	halfClose(c)
	c.closeBy.Store(time.Now().Add(ReferralLinger).UnixNano())
	c.nc.SetReadDeadline(time.Now()) // the reader wakes and lingers (readLoop)
}

// sendReferral writes the referral over pexNet to the peer listening on
// receiver (left out of it). It reports whether a message went.
func (c *conn) sendReferral(pexNet string, receiver netip.AddrPort) bool {
	s := c.s
	if pexNet == "" {
		return false
	}
	pc := s.cfg.PEX.Defaults()
	b := pexBufs.Get().(*pexBuf)
	defer pexBufs.Put(b)
	var cur logCursor
	s.mu.Lock()
	s.log.read(&cur, receiver, pc.MaxAdded, 0, &b.m)
	s.mu.Unlock()
	if len(b.m.Added) == 0 {
		return false
	}
	frame, ok, err := c.net.pexFrame(b)
	if err != nil || !ok {
		return false
	}
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(ReferralTimeout))
	_, err = c.nc.Write(frame)
	c.wmu.Unlock()
	if err != nil {
		return false
	}
	s.counts.add(func(c *counters) { bump(&c.pexSent, pexNet); c.referrals++ })
	s.emit(Event{Type: EventPEXSent, Peer: c.addr, Net: pexNet, Added: addrs(b.m.Added), Dropped: slices.Clone(b.m.Dropped)})
	return true
}

// halfClose ends the writing side of c's link, when its connection can.
func halfClose(c *conn) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
