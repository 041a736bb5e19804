package swarm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// PEX networks, as in Event.Net and PeerInfo.Net.
const (
	NetUTPex = "ut_pex" // BEP 11 over the extension protocol (BEP 10)
	NetAZMP  = "azmp"   // Vuze's AZ_PEER_EXCHANGE over AZMP
)

// conn is one peer connection.
type conn struct {
	s          *Swarm
	nc         net.Conn
	addr       netip.AddrPort
	source     string
	outgoing   bool
	az         bool // the connection runs AZMP: every message is AZ-framed
	mse        bool // the peer opened the connection with MSE
	wmu        sync.Mutex
	ready      bool           // guarded by s.mu
	listen     netip.AddrPort // guarded by s.mu
	client     string         // guarded by s.mu
	encryption bool           // guarded by s.mu
	pexNet     string         // NetUTPex or NetAZMP once both sides speak it; guarded by s.mu
	theirPex   int            // ut_pex: the id they receive it under; guarded by s.mu
	azVer      byte           // azmp: the AZ_PEER_EXCHANGE version we send; guarded by s.mu
	azKeep     bool           // azmp: they take BT_KEEP_ALIVE; guarded by s.mu
}

func (c *conn) info() PeerInfo {
	return PeerInfo{Addr: c.addr, Listen: c.listen, Client: c.client, Source: c.source, Outgoing: c.outgoing, PEX: c.pexNet != "", Net: c.pexNet, Encrypted: c.mse}
}

func (c *conn) write(b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(30 * time.Second))
	_, err := c.nc.Write(b)
	return err
}

// run drives one connection until it ends.
func (s *Swarm) run(nc net.Conn, addr netip.AddrPort, source string, outgoing bool) {
	s.runConn(nc, addr, source, outgoing, false)
}

// runConn is run for a connection whose MSE handshake, if any, is done
// (encrypted) or, for an incoming one, still to be told apart.
func (s *Swarm) runConn(nc net.Conn, addr netip.AddrPort, source string, outgoing, encrypted bool) {
	if !outgoing {
		// An incoming peer may open with MSE (aria2, rtorrent and others
		// try it first; some insist on it).
		stop := context.AfterFunc(s.ctx, func() { nc.Close() }) // Close need not wait for it
		mc, enc, err := mse.Accept(nc, s.cfg.InfoHash, time.Now().Add(s.cfg.HandshakeTimeout))
		stop()
		if err != nil {
			s.cfg.Logger.Debug("swarm: incoming handshake failed", "peer", addr, "err", err)
			nc.Close()
			return
		}
		nc, encrypted = mc, enc
	}
	c := &conn{s: s, nc: nc, addr: addr, source: source, outgoing: outgoing, mse: encrypted, encryption: encrypted}
	if outgoing {
		c.listen = addr
	}
	s.mu.Lock()
	if outgoing {
		s.dialing-- // the dial that made nc is over
	}
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	reason := c.loop()
	nc.Close()
	s.mu.Lock()
	delete(s.conns, c)
	was := c.ready
	delete(s.known, addr)
	s.mu.Unlock()
	if was {
		s.emit(Event{Name: "disconnected", Peer: addr, Reason: reason.Error()})
	}
	if errors.Is(reason, errSelf) && outgoing {
		s.mu.Lock()
		s.self[addr] = true // a listen address of ours: never dial it again
		s.mu.Unlock()
	}
	if source == SourceManual && outgoing && !errors.Is(reason, errSelf) {
		s.redial(addr, false)
	}
}

// Redial delays for a manually given peer: the first after a dropped
// connection or a failed dial, doubling on each failed dial up to the cap.
const (
	redialFirst = 5 * time.Second
	redialMax   = 2 * time.Minute
)

// redial dials a manually given peer again a little later: clients drop
// idle connections (libtorrent and aria2 after about a minute), a peer may
// not be listening yet, and a peer the user named should stay in the
// swarm. failed says the last dial failed, which doubles the wait.
func (s *Swarm) redial(addr netip.AddrPort, failed bool) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	d := redialFirst
	if failed {
		d = min(max(2*s.backoff[addr], redialFirst), redialMax)
		s.backoff[addr] = d
	} else {
		delete(s.backoff, addr)
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
			s.AddPeer(addr, SourceManual)
		case <-s.ctx.Done():
		}
	}()
}

