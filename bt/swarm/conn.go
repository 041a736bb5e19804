package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/internal/gate"
	"golang.org/x/time/rate"
)

// PEX networks, as in Event.Net and PeerInfo.Net.
const (
	NetUTPex = "ut_pex" // BEP 11 over the extension protocol (BEP 10)
	NetAZMP  = "azmp"   // Vuze's AZ_PEER_EXCHANGE over AZMP
)

// network is one PEX network's side of a connection: LTEP with ut_pex
// (ltep.go) or AZMP with AZ_PEER_EXCHANGE (azmp.go). The connection runs
// its handshake, feeds it every message, and asks it to frame what the
// swarm sends.
type network interface {
	// open runs the network's own handshake after the BitTorrent one.
	open() error
	// readOne reads and handles one message.
	readOne() error
	// pexFrame frames m for this peer; ok is false when the peer takes no
	// PEX (yet).
	pexFrame(dst []byte, m *pex.Msg) (frame []byte, ok bool, err error)
	// keepAlive returns a keep-alive message, or nil when the peer takes
	// none.
	keepAlive() []byte
}

// conn is one peer connection.
type conn struct {
	s        *Swarm
	nc       net.Conn
	addr     netip.AddrPort
	source   string
	from     netip.AddrPort // the peer that named it, for a dial learned by PEX
	outgoing bool
	mse      bool          // the link runs over MSE
	net      network       // set once the BitTorrent handshake chose it
	wake     chan struct{} // pokes the sender when the link's PEX state changed
	ticket   *gate.Ticket  // an incoming link's place in the handshake budget
	wmu      sync.Mutex

	// guarded by s.mu
	slot       bool      // holds one of MaxPeers' slots
	useful     bool      // sent a PEX message we took
	evicted    bool      // closed to make room for a newcomer
	readyAt    time.Time // when its handshakes were done
	ready      bool
	listen     netip.AddrPort
	client     string
	encryption bool
	pexNet     string    // NetUTPex or NetAZMP once both sides speak it
	cursor     logCursor // where in the PEX log its next message starts
}

func (c *conn) info() PeerInfo {
	return PeerInfo{Addr: c.addr, Listen: c.listen, Client: c.client, Source: c.source, Outgoing: c.outgoing, PEX: c.pexNet != "", Net: c.pexNet, Encrypted: c.mse}
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(WriteTimeout))
	_, err := c.nc.Write(b)
	return err
}

// poke wakes the sender without blocking.
func (c *conn) poke() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// runConn drives one connection until it ends: nc is an outgoing one whose
// MSE handshake, if any, is done (encrypted), or an incoming one that may
// still open with MSE and holds ticket until its handshakes are done.
func (s *Swarm) runConn(nc net.Conn, addr netip.AddrPort, source string, outgoing, encrypted bool, ticket *gate.Ticket, from netip.AddrPort) {
	if !outgoing {
		// An incoming peer may open with MSE (aria2, rtorrent and others
		// try it first; some insist on it).
		stop := context.AfterFunc(s.ctx, func() { nc.Close() }) // Close need not wait for it
		mc, enc, err := mse.Accept(nc, s.ih, time.Now().Add(s.cfg.HandshakeTimeout))
		stop()
		if err != nil {
			s.cfg.Logger.Debug("swarm: incoming handshake failed", "peer", addr, "err", err)
			nc.Close()
			return
		}
		nc, encrypted = mc, enc
	}
	c := &conn{s: s, nc: nc, addr: addr, source: source, from: from, outgoing: outgoing, mse: encrypted, encryption: encrypted, wake: make(chan struct{}, 1), ticket: ticket}
	if outgoing {
		c.listen = addr
	}
	if !s.register(c) {
		nc.Close()
		return
	}
	reason := c.run()
	nc.Close()
	if s.unregister(c) {
		if c.evicted {
			reason = errEvicted
		}
		if isFlood(reason) {
			s.counts.add(func(c *counters) { c.floods++ })
		}
		s.emit(Event{Type: EventDisconnected, Peer: addr, Err: reason})
	}
	if errors.Is(reason, errSelf) && outgoing {
		s.mu.Lock()
		s.addSelfLocked(addr) // a listen address of ours: never dial it again
		s.mu.Unlock()
	}
	if source == SourceManual && outgoing && !errors.Is(reason, errSelf) {
		s.redial(addr, false)
	}
}

var (
	errMessageFlood = errors.New("messages sent too frequently")
	errSelf         = errors.New("connected to ourselves")
	errEvicted      = errors.New("evicted: the swarm was full and this peer had sent nothing useful")
)

// run exchanges BitTorrent handshakes, picks the network both sides
// prefer, runs its handshake, and then reads until the link ends while a
// sender goroutine keeps PEX and keep-alives going.
func (c *conn) run() error {
	s := c.s
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	if s.azOn() {
		azmp.Offer(&hs.Reserved)
	}
	hs.InfoHash, hs.PeerID = s.ih, s.cfg.PeerID
	c.nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err := c.write(hs.Append(nil)); err != nil {
		return err
	}
	theirs, err := wire.ReadHandshake(c.nc)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if theirs.InfoHash != s.ih {
		return errors.New("handshake for another infohash")
	}
	if theirs.PeerID == s.cfg.PeerID {
		return errSelf
	}
	c.nc.SetDeadline(time.Time{})
	if azmp.Chosen(hs.Reserved, theirs.Reserved) {
		c.net = &azLink{c: c}
	} else {
		c.net = &ltepLink{c: c, ltep: theirs.LTEP()}
	}
	if err := c.net.open(); err != nil {
		return err
	}
	done := make(chan struct{})
	defer close(done)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.sendLoop(done)
	}()
	msgs := rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst)
	for {
		c.nc.SetReadDeadline(time.Now().Add(IdleTimeout))
		if err := c.net.readOne(); err != nil {
			return err
		}
		if !msgs.Allow() {
			return errMessageFlood
		}
	}
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("closed by peer")
	}
	return err
}

