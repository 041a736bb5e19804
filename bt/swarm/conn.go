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
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
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
	// pexFrame frames b.m for this peer in b's buffers (the frame aliases
	// b.frame); ok is false when the peer takes no PEX (yet).
	pexFrame(b *pexBuf) (frame []byte, ok bool, err error)
	// keepAlive returns a keep-alive message, or nil when the peer takes
	// none.
	keepAlive() []byte
	// handshakeDue is when a handshake still awaited is due (the
	// extended one, for LTEP), zero when none is.
	handshakeDue() time.Time
	// release gives back the buffer of the last message read.
	release()
}

// conn is one peer connection.
type conn struct {
	s        *Swarm
	nc       net.Conn
	addr     netip.AddrPort
	source   string
	from     netip.AddrPort // the peer that named it, for a dial learned by PEX
	outgoing bool
	mse      bool       // the link runs over MSE
	net      network    // set once the BitTorrent handshake chose it
	send     sender     // PEX messages and keep-alives, on a timer (sender.go)
	in       peekReader // what the network's reader reads: nc, after the byte readLoop read ahead (reader.go)
	opening  *opening   // an incoming link's place in the handshake budget
	wmu      sync.Mutex
	closeBy  atomic.Int64 // unix ns by which an evicted link's reader ends it (evict); 0 for none
	dup      atomic.Bool  // closed as the second link to one peer (dedup.go)
	replaced atomic.Bool  // closed as given up on by the peer (dedup.go)

	// guarded by s.mu
	slot       bool      // holds one of MaxPeers' slots
	useful     bool      // sent a PEX message we took
	evicted    bool      // closed to make room for a newcomer
	readyAt    time.Time // when its handshakes were done
	ready      bool
	listen     netip.AddrPort
	client     string
	encryption bool
	pexNet     string   // NetUTPex or NetAZMP once both sides speak it
	utp        bool     // the link runs over uTP
	punched    bool     // the link followed a hole punch's connect message
	hp         byte     // the extended id the peer takes ut_holepunch under; 0 for none
	peerID     [20]byte // from its BitTorrent handshake, once hasID
	hasID      bool
	yourIP     netip.Addr    // the address it says it sees us at (its yourip)
	rdvIn      *rate.Limiter // rendezvous it may ask of us (relay)
	rdvErrs    *rate.Limiter // errors we answer its rendezvous with past rdvIn (holepunch_relay.go)
	rdvOut     *rate.Limiter // rendezvous we may ask of it (initiator)
	connectsIn *rate.Limiter // connect messages we take from it
	introsIn   *rate.Limiter // introductions we may send it (introduce.go)
	cursor     logCursor     // where in the PEX log its next message starts
	news       bool          // the PEX log grew while it waited (pexLog.notify)
}

// live reports whether the link counts as a connected peer: past its
// handshakes and not evicted (an evicted link lingers a moment with its
// referral, referral.go). Called under s.mu.
func (c *conn) live() bool { return c.ready && !c.evicted }

func (c *conn) info() PeerInfo {
	return PeerInfo{Addr: c.addr, Listen: c.listen, Client: c.client, Source: c.source, Outgoing: c.outgoing, PEX: c.pexNet != "", Net: c.pexNet, Encrypted: c.mse, UTP: c.utp, Holepunch: c.hp != 0, Punched: c.punched}
}

func (c *conn) write(b []byte) error { return c.writeWithin(b, WriteTimeout) }

// writeWithin writes b, failing when it takes longer than d.
func (c *conn) writeWithin(b []byte, d time.Duration) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(d))
	_, err := c.nc.Write(b)
	c.nc.SetWriteDeadline(time.Time{}) // no timer left armed on an idle link
	return err
}

