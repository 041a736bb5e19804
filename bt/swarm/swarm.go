package swarm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/internal/acceptloop"
	"github.com/seed0021ed4d/pex/internal/gate"
	"golang.org/x/time/rate"
)

// Sources of a peer, as in Event.Source and PeerInfo.Source.
const (
	SourceManual   = "manual"
	SourceIncoming = "incoming"
	SourcePEX      = "pex"
	SourceTracker  = "tracker"
	SourceDHT      = "dht"
	// SourceState: remembered from an earlier run (pex's --state).
	SourceState = "state"
)

// PeerInfo describes a connected peer.
type PeerInfo struct {
	Addr     netip.AddrPort // the connection's remote address
	Listen   netip.AddrPort // its listen address, if known
	Client   string
	Source   string
	Outgoing bool
	PEX      bool   // peer exchange runs with it
	Net      string // NetUTPex or NetAZMP, "" if no PEX
	// Encrypted: the link runs over MSE (pex picks RC4 for the payload
	// when offered).
	Encrypted bool
	UTP       bool // the link runs over uTP, not TCP
	Holepunch bool // the peer takes hole punches (its extended handshake listed ut_holepunch)
	Punched   bool // the link followed a hole punch's connect message (BEP 55)
}

// A PeerSource finds peers for a swarm on a schedule of its own: package
// bt/tracker's Source announces to a tracker, package bt/dht's looks the
// swarm up in the DHT.
type PeerSource interface {
	// Name is the source's label in Event.Source, e.g. SourceTracker.
	Name() string
	// Run finds peers until ctx ends, passing each to found.
	Run(ctx context.Context, found func(netip.AddrPort))
}

// Swarm runs peer exchange for one infohash. Its methods are safe for
// concurrent use.
type Swarm struct {
	ih     [20]byte
	cfg    Config
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	events chan Event

	dropped    atomic.Uint64
	counts     counters
	handshakes *gate.Gate // incoming connections in their handshakes

	// openMu guards openings, alone: the uTP sockets' refusal hook
	// (refuseUTP) takes it with libutp's lock held, and no other lock may
	// be taken under it.
	openMu   sync.Mutex
	openings map[netip.Addr]*rate.Limiter // incoming connections per IP

	mu        sync.Mutex
	closed    bool
	listeners map[net.Listener]struct{}
	refusals  *rate.Limiter // events of incoming links that failed their handshakes
	peerSet                 // guarded by mu

	utp4   *utp.Socket   // UseUTP's, for uTP dials and hole punches over IPv4; nil for none
	utp6   *utp.Socket   // the same over IPv6
	rdvAll *rate.Limiter // the rendezvous this swarm sends, overall

	azIdentity [20]byte     // AZ_HANDSHAKE's identity, random per swarm
	publicPort atomic.Int32 // the port told to peers, when not ListenPort (nat.go)
}

