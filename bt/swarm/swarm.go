// Package swarm is pex's BitTorrent engine for peer exchange: it dials the
// peers it learns, accepts incoming ones, and runs peer exchange on every
// connection over the network the peer speaks: Vuze's AZ_PEER_EXCHANGE
// (package bt/azmp) with peers that prefer AZMP in the handshake, as BiglyBT
// does, and ut_pex (BEP 11, over the extension protocol of BEP 10) with the
// others. Both share one peer set: it tells each peer about the other
// connected peers whose listen addresses it knows, whichever network it
// learned them from, within BEP 11's limits (50 added and 50 dropped a
// message, a message a minute), and holds each peer to the limits of its
// network. It transfers no pieces: it is a peer-exchange participant, not a
// downloader.
package swarm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// Sources of a peer.
const (
	SourceManual   = "manual"
	SourceIncoming = "incoming"
	SourcePEX      = "pex"
	SourceTracker  = "tracker"
	SourceDHT      = "dht"
)

// utPexID is the extended id we receive ut_pex under (most clients use 1).
const utPexID = 1

// Config describes one swarm. The zero value of a field means its default.
type Config struct {
	InfoHash [20]byte
	// PeerID defaults to "-PX0001-" and 12 random bytes.
	PeerID [20]byte
	// ListenPort is told to peers (ext handshake "p") so they can list us;
	// 0 when not listening.
	ListenPort int
	// MaxPeers bounds connections. Default 50.
	MaxPeers int
	// NoPEX turns peer exchange (ut_pex and AZ_PEER_EXCHANGE) off for this
	// swarm; Private (BEP 27) does too.
	NoPEX   bool
	Private bool
	// NoAZMP stops pex offering Vuze's messaging protocol in its
	// handshake; every connection then uses the extension protocol.
	NoAZMP bool
	// EncryptOutgoing opens outgoing connections with Message Stream
	// Encryption (RC4 preferred, plain offered), falling back to a plain
	// handshake when the peer does not answer it. Incoming MSE is always
	// answered.
	EncryptOutgoing bool
	// Dialer dials peers. Default a net.Dialer with a 10 s timeout.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)
	// PEX tunes the ut_pex limits; nil means BEP 11's.
	PEX *pex.Config
	// HandshakeTimeout bounds both handshakes. Default 10 s.
	HandshakeTimeout time.Duration
	// Client is our "v". Default "pex/0.1".
	Client string
	// Logger; nil is silent.
	Logger *slog.Logger
	// EventBuffer is the Events channel's capacity; events that find it
	// full are dropped. Default 1024.
	EventBuffer int
}

// Event is something that happened in the swarm. Name is one of
// "connected", "disconnected", "discovered", "pex-received", "pex-sent".
type Event struct {
	Name    string
	Peer    netip.AddrPort // the peer concerned (for pex-*: the sender or receiver)
	Listen  netip.AddrPort // connected: the peer's listen address, if known
	Client  string         // connected: the peer's "v"
	Source  string         // connected, discovered
	From    netip.AddrPort // discovered: who told us
	Added   []netip.AddrPort
	Dropped []netip.AddrPort
	Net     string // pex-*, discovered: NetUTPex or NetAZMP; connected: the link's PEX network, "" if none
	Reason  string // disconnected
	Time    time.Time
}

// PeerInfo describes a connected peer.
type PeerInfo struct {
	Addr     netip.AddrPort // the connection's remote address
	Listen   netip.AddrPort // its listen address, if known
	Client   string
	Source   string
	Outgoing bool
	PEX      bool   // peer exchange runs with it
	Net      string // NetUTPex or NetAZMP, "" if no PEX
	// Encrypted: the peer opened the link with MSE (pex picks RC4 for the
	// payload when offered).
	Encrypted bool
}

// Swarm runs peer exchange for one infohash.
type Swarm struct {
	cfg    Config
	pexCfg pex.Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events chan Event

	mu      sync.Mutex
	conns   map[*conn]struct{}
	known   map[netip.AddrPort]string        // addresses dialed or connected -> source
	self    map[netip.AddrPort]bool          // our own listen addresses as peers see them
	backoff map[netip.AddrPort]time.Duration // manual peers whose dials failed: the last wait
	dialing int                              // dials in flight
	closed  bool

	azIdentity [20]byte // AZ_HANDSHAKE's identity, random per swarm
}