var errSelf = errors.New("connected to ourselves")

// maxSelf bounds the addresses remembered as our own.
const maxSelf = 64

// idleTimeout ends a connection that sent nothing, not even a keep-alive.
const idleTimeout = 3 * time.Minute

func (c *conn) loop() error {
	s := c.s
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	if s.azOn() {
		azmp.Offer(&hs.Reserved)
	}
	hs.InfoHash, hs.PeerID = s.cfg.InfoHash, s.cfg.PeerID
	c.nc.SetDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	if err := c.write(hs.Append(nil)); err != nil {
		return err
	}
	theirs, err := wire.ReadHandshake(c.nc)
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	if theirs.InfoHash != s.cfg.InfoHash {
		return errors.New("handshake for another infohash")
	}
	if theirs.PeerID == s.cfg.PeerID {
		return errSelf
	}
	c.nc.SetDeadline(time.Time{})
	c.az = azmp.Chosen(hs.Reserved, theirs.Reserved)
	if c.az {
		return c.azLoop()
	}
	return c.ltepLoop(theirs.LTEP())
}

// ltepLoop runs a connection over the plain wire protocol, with ut_pex
// when both sides speak the extension protocol.
func (c *conn) ltepLoop(ltep bool) error {
	s := c.s
	m := map[string]int{}
	if s.pexOn() {
		m["ut_pex"] = utPexID
	}
	ext := wire.ExtHandshake{M: m, Port: s.cfg.ListenPort, Version: s.cfg.Client, YourIP: c.addr.Addr(), ReqQ: 250}
	msgs := wire.AppendExtended(nil, 0, ext.Bytes())
	msgs = wire.AppendMessage(msgs, wire.MsgInterested, nil) // stay interesting to seeds
	if err := c.write(msgs); err != nil {
		return err
	}
	s.mu.Lock()
	c.ready = true
	s.mu.Unlock()
	announced := false
	if !ltep {
		// No extension protocol: no client name to wait for.
		s.emit(Event{Name: "connected", Peer: c.addr, Listen: c.listen, Source: c.source})
		announced = true
	}
	done := make(chan struct{})
	defer close(done)
	c.startSender(done)
	r := wire.NewReader(c.nc, 1<<20)
	recv := pex.NewReceiver(&s.pexCfg)
	for {
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		msg, err := r.ReadMessage()
		if err != nil {
			return readErr(err)
		}
		if msg.KeepAlive || msg.ID != wire.MsgExtended || len(msg.Payload) == 0 {
			continue
		}
		switch msg.Payload[0] {
		case 0:
			h, err := wire.ParseExtHandshake(msg.Payload[1:])
			if err != nil {
				return err
			}
			s.mu.Lock()
			if h.YourIP.IsValid() && s.cfg.ListenPort > 0 && len(s.self) < maxSelf {
				// How this peer sees us: our listen address, never to dial.
				// Peers may claim anything here, hence the cap.
				s.self[netip.AddrPortFrom(h.YourIP.Unmap(), uint16(s.cfg.ListenPort))] = true
			}
			c.client = h.Version
			c.encryption = c.encryption || h.Encryption
			c.theirPex = h.M["ut_pex"]
			c.pexNet = ""
			if c.theirPex != 0 && s.pexOn() {
				c.pexNet = NetUTPex
			}
			if !c.outgoing && h.Port > 0 {
				c.listen = netip.AddrPortFrom(c.addr.Addr(), uint16(h.Port))
			}
			net, listen := c.pexNet, c.listen
			s.mu.Unlock()
			if !announced {
				s.emit(Event{Name: "connected", Peer: c.addr, Listen: listen, Client: h.Version, Source: c.source, Net: net})
				announced = true
			}
		case utPexID:
			if !s.pexOn() {
				continue // we did not offer it; ignore
			}
			added, dropped, err := recv.Receive(time.Now(), msg.Payload[1:], netip.AddrPort{})
			if err != nil {
				return err
			}
			ev := Event{Name: "pex-received", Peer: c.addr, Net: NetUTPex}
			for _, p := range added {
				ev.Added = append(ev.Added, p.Addr)
			}
			ev.Dropped = append(ev.Dropped, dropped...)
			c.learned(ev)
		}
	}
}

