package swarm

import (
	"io"
	"slices"
	"time"
)

// A full swarm's referral (refer) is written within ReferralTimeout; then
// the link is half closed and what the peer still sends is read and
// dropped for at most ReferralLinger, at most referralDrain bytes, so
// that closing with unread bytes does not reset the link before the peer
// has read the message.
const (
	ReferralTimeout = 5 * time.Second
	ReferralLinger  = time.Second
	referralDrain   = 64 << 10
)

// refer tells an incoming peer that the swarm has no room for some of the
// peers it does have, in one PEX message, before its link is closed: the
// way gossipsub's PRUNE carries peer exchange. A newcomer that found a
// full peer first, or a crawler, leaves knowing where to go instead of
// with nothing. The message names at most PEXConfig.MaxAdded peers (the
// oldest in the PEX log first), and goes only over a PEX network both
// sides offered; nothing else is read or kept for the peer.
func (c *conn) refer(st linkState) {
	s := c.s
	if st.pexNet == "" {
		return
	}
	pc := s.cfg.PEX.Defaults()
	b := pexBufs.Get().(*pexBuf)
	defer pexBufs.Put(b)
	var cur logCursor
	s.mu.Lock()
	receiver := st.listen
	if !receiver.IsValid() {
		receiver = c.addr
	}
	s.log.read(&cur, receiver, pc.MaxAdded, 0, &b.m)
	s.mu.Unlock()
	if len(b.m.Added) == 0 {
		return
	}
	frame, ok, err := c.net.pexFrame(b)
	if err != nil || !ok {
		return
	}
	c.wmu.Lock()
	c.nc.SetWriteDeadline(time.Now().Add(ReferralTimeout))
	_, err = c.nc.Write(frame)
	c.wmu.Unlock()
	if err != nil {
		return
	}
	s.counts.add(func(c *counters) { bump(&c.pexSent, st.pexNet); c.referrals++ })
	s.emit(Event{Type: EventPEXSent, Peer: c.addr, Net: st.pexNet, Added: addrs(b.m.Added), Dropped: slices.Clone(b.m.Dropped)})
	if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	c.nc.SetReadDeadline(time.Now().Add(ReferralLinger))
	io.Copy(io.Discard, io.LimitReader(&c.in, referralDrain))
}