// linkState is what a network's handshake told of the peer.
type linkState struct {
	client     string
	pexNet     string         // NetUTPex, NetAZMP or ""
	listen     netip.AddrPort // an incoming peer's listen address, if told
	encryption bool           // the peer prefers encryption
}

// errFull ends an incoming link that finished its handshakes when every
// slot is taken by peers that cannot be evicted.
var errFull = errors.New("swarm full")

// update records what the peer told; the first call announces the link as
// connected (announce false delays that, for a peer whose extended
// handshake is still to come). An incoming link takes one of MaxPeers'
// slots then; it fails with errFull when there is none.
func (c *conn) update(st linkState, announce bool) error {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	first := !c.ready && announce
	if first && !c.slot && !s.slotLocked(c) {
		return errFull
	}
	c.client, c.pexNet = st.client, st.pexNet
	c.encryption = c.encryption || st.encryption
	s.setListenLocked(c, st.listen)
	if first {
		if c.ticket != nil {
			c.ticket.Leave() // the handshakes are done
		}
		c.ready, c.readyAt = true, s.now()
		if !c.outgoing {
			s.counts.add(func(c *counters) { bump(&c.learned, SourceIncoming) })
		}
		s.emitLocked(Event{Type: EventConnected, Peer: c.addr, Listen: c.listen, Client: st.client, Source: c.source, Net: st.pexNet, Encrypted: c.mse, Outgoing: c.outgoing})
		s.syncPEXLocked(c.listen)
	}
	c.poke()
	return nil
}

// received reports a PEX message and hands the peers it named to the peer
// set. added and dropped belong to the caller's event.
func (c *conn) received(net string, added, dropped []netip.AddrPort) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.useful = true
	s.counts.add(func(c *counters) { bump(&c.pexReceived, net) })
	s.emitLocked(Event{Type: EventPEXReceived, Peer: c.addr, Net: net, Added: added, Dropped: dropped})
	s.learnLocked(added, c.addr, net)
}

// sendLoop sends this peer PEX messages when they are due and there is
// something to tell, and keep-alives when the link has been quiet. It
// sleeps until the next of: the PEX message's due time, the keep-alive's,
// a change of this link's PEX state and, once a message is due with
// nothing to tell, the next entry of the swarm's PEX log (and
// PEXSettleDelay after it). A message costs the log entries it reads from
// the link's cursor, never a walk of the peer set (pexlog.go).
func (c *conn) sendLoop(done <-chan struct{}) {
	s := c.s
	pc := s.cfg.PEX.Defaults()
	var m pex.Msg
	var buf []byte // for one message: a PEX message a minute is not worth a buffer held between them
	// PEX's interval runs on the swarm's clock; keep-alives and the settle
	// delay on real time (clock.go).
	lastWrite := time.Now()
	notBefore := s.now().Add(s.protocol(PEXSettleDelay))
	var lastSent time.Time
	due := func() time.Time { // the next message's due time, never before notBefore
		if d := lastSent.Add(pc.Interval); !lastSent.IsZero() && d.After(notBefore) {
			return d
		}
		return notBefore
	}
	timer := time.NewTimer(KeepAliveInterval)
	defer timer.Stop()
	for {
		var changed <-chan struct{}
		now, realNow := s.now(), time.Now()
		sent := false
		s.mu.Lock()
		pexNet := c.pexNet
		if pexNet != "" && !now.Before(due()) {
			if s.log.pending(&c.cursor) {
				s.log.read(&c.cursor, c.listen, pc.MaxAdded, pc.MaxDropped, &m)
				sent = len(m.Added) > 0 || len(m.Dropped) > 0
			}
			if !sent {
				changed = s.log.changed // nothing to tell: wait for news
			}
		}
		s.mu.Unlock()
		if sent {
			if frame, ok, err := c.net.pexFrame(buf[:0], &m); err == nil && ok {
				if c.write(frame) != nil {
					return
				}
				lastWrite, lastSent = realNow, now
				s.counts.add(func(c *counters) { bump(&c.pexSent, pexNet) })
				s.emit(Event{Type: EventPEXSent, Peer: c.addr, Net: pexNet, Added: addrs(m.Added), Dropped: slices.Clone(m.Dropped)})
			}
			m = pex.Msg{} // a message a minute: not worth its slices held between them
		}
		if !realNow.Before(lastWrite.Add(KeepAliveInterval)) {
			if ka := c.net.keepAlive(); ka != nil && c.write(ka) != nil {
				return
			}
			lastWrite = realNow
		}
		wait := lastWrite.Add(KeepAliveInterval).Sub(realNow)
		if pexNet != "" && changed == nil {
			wait = min(wait, s.real(due().Sub(now)))
		}
		timer.Reset(wait)
		select {
		case <-done:
			return
		case <-timer.C:
		case <-c.wake:
		case <-changed: // nil, and so never ready, unless waiting for news
			notBefore = s.now().Add(s.protocol(PEXSettleDelay))
		}
	}
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

func addrs(ps []pex.Peer) []netip.AddrPort {
	out := make([]netip.AddrPort, len(ps))
	for i, p := range ps {
		out[i] = p.Addr
	}
	return out
}
