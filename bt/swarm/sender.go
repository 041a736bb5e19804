package swarm

import (
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// pexBufs hold what a PEX message is built in, shared by every
// connection: a message a minute is not worth buffers kept per connection,
// nor new ones each time.
var pexBufs = sync.Pool{New: func() any { return new(pexBuf) }}

// pexBuf is one message's buffers: the message, its payload and frame,
// and for AZMP its AZ_PEER_EXCHANGE form.
type pexBuf struct {
	m              pex.Msg
	payload, frame []byte
	am             azmp.PeerExchange
}

// sender sends a connection's PEX messages when they are due and there is
// something to tell, and keep-alives when the link has been quiet. It is
// a timer, not a goroutine: it fires at the next of the PEX message's due
// time and the keep-alive's, when the link's PEX state changes (kick), and,
// once a message is due with nothing to tell, PEXSettleDelay after the
// swarm's PEX log grows (pexLog.notify). A connection with nothing due
// costs its timer and this struct. A message costs the log entries it
// reads from the link's cursor, never a walk of the peer set (pexlog.go).
//
// The timer is never moved while it is pending: each firing arms a new
// one and stops the old, and a kick fires on a goroutine of its own. The
// Go runtime keeps a moved timer's heap position stale until a scheduler
// pass walks every timer of the process to fix it, so moving timers at
// the rate a swarm's log notifies its waiting links made the scheduler's
// timer walks most of a many-swarm process's CPU (pex sim bt).
type sender struct {
	mu        sync.Mutex  // one firing at a time
	timer     *time.Timer // the next firing, from startSender on; replaced, not Reset
	kicked    atomic.Bool // a kick's firing is on its way
	stopped   bool
	lastWrite time.Time // real time of the last bytes written
	lastSent  time.Time // swarm time of the last PEX message
	notBefore time.Time // swarm time before which no PEX message goes
}

// startSender arms the sender: the first message waits PEXSettleDelay.
func (c *conn) startSender() {
	s := c.s
	c.send.mu.Lock()
	defer c.send.mu.Unlock()
	c.send.lastWrite = time.Now()
	c.send.notBefore = s.now().Add(s.protocol(PEXSettleDelay))
	c.send.timer = time.AfterFunc(s.real(s.protocol(PEXSettleDelay)), c.fire)
}

// stopSender stops the timer and waits for a firing in progress.
func (c *conn) stopSender() {
	c.send.mu.Lock()
	c.send.stopped = true
	if c.send.timer != nil {
		c.send.timer.Stop()
	}
	c.send.mu.Unlock()
	c.s.mu.Lock()
	delete(c.s.log.waiters, c)
	c.s.mu.Unlock()
}

// kick fires the sender now, on a goroutine of its own: once for however
// many kicks come before that firing starts. It takes no lock
// (pexLog.notify calls it under the swarm's) and leaves the timer alone.
func (c *conn) kick() {
	if !c.send.kicked.Swap(true) {
		go c.fire()
	}
}

// fire sends what is due and arms the timer for the next firing.
func (c *conn) fire() {
	snd := &c.send
	snd.mu.Lock()
	defer snd.mu.Unlock()
	snd.kicked.Store(false) // a kick from here on fires again after this
	if snd.stopped || snd.timer == nil {
		return // ended, or not started: startSender arms the first firing
	}
	s := c.s
	s.counts.wakeups.Add(1)
	pc := s.cfg.PEX.Defaults()
	due := func() time.Time { // the next message's due time, never before notBefore
		if d := snd.lastSent.Add(pc.Interval); !snd.lastSent.IsZero() && d.After(snd.notBefore) {
			return d
		}
		return snd.notBefore
	}
	now, realNow := s.now(), time.Now()
	b := pexBufs.Get().(*pexBuf)
	defer pexBufs.Put(b)
	m := &b.m
	m.Reset()
	sent, waiting := false, false
	var intros []*conn // links to tell of c, with its first message (introduce.go)
	s.mu.Lock()
	if c.news {
		c.news = false
		snd.notBefore = now.Add(s.protocol(PEXSettleDelay))
	}
	pexNet := c.pexNet
	if pexNet != "" && !now.Before(due()) {
		if s.log.pending(&c.cursor) {
			s.log.read(&c.cursor, c.listen, pc.MaxAdded, pc.MaxDropped, m)
			sent = len(m.Added) > 0 || len(m.Dropped) > 0
			if sent && snd.lastSent.IsZero() {
				intros = s.introductionsLocked(c, m.Added)
			}
		}
		if !sent {
			waiting = true // nothing to tell: woken by the next entry
			s.log.waiters[c] = struct{}{}
		}
	}
	s.mu.Unlock()
	if sent {
		// A message a minute: its buffers are the swarm's, not the link's.
		ok, err := c.sendPEX(b, pexNet, WriteTimeout)
		if err != nil {
			c.nc.Close() // the reader sees it and ends the link
			return
		}
		if ok {
			snd.lastWrite, snd.lastSent = realNow, now
			s.introduce(c, intros)
		}
	}
	if !realNow.Before(snd.lastWrite.Add(KeepAliveInterval)) {
		if ka := c.net.keepAlive(); ka != nil && c.write(ka) != nil {
			c.nc.Close()
			return
		}
		snd.lastWrite = realNow
	}
	wait := snd.lastWrite.Add(KeepAliveInterval).Sub(realNow)
	if pexNet != "" && !waiting {
		wait = min(wait, s.real(due().Sub(now)))
	}
	snd.timer.Stop() // pending when a kick fired this, spent otherwise
	snd.timer = time.AfterFunc(max(wait, 0), c.fire)
}

// sendPEX frames the message in b for the link's network and writes it
// within d, then counts and reports it. ok is false when the network
// frames nothing (the peer takes no PEX) and err when the write failed.
func (c *conn) sendPEX(b *pexBuf, pexNet string, d time.Duration) (ok bool, err error) {
	frame, ok, err := c.net.pexFrame(b)
	if err != nil || !ok {
		return false, nil
	}
	if err := c.writeWithin(frame, d); err != nil {
		return false, err
	}
	s := c.s
	s.counts.add(func(c *counters) { bump(&c.pexSent, pexNet) })
	s.emit(Event{Type: EventPEXSent, Peer: c.addr, Net: pexNet, Added: addrs(b.m.Added), Dropped: slices.Clone(b.m.Dropped)})
	return true, nil
}