// azMessages are the AZMP message ids pex accepts; it advertises them in
// its AZ_HANDSHAKE and ignores all but AZ_PEER_EXCHANGE.
var azMessages = []string{azmp.IDKeepAlive, azmp.IDChoke, azmp.IDUnchoke, azmp.IDInterested, azmp.IDUninterested,
	azmp.IDHave, azmp.IDBitfield, azmp.IDRequest, azmp.IDPiece, azmp.IDCancel}

// azVersion is the version pex speaks of every AZ message: 1, no padding.
const azVersion = 1

// azLoop runs a connection over AZMP: both sides send AZ_HANDSHAKE, then
// AZ_PEER_EXCHANGE when both list it.
func (c *conn) azLoop() error {
	s := c.s
	// AZ_HANDSHAKE names client and version apart: "pex/0.1" is sent as
	// "pex" and "0.1".
	name, version, _ := strings.Cut(s.cfg.Client, "/")
	h := azmp.Handshake{Identity: s.azIdentity, Client: name, Version: version, TCPPort: s.cfg.ListenPort}
	for _, id := range azMessages {
		h.Messages = append(h.Messages, azmp.MessageInfo{ID: id, Version: azVersion})
	}
	if s.pexOn() {
		h.Messages = append(h.Messages, azmp.MessageInfo{ID: azmp.IDPeerExchange, Version: azVersion})
	}
	if err := c.write(azmp.AppendFrame(nil, azmp.IDHandshake, azVersion, h.Bytes())); err != nil {
		return err
	}
	r := azmp.NewReader(c.nc, 0)
	// Nothing but AZ_HANDSHAKE may be sent before the peer has said which
	// ids it takes.
	c.nc.SetReadDeadline(time.Now().Add(s.cfg.HandshakeTimeout))
	var theirs azmp.Handshake
	for {
		f, err := r.ReadFrame()
		if err != nil {
			return fmt.Errorf("waiting for AZ_HANDSHAKE: %w", readErr(err))
		}
		if string(f.ID) != azmp.IDHandshake {
			continue
		}
		if theirs, err = azmp.ParseHandshake(f.Payload); err != nil {
			return err
		}
		break
	}
	if theirs.Identity == s.azIdentity {
		return errSelf
	}
	if _, ok := theirs.Supports(azmp.IDInterested); ok { // stay interesting to seeds
		if err := c.write(azmp.AppendFrame(nil, azmp.IDInterested, azVersion, nil)); err != nil {
			return err
		}
	}
	client := theirs.Client
	if theirs.Version != "" {
		client += " " + theirs.Version
	}
	s.mu.Lock()
	c.ready = true
	c.client = client
	c.encryption = c.encryption || theirs.HandshakeType == azmp.HandshakeCrypto
	if !c.outgoing && theirs.TCPPort > 0 {
		c.listen = netip.AddrPortFrom(c.addr.Addr(), uint16(theirs.TCPPort))
	}
	if v, ok := theirs.Supports(azmp.IDPeerExchange); ok && s.pexOn() {
		c.pexNet, c.azVer = NetAZMP, min(v, azVersion)
		if c.azVer == 0 {
			c.azVer = azVersion
		}
	}
	_, c.azKeep = theirs.Supports(azmp.IDKeepAlive)
	net, listen := c.pexNet, c.listen
	s.mu.Unlock()
	s.emit(Event{Name: "connected", Peer: c.addr, Listen: listen, Client: client, Source: c.source, Net: net})

	done := make(chan struct{})
	defer close(done)
	c.startSender(done)
	recv := azmp.NewReceiver(nil)
	for {
		c.nc.SetReadDeadline(time.Now().Add(idleTimeout))
		f, err := r.ReadFrame()
		if err != nil {
			return readErr(err)
		}
		if string(f.ID) != azmp.IDPeerExchange || net != NetAZMP {
			continue // a BitTorrent message, or one pex does not use
		}
		added, dropped, err := recv.Receive(time.Now(), f.Payload, s.cfg.InfoHash, netip.AddrPort{})
		if err != nil {
			return err
		}
		ev := Event{Name: "pex-received", Peer: c.addr, Net: NetAZMP}
		for _, p := range added {
			ev.Added = append(ev.Added, p.Addr)
		}
		ev.Dropped = append(ev.Dropped, dropped...)
		c.learned(ev)
	}
}