// New makes a swarm; it does nothing until peers are added or accepted.
func New(cfg Config) (*Swarm, error) {
	if cfg.InfoHash == ([20]byte{}) {
		return nil, errors.New("swarm: infohash required")
	}
	if cfg.PeerID == ([20]byte{}) {
		copy(cfg.PeerID[:], "-PX0001-")
		rand.Read(cfg.PeerID[8:])
	}
	if cfg.MaxPeers <= 0 {
		cfg.MaxPeers = 50
	}
	if cfg.Dialer == nil {
		d := &net.Dialer{Timeout: 10 * time.Second}
		cfg.Dialer = d.DialContext
	}
	if cfg.HandshakeTimeout <= 0 {
		cfg.HandshakeTimeout = 10 * time.Second
	}
	if cfg.Client == "" {
		cfg.Client = "pex/0.1"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 1024
	}
	s := &Swarm{cfg: cfg, events: make(chan Event, cfg.EventBuffer), conns: map[*conn]struct{}{}, known: map[netip.AddrPort]string{}, self: map[netip.AddrPort]bool{}, backoff: map[netip.AddrPort]time.Duration{}}
	if cfg.PEX != nil {
		s.pexCfg = *cfg.PEX
	}
	rand.Read(s.azIdentity[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// PeerID returns the swarm's peer id.
func (s *Swarm) PeerID() [20]byte { return s.cfg.PeerID }

// Events returns the event channel; Close closes it.
func (s *Swarm) Events() <-chan Event { return s.events }

func (s *Swarm) emit(ev Event) {
	ev.Time = time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	select {
	case s.events <- ev:
	default:
	}
}

func (s *Swarm) pexOn() bool { return !s.cfg.NoPEX && !s.cfg.Private }

func (s *Swarm) azOn() bool { return !s.cfg.NoAZMP }

// AddPeer dials addr unless it is known already or the swarm is full.
func (s *Swarm) AddPeer(addr netip.AddrPort, source string) {
	if !pex.Usable(addr) {
		return
	}
	s.mu.Lock()
	// Dials in flight count against MaxPeers too: a stream of PEX messages
	// full of new addresses cannot start more dials than that.
	if s.closed || len(s.conns)+s.dialing >= s.cfg.MaxPeers {
		s.mu.Unlock()
		return
	}
	if _, ok := s.known[addr]; ok || s.self[addr] {
		s.mu.Unlock()
		return
	}
	s.known[addr] = source
	s.dialing++
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		c, encrypted, err := s.dial(addr)
		if err != nil {
			s.cfg.Logger.Debug("swarm: dial failed", "peer", addr, "err", err)
			s.mu.Lock()
			s.dialing--
			s.mu.Unlock()
			s.forget(addr)
			if source == SourceManual {
				s.redial(addr, true)
			}
			return
		}
		s.runConn(c, addr, source, true, encrypted)
	}()
}

// dial connects to addr: with EncryptOutgoing, first with MSE (RC4
// preferred) and, when that fails, once more in the clear.
func (s *Swarm) dial(addr netip.AddrPort) (net.Conn, bool, error) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	defer cancel()
	c, err := s.cfg.Dialer(ctx, "tcp", addr.String())
	if err != nil || !s.cfg.EncryptOutgoing {
		return c, false, err
	}
	stop := context.AfterFunc(s.ctx, func() { c.Close() })
	mc, _, err := mse.Initiate(c, s.cfg.InfoHash, mse.CryptoRC4|mse.CryptoPlain, nil, time.Now().Add(s.cfg.HandshakeTimeout))
	stop()
	if err == nil {
		return mc, true, nil
	}
	c.Close()
	s.cfg.Logger.Debug("swarm: MSE failed, dialing in the clear", "peer", addr, "err", err)
	ctx2, cancel2 := context.WithTimeout(s.ctx, s.cfg.HandshakeTimeout)
	defer cancel2()
	c, err = s.cfg.Dialer(ctx2, "tcp", addr.String())
	return c, false, err
}

func (s *Swarm) forget(addr netip.AddrPort) {
	s.mu.Lock()
	delete(s.known, addr)
	s.mu.Unlock()
}

// Accept takes an incoming connection.
func (s *Swarm) Accept(c net.Conn) {
	s.mu.Lock()
	if s.closed || len(s.conns) >= s.cfg.MaxPeers {
		s.mu.Unlock()
		c.Close()
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	go func() {
		defer s.wg.Done()
		addr, _ := netip.ParseAddrPort(c.RemoteAddr().String())
		s.run(c, netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port()), SourceIncoming, false)
	}()
}

// Peers lists the connected peers, sorted by address.
func (s *Swarm) Peers() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerInfo, 0, len(s.conns))
	for c := range s.conns {
		if c.ready {
			out = append(out, c.info())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.String() < out[j].Addr.String() })
	return out
}

// Close ends every connection and waits for them.
func (s *Swarm) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	close(s.events)
	return nil
}

// listenAddrs are the connected peers' listen addresses, for ut_pex.
func (s *Swarm) listenAddrs() []pex.Peer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []pex.Peer
	for c := range s.conns {
		if !c.ready || !c.listen.IsValid() {
			continue
		}
		var f pex.Flags
		if c.outgoing {
			f |= pex.FlagReachable
		}
		if c.encryption {
			f |= pex.FlagEncryption
		}
		out = append(out, pex.Peer{Addr: c.listen, Flags: f})
	}
	return out
}

func (s *Swarm) String() string { return fmt.Sprintf("swarm %x", s.cfg.InfoHash[:4]) }