// runConn drives one connection until it ends: nc is an outgoing one whose
// MSE handshake, if any, is done (encrypted), or an incoming one that may
// still open with MSE and holds op, its place in the handshake budget,
// until its handshakes are done.
func (s *Swarm) runConn(nc net.Conn, addr netip.AddrPort, source string, outgoing, encrypted bool, op *opening, from netip.AddrPort) {
	viaUTP := isUTP(nc)
	if !outgoing {
		// An incoming peer may open with MSE (aria2, rtorrent and others
		// try it first; some insist on it).
		// Close need not wait for the handshake; the closure reads a copy
		// of nc, which is replaced below.
		raw := nc
		stop := context.AfterFunc(s.ctx, func() { raw.Close() })
		mc, enc, err := s.acceptOpening(nc)
		stop()
		if err != nil {
			nc.Close()
			op.leave()
			s.openingFailed(addr, op, err)
			return
		}
		nc, encrypted = mc, enc
	}
	c := &conn{s: s, nc: nc, addr: addr, source: source, from: from, outgoing: outgoing, mse: encrypted, encryption: encrypted, opening: op, utp: viaUTP, punched: source == SourceHolepunch}
	c.in.nc = nc
	if outgoing {
		c.listen = addr
	}
	if !s.register(c) {
		nc.Close()
		op.leave()
		return
	}
	if err := c.handshake(); err != nil {
		s.endConn(c, err)
		return
	}
	// The link is read by a goroutine of its own from here: the handshakes
	// grew this one's stack, and an idle link should hold a small one.
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.endConn(c, c.readLoop())
	}()
}

// endConn closes a connection that ended for reason and reports it: as
// disconnected when it had been announced connected, and otherwise as a
// failed dial (outgoing) or a failed opening (incoming).
func (s *Swarm) endConn(c *conn, reason error) {
	c.stopSender()
	c.nc.Close()
	c.opening.leave()
	addr := c.addr
	wasReady := s.unregister(c)
	switch {
	case wasReady:
		if c.evicted {
			reason = errEvicted
		}
		if c.dup.Load() {
			reason = errDuplicate
		}
		if c.replaced.Load() {
			reason = errReplaced
		}
		if isFlood(reason) {
			s.counts.add(func(c *counters) { c.floods++ })
		}
		s.cfg.Logger.Debug("swarm: disconnected", "peer", addr, "err", reason)
		s.emit(Event{Type: EventDisconnected, Peer: addr, Source: c.source, Err: reason})
	case !c.outgoing:
		s.openingFailed(addr, c.opening, reason)
	}
	if errors.Is(reason, errSelf) && c.outgoing {
		s.mu.Lock()
		s.addSelfLocked(addr) // a listen address of ours: never dial it again
		s.mu.Unlock()
	}
	var retry time.Duration
	if c.source == SourceManual && c.outgoing && !errors.Is(reason, errSelf) {
		retry = s.redial(addr, !wasReady)
	}
	if !wasReady && c.outgoing {
		// The dial reached the peer but the handshakes failed: to the
		// user, a dial that did not connect.
		s.cfg.Logger.Debug("swarm: handshake failed", "peer", addr, "err", reason)
		s.emit(Event{Type: EventDialFailed, Peer: addr, Source: c.source, From: c.from, Err: reason, Retry: retry})
	}
}

// handshake exchanges BitTorrent handshakes, picks the network both sides
// prefer, runs its handshake and starts the sender (sender.go).
func (c *conn) handshake() error {
	s := c.s
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	if s.azOn() {
		azmp.Offer(&hs.Reserved)
	}
	hs.InfoHash, hs.PeerID = s.ih, s.cfg.PeerID
	c.nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	werr := c.write(hs.Append(nil))
	// Read even when ours could not be written: what the peer sent
	// before it left says best why it did.
	theirs, err := readHandshake(c.nc, s.cfg.HandshakeTimeout, c.outgoing)
	switch {
	case werr != nil && (err == nil && theirs.InfoHash == s.ih || errors.Is(err, ErrHandshakeTimeout)):
		return writeErr(werr)
	case err != nil:
		return err
	case theirs.InfoHash != s.ih:
		return fmt.Errorf("%w: the peer's handshake is for swarm %x, not %x", ErrWrongInfoHash, theirs.InfoHash, s.ih)
	case werr != nil:
		return writeErr(werr)
	}
	if theirs.PeerID == s.cfg.PeerID {
		return errSelf
	}
	if err := s.dedupe(c, theirs.PeerID); err != nil {
		return err
	}
	c.nc.SetDeadline(time.Time{})
	if azmp.Chosen(hs.Reserved, theirs.Reserved) && !(extPeer(s.cfg.PeerID) && extPeer(theirs.PeerID) && theirs.LTEP()) {
		c.net = &azLink{c: c}
	} else {
		c.net = &ltepLink{c: c, ltep: theirs.LTEP()}
	}
	if err := c.net.open(); err != nil {
		return err
	}
	c.startSender()
	return nil
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
	hp         byte           // the extended id it takes ut_holepunch under, 0 for none
	encryption bool           // the peer prefers encryption
}