func readErr(err error) error {
	if errors.Is(err, io.EOF) {
		return errors.New("closed by peer")
	}
	return err
}

// learned reports a received PEX message and dials the new peers in it.
func (c *conn) learned(ev Event) {
	s := c.s
	s.emit(ev)
	for _, a := range ev.Added {
		if s.isNew(a) {
			s.emit(Event{Name: "discovered", Peer: a, Source: SourcePEX, From: c.addr, Net: ev.Net})
			s.AddPeer(a, SourcePEX)
		}
	}
}

// isNew reports whether a is neither connected nor being dialed.
func (s *Swarm) isNew(a netip.AddrPort) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.known[a]; ok || s.self[a] {
		return false
	}
	for c := range s.conns {
		if c.listen == a || c.addr == a {
			return false
		}
	}
	return true
}

func (c *conn) startSender(done <-chan struct{}) {
	s := c.s
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.sendLoop(done)
	}()
}

// sendLoop checks every second whether this peer is due a PEX message,
// over whichever network it speaks, and sends keep-alives.
func (c *conn) sendLoop(done <-chan struct{}) {
	s := c.s
	sender := pex.NewSender(&s.pexCfg)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var m pex.Msg
	var am azmp.PeerExchange
	buf := make([]byte, 0, 4096)
	lastWrite := time.Now()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		net, id, ver, keep, listen := c.pexNet, c.theirPex, c.azVer, c.azKeep, c.listen
		s.mu.Unlock()
		now := time.Now()
		// listenAddrs walks every connection under the swarm lock: only
		// when this peer may be sent a message at all.
		if net != "" && !now.Before(sender.Due()) && sender.Next(now, s.listenAddrs(), listen, &m) {
			var frame []byte
			if net == NetAZMP {
				toAZ(&m, &am, s.cfg.InfoHash)
				payload, err := azmp.AppendPeerExchange(buf[:0], &am)
				if err != nil {
					continue
				}
				frame = azmp.AppendFrame(nil, azmp.IDPeerExchange, ver, payload)
			} else {
				payload, err := pex.Append(buf[:0], &m)
				if err != nil {
					continue
				}
				frame = wire.AppendExtended(nil, byte(id), payload)
			}
			if c.write(frame) != nil {
				return
			}
			lastWrite = now
			ev := Event{Name: "pex-sent", Peer: c.addr, Net: net}
			for _, p := range m.Added {
				ev.Added = append(ev.Added, p.Addr)
			}
			ev.Dropped = append(ev.Dropped, m.Dropped...)
			s.emit(ev)
		}
		if now.Sub(lastWrite) > 90*time.Second {
			var ka []byte
			switch {
			case !c.az:
				ka = wire.AppendKeepAlive(nil)
			case keep:
				ka = azmp.AppendFrame(nil, azmp.IDKeepAlive, azVersion, nil)
			}
			if ka != nil && c.write(ka) != nil {
				return
			}
			lastWrite = now
		}
	}
}

// toAZ turns what a Sender decided into an AZ_PEER_EXCHANGE: ut_pex's
// encryption flag becomes the crypto handshake type.
func toAZ(m *pex.Msg, am *azmp.PeerExchange, ih [20]byte) {
	am.Reset()
	am.InfoHash = ih
	for _, p := range m.Added {
		am.Added = append(am.Added, azmp.Peer{Addr: p.Addr, Crypto: p.Flags&pex.FlagEncryption != 0})
	}
	for _, a := range m.Dropped {
		am.Dropped = append(am.Dropped, azmp.Peer{Addr: a})
	}
}