// New makes a swarm for infohash; it does nothing until peers are added or
// accepted. cfg may be nil for the defaults.
func New(infohash [20]byte, cfg *Config) (*Swarm, error) {
	if infohash == ([20]byte{}) {
		return nil, errors.New("swarm: infohash required")
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	s := &Swarm{ih: infohash, cfg: c, events: make(chan Event, c.EventBuffer), listeners: map[net.Listener]struct{}{},
		openings: map[netip.Addr]*rate.Limiter{}, handshakes: gate.New(c.MaxHandshakes, c.MaxHandshakesPerIP),
		refusals: rate.NewLimiter(FailedOpeningEventRate, FailedOpeningEventBurst),
		rdvAll:   rate.NewLimiter(rate.Limit(c.Holepunch.RendezvousRate), c.Holepunch.RendezvousBurst)}
	s.peerSet.init()
	rand.Read(s.azIdentity[:])
	s.ctx, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// peerIDPrefix starts the peer ids of this pex. From 0002 on, two pex
// peers run the extension protocol between them even though both offer
// (and prefer) AZMP: ut_pex's flags, yourip and ut_holepunch (BEP 55)
// have no AZMP counterpart. Both sides see both ids, so both choose alike;
// a pex of 0001 and any other client choose as before (azmp.Chosen).
const peerIDPrefix = "-PX0002-"

func newPeerID() (id [20]byte) {
	copy(id[:], peerIDPrefix)
	rand.Read(id[8:])
	return id
}

// extPeer reports a peer id of a pex that runs the extension protocol
// with other such pex peers (above).
func extPeer(id [20]byte) bool {
	return string(id[:3]) == "-PX" && id[7] == '-' && string(id[3:7]) >= "0002" && string(id[3:7]) <= "9999"
}

// InfoHash returns the swarm's infohash.
func (s *Swarm) InfoHash() [20]byte { return s.ih }

// PeerID returns the swarm's peer id.
func (s *Swarm) PeerID() [20]byte { return s.cfg.PeerID }

// Events returns the event channel; Close closes it.
func (s *Swarm) Events() <-chan Event { return s.events }

func (s *Swarm) pexOn() bool { return !s.cfg.NoPEX && !s.cfg.Private }

func (s *Swarm) azOn() bool { return !s.cfg.NoAZMP }

// Accept takes an incoming connection (it is closed at once when the swarm
// is closed). Until its handshakes are done it holds a place in the
// handshake budget (Config.MaxHandshakes), and may be closed to make room
// for a newer one; then it needs one of MaxPeers' slots, which it may take
// from an incoming peer that has told us nothing.
func (s *Swarm) Accept(c net.Conn) { s.accept(c, false) }

// accept is Accept; admitted says the opening's token was taken before
// the connection was made (refuseUTP, for the uTP sockets of UseUTP).
func (s *Swarm) accept(c net.Conn, admitted bool) {
	addr, _ := netip.ParseAddrPort(c.RemoteAddr().String())
	addr = compact.Unmap(addr)
	s.mu.Lock()
	if s.closed || !admitted && !s.takeOpening(gate.IP(c)) {
		refused := !s.closed
		if refused && s.refusals.Allow() {
			s.emitLocked(Event{Type: EventDisconnected, Peer: addr, Source: SourceIncoming, Err: errOpeningRefused, Handshaking: true})
		}
		s.mu.Unlock()
		c.Close()
		if refused {
			s.counts.openingsRefused.Add(1)
		}
		return
	}
	s.wg.Add(1)
	s.mu.Unlock()
	if !admitted {
		s.counts.openingsAdmitted.Add(1)
	}
	go func() {
		defer s.wg.Done()
		// runConn leaves the handshake budget once the handshakes are done,
		// or when the link ends before.
		op := &opening{}
		op.ticket = s.handshakes.Enter(gate.IP(c), func() {
			op.evicted.Store(true)
			c.Close()
		})
		s.runConn(c, addr, SourceIncoming, false, false, op, netip.AddrPort{})
	}()
}

// maxOpeningLimiters bounds the IPs whose opening rate is tracked.
const maxOpeningLimiters = 4096

// takeOpening takes a token of ip's opening bucket.
func (s *Swarm) takeOpening(ip netip.Addr) bool {
	s.openMu.Lock()
	defer s.openMu.Unlock()
	l := s.openings[ip]
	if l == nil {
		if len(s.openings) >= maxOpeningLimiters {
			for a, o := range s.openings { // forget IPs whose buckets are full again
				if o.Tokens() >= float64(s.cfg.OpeningBurst) {
					delete(s.openings, a)
				}
			}
			if len(s.openings) >= maxOpeningLimiters {
				return false
			}
		}
		l = rate.NewLimiter(rate.Limit(s.cfg.OpeningRate), s.cfg.OpeningBurst)
		s.openings[ip] = l
	}
	return l.Allow()
}

// Serve accepts connections on ln and hands them to Accept until ln fails
// or the swarm is closed, which also closes ln. It returns nil after Close
// and the listener's error otherwise.
func (s *Swarm) Serve(ln net.Listener) error { return s.serve(ln, s.Accept) }

// serve is Serve, handing each connection to accept.
func (s *Swarm) serve(ln net.Listener, accept func(net.Conn)) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.listeningLocked(ln.Addr())
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
	}()
	return acceptloop.Run(s.ctx, ln, func(c net.Conn) bool {
		accept(c)
		return true
	})
}

// AddSource runs src until the swarm is closed, adding the peers it finds
// as AddPeer does, under src.Name() as their source.
func (s *Swarm) AddSource(src PeerSource) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		name := src.Name()
		src.Run(s.ctx, func(a netip.AddrPort) { s.AddPeer(a, name) })
	}()
}

// Peers lists the connected peers, sorted by address.
func (s *Swarm) Peers() []PeerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]PeerInfo, 0, len(s.conns))
	for c := range s.conns {
		if c.live() {
			out = append(out, c.info())
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr.String() < out[j].Addr.String() })
	return out
}

// Close ends every connection, source and Serve loop, and waits for them.
func (s *Swarm) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.cancel() // first: a Serve loop whose listener closes sees it and returns nil
	for c := range s.conns {
		c.nc.Close()
	}
	for ln := range s.listeners {
		ln.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	close(s.events)
	return nil
}

func (s *Swarm) String() string { return fmt.Sprintf("swarm %x", s.ih[:4]) }
