package swarm

import (
	"net/netip"
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
	if !c.sendReferral(st.pexNet, st.listen) {
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
	pexNet, listen := c.pexNet, c.listen
	s.mu.Unlock()
	if !c.sendReferral(pexNet, listen) {
		c.nc.Close()
		return
	}
	halfClose(c)
	c.closeBy.Store(time.Now().Add(ReferralLinger).UnixNano())
	c.nc.SetReadDeadline(time.Now()) // the reader wakes and lingers (readLoop)
}

// sendReferral writes the referral over pexNet to the peer, leaving out
// listen, the address it said it listens on (its own address when it said
// none). It reports whether a message went.
func (c *conn) sendReferral(pexNet string, listen netip.AddrPort) bool {
	s := c.s
	if pexNet == "" {
		return false
	}
	if !listen.IsValid() {
		listen = c.addr
	}
	pc := s.cfg.PEX.Defaults()
	b := pexBufs.Get().(*pexBuf)
	defer pexBufs.Put(b)
	var cur logCursor
	s.mu.Lock()
	s.log.read(&cur, listen, pc.MaxAdded, 0, &b.m)
	s.mu.Unlock()
	if len(b.m.Added) == 0 {
		return false
	}
	if ok, _ := c.sendPEX(b, pexNet, ReferralTimeout); !ok {
		return false
	}
	s.counts.add(func(c *counters) { c.referrals++ })
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
