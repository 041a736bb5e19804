package swarm

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// conn is one peer connection.
type conn struct {
	s          *Swarm
	nc         net.Conn
	addr       netip.AddrPort
	source     string
	outgoing   bool
	wmu        sync.Mutex
	ready      bool           // guarded by s.mu
	listen     netip.AddrPort // guarded by s.mu
	client     string         // guarded by s.mu
	encryption bool           // guarded by s.mu
	theirPex   int            // the id they receive ut_pex under, 0 = none; guarded by s.mu
}

func (c *conn) info() PeerInfo {
	return PeerInfo{Addr: c.addr, Listen: c.listen, Client: c.client, Source: c.source, Outgoing: c.outgoing, PEX: c.theirPex != 0}
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
	c := &conn{s: s, nc: nc, addr: addr, source: source, outgoing: outgoing}
	if outgoing {
		c.listen = addr
	}
	s.mu.Lock()
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
		s.redial(addr)
	}
}

// redial dials a manually given peer again a little later: clients drop
// idle connections (libtorrent and aria2 after about a minute), and a peer
// the user named should stay in the swarm.
func (s *Swarm) redial(addr netip.AddrPort) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-t.C:
			s.AddPeer(addr, SourceManual)
		case <-s.ctx.Done():
		}
	}()
}

var errSelf = errors.New("connected to ourselves")

func (c *conn) loop() error {
	s := c.s
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
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
	// Our extended handshake: ut_pex unless PEX is off here.
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
	if !theirs.LTEP() {
		// No extension protocol: no client name to wait for.
		s.emit(Event{Name: "connected", Peer: c.addr, Source: c.source})
		announced = true
	}

	done := make(chan struct{})
	defer close(done)
	if s.pexOn() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			c.sendLoop(done)
		}()
	}
	r := wire.NewReader(c.nc, 1<<20)
	recv := pex.NewReceiver(&s.pexCfg)
	idle := 3 * time.Minute
	for {
		c.nc.SetReadDeadline(time.Now().Add(idle))
		msg, err := r.ReadMessage()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return errors.New("closed by peer")
			}
			return err
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
			if h.YourIP.IsValid() && s.cfg.ListenPort > 0 {
				// How this peer sees us: our listen address, never to dial.
				s.self[netip.AddrPortFrom(h.YourIP.Unmap(), uint16(s.cfg.ListenPort))] = true
			}
			c.client = h.Version
			c.encryption = h.Encryption
			c.theirPex = h.M["ut_pex"]
			if !c.outgoing && h.Port > 0 {
				c.listen = netip.AddrPortFrom(c.addr.Addr(), uint16(h.Port))
			}
			s.mu.Unlock()
			if !announced {
				s.emit(Event{Name: "connected", Peer: c.addr, Client: h.Version, Source: c.source})
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
			ev := Event{Name: "pex-received", Peer: c.addr, Net: "ut_pex"}
			for _, p := range added {
				ev.Added = append(ev.Added, p.Addr)
			}
			ev.Dropped = append(ev.Dropped, dropped...)
			s.emit(ev)
			for _, a := range ev.Added {
				if s.isNew(a) {
					s.emit(Event{Name: "discovered", Peer: a, Source: SourcePEX, From: c.addr})
					s.AddPeer(a, SourcePEX)
				}
			}
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

// sendLoop checks every second whether this peer is due a ut_pex message,
// and sends keep-alives.
func (c *conn) sendLoop(done <-chan struct{}) {
	s := c.s
	sender := pex.NewSender(&s.pexCfg)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	var m pex.Msg
	buf := make([]byte, 0, 4096)
	lastWrite := time.Now()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		s.mu.Lock()
		id, listen := c.theirPex, c.listen
		s.mu.Unlock()
		now := time.Now()
		// listenAddrs walks every connection under the swarm lock: only
		// when this peer may be sent a message at all.
		if id != 0 && !now.Before(sender.Due()) && sender.Next(now, s.listenAddrs(), listen, &m) {
			payload, err := pex.Append(buf[:0], &m)
			if err != nil {
				continue
			}
			if c.write(wire.AppendExtended(nil, byte(id), payload)) != nil {
				return
			}
			lastWrite = now
			ev := Event{Name: "pex-sent", Peer: c.addr, Net: "ut_pex"}
			for _, p := range m.Added {
				ev.Added = append(ev.Added, p.Addr)
			}
			ev.Dropped = append(ev.Dropped, m.Dropped...)
			s.emit(ev)
		}
		if now.Sub(lastWrite) > 90*time.Second {
			if c.write(wire.AppendKeepAlive(nil)) != nil {
				return
			}
			lastWrite = now
		}
	}
}