// update records what the peer told; the first call announces the link as
// connected (announce false delays that, for a peer whose extended
// handshake is still to come). An incoming link takes one of MaxPeers'
// slots then; it fails with errFull when there is none.
func (c *conn) update(st linkState, announce bool) error {
	s := c.s
	s.mu.Lock()
	first := !c.ready && announce
	if first && !c.slot && !s.slotLocked(c) {
		s.mu.Unlock()
		c.refer(st)
		return errFull
	}
	defer s.mu.Unlock()
	c.client, c.pexNet, c.hp = st.client, st.pexNet, st.hp
	c.encryption = c.encryption || st.encryption
	s.setListenLocked(c, st.listen)
	s.settleHintLocked(c) // PEX's 0x08 for this peer, if it had one, was a hint
	if first {
		c.opening.leave() // the handshakes are done
		c.ready, c.readyAt = true, s.now()
		if !c.outgoing {
			s.counts.add(func(c *counters) { bump(&c.learned, SourceIncoming) })
		}
		_, dialed := s.dials.records[c.addr]
		s.emitLocked(Event{Type: EventConnected, Peer: c.addr, Listen: c.listen, Client: st.client, Source: c.source, Net: st.pexNet, Encrypted: c.mse, Outgoing: c.outgoing,
			UTP: c.utp, Holepunch: c.punched, Solicited: !c.outgoing && c.utp && (dialed || c.punched)})
		s.syncPEXLocked(c.listen)
	}
	c.kick() // the sender looks at the link's PEX state again
	return nil
}

// received reports a PEX message and hands the peers it named to the peer
// set. added and dropped belong to the caller's event.
func (c *conn) received(net string, added []netip.AddrPort, flags []pex.Flags, dropped []netip.AddrPort) {
	s := c.s
	s.mu.Lock()
	defer s.mu.Unlock()
	c.useful = true
	s.counts.add(func(c *counters) { bump(&c.pexReceived, net) })
	s.emitLocked(Event{Type: EventPEXReceived, Peer: c.addr, Net: net, Added: added, Dropped: dropped})
	for _, d := range dropped {
		s.unhintLocked(d, c.addr)
	}
	if c.yourIP.IsValid() {
		// Not ourselves: the address this peer sees us at, with the port
		// we tell, is ours, though one peer's word is not enough to
		// believe it for every peer (nat.go). A peer that lists us back
		// to ourselves (libtorrent may) would have us dial ourselves, and
		// ask a relay to introduce us to ourselves.
		own := netip.AddrPortFrom(c.yourIP, uint16(s.publicPortNow()))
		if i := slices.Index(added, own); i >= 0 {
			added = slices.Delete(slices.Clone(added), i, i+1)
			if i < len(flags) {
				flags = slices.Delete(slices.Clone(flags), i, i+1)
			}
		}
	}
	s.learnLocked(added, flags, c.addr, net)
}

func addrs(ps []pex.Peer) []netip.AddrPort {
	out := make([]netip.AddrPort, len(ps))
	for i, p := range ps {
		out[i] = p.Addr
	}
	return out
}
