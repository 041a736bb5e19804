package pxp

import (
	"context"
	"errors"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	"github.com/seed0021ed4d/pex/internal/gate"
	"github.com/seed0021ed4d/pex/mux"
)

// Exchange is a PXP node for one network id: it holds links to peers,
// answers their requests, relays introductions, and finds new peers.
// Its methods are safe for concurrent use.
type Exchange struct {
	network  string
	cfg      Config
	id       string
	ciFields map[string]any // the connectInfo told in hellos; nil for RefuseIncoming (null); guarded by mu after New
	ciHello  helloInfoTmpl  // ciFields written out, set with it

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu              sync.Mutex
	links           map[*Peer]struct{}        // every live link, handshaking or not
	listeners       map[net.Listener]struct{} // given to Serve
	peers           map[*Peer]struct{}        // links past a valid hello
	index           peerIndex                 // the same peers by prefix and id
	rng             *mrand.Rand               // for samples
	closed          bool
	chansClosed     bool
	relays          int
	relaysByPrefix  map[netip.Prefix]int // relays held by askers of each prefix
	pendingIncoming int
	obs             observations  // what peers say they see this node at
	dialBacks       chan struct{} // dial-backs in progress (a semaphore)
	direct          directDials   // the direct dials' backoff (directdial.go); its own lock

	outPending outboundPending // introductions in progress (outbound.go); guarded by mu

	handshakes *gate.Gate  // incoming connections in their handshake
	unclaimed  *mux.Budget // bytes of streams nobody asked for, over all links

	events   chan Event
	incoming chan *Conn

	msgsOut, msgsIn   atomic.Uint64
	bytesOut, bytesIn atomic.Uint64
	relayedBytes      atomic.Uint64
	dropped           atomic.Uint64
	counts            counters
}

// New returns an Exchange for networkID. cfg may be nil for the defaults.
func New(networkID string, cfg *Config) (*Exchange, error) {
	if networkID == "" {
		return nil, errors.New("pxp: network id must be a non-empty string")
	}
	c := cfg.withDefaults()
	if err := c.validate(); err != nil {
		return nil, err
	}
	e := &Exchange{
		network:    networkID,
		cfg:        c,
		id:         randomHex(8),
		links:      make(map[*Peer]struct{}),
		listeners:  make(map[net.Listener]struct{}),
		peers:      make(map[*Peer]struct{}),
		events:     make(chan Event, c.EventBuffer),
		handshakes: gate.New(c.MaxHandshakes, c.MaxHandshakesPerIP),
		unclaimed:  mux.NewBudget(int64(c.MaxUnclaimedBytes)),
		incoming:   make(chan *Conn, c.IncomingBuffer),
	}
	e.dialBacks = make(chan struct{}, max(c.MaxDialBacks, 1))
	e.index.init()
	e.relaysByPrefix = make(map[netip.Prefix]int)
	e.rng = newRand()
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if !c.RefuseIncoming {
		// The reference reads only "pxp" (and JS peers ignore the rest);
		// "id" lets Go peers avoid connecting twice, "dialback" says this
		// node checks, when asked, that a peer can be dialed (dialback.go).
		e.ciFields = map[string]any{"pxp": true, "relay": true, "webrtc": c.Upgrader != nil, "id": e.id, "dialback": true}
		if c.AdvertiseAddr != "" {
			e.ciFields["tcp"] = c.AdvertiseAddr
		}
		e.ciHello = newHelloInfoTmpl(e.ciFields)
	}
	return e, nil
}

// NetworkID returns the network id given to New.
func (e *Exchange) NetworkID() string { return e.network }

// ID returns this node's random id, advertised to peers in connectInfo.id.
func (e *Exchange) ID() string { return e.id }

// Events returns the channel events are delivered on. It is closed by Close.
func (e *Exchange) Events() <-chan Event { return e.events }

// Incoming returns the channel on which the data streams that peers open to
// this node arrive: those of the links that came in on a listener given to
// Serve, and those of the peers introduced to this node by a relay. It is
// the one way a program receives streams it did not ask for, as Accept is
// a net.Listener's: range over it and serve each stream in a goroutine of
// its own. It is closed by Close.
//
// A stream of a Serve link waits for room on the channel (its capacity is
// Config.IncomingBuffer) as long as its link lives; an introduction that
// finds the channel full is refused (its link closed), so that the relay
// and the requester do not wait on a node that does not keep up. Streams
// this node asked for never arrive here: Connect, Accept and GetNewPeer
// return theirs.
func (e *Exchange) Incoming() <-chan *Conn { return e.incoming }

// Connect runs PXP as the outgoing side over conn (magic, hello, connect)
// and returns the data stream. ctx bounds the handshake only; the link lives
// until Close, Peer.Close, or the peer goes away. conn is closed on failure;
// the failure is returned, not also reported as EventError.
func (e *Exchange) Connect(ctx context.Context, conn net.Conn) (*Conn, error) {
	return e.open(ctx, conn, transportName(conn), true, nil, false, false)
}

// Accept runs PXP as the incoming side over conn and returns the data stream
// once the peer has sent connect, as Connect does for the side that dialed:
// the stream is the caller's and does not arrive on Incoming. It is for a
// connection the application accepted itself without a net.Listener (a
// WebSocket handler's, say); Serve is Accept run on every connection of a
// listener, with the streams sent to Incoming. conn is closed on failure.
// A failure is returned, not also reported as EventError.
// Until the handshake is over the connection holds a place in the
// handshake budget (Config.MaxHandshakes): it may be closed to make room
// for a newer one.
func (e *Exchange) Accept(ctx context.Context, conn net.Conn) (*Conn, error) {
	return e.accept(ctx, conn, false)
}

// accept is Accept; report says whether a failed handshake is reported as
// EventError (for Serve, which has no caller to return it to).
func (e *Exchange) accept(ctx context.Context, conn net.Conn, report bool) (*Conn, error) {
	t := e.handshakes.Enter(gate.IP(conn), func() { conn.Close() })
	defer t.Leave()
	return e.open(ctx, conn, transportName(conn), false, nil, report, false)
}

// open runs a link's handshake. A failure is returned, and reported as
// EventError only when report is set: each failure is reported once, to
// the caller that started the link or, failing one, as an event. upgraded
// says conn is an Upgrader's (the peer spoke PXP over the session that
// signaled it).
func (e *Exchange) open(ctx context.Context, conn net.Conn, kind string, outgoing bool, via *Peer, report, upgraded bool) (*Conn, error) {
	var hctx context.Context // the handshake's, once it started
	var cancel context.CancelFunc
	if e.cfg.NetworkKey != nil && via == nil {
		// A direct transport of a private network: PXP runs inside the
		// network key's handshake (a relayed session runs inside a link
		// that passed it), both within one HandshakeTimeout.
		hctx, cancel = e.handshakeContext(ctx)
		defer cancel()
		kc, err := e.secure(hctx, conn, kind, outgoing)
		if err != nil {
			if report {
				e.emit(Event{Type: EventError, Err: err})
			}
			return nil, err
		}
		conn = kc
	}
	p, err := e.startLink(conn, kind, outgoing, via, !report, upgraded)
	if err != nil {
		return nil, err
	}
	if hctx == nil {
		hctx, cancel = e.handshakeContext(ctx)
		defer cancel()
	}
	c, err := p.establish(hctx)
	if err != nil {
		p.closeWith(err)
		return nil, err
	}
	p.mu.Lock()
	p.opened = true
	p.mu.Unlock()
	p.established.Store(true)
	return c, nil
}

func (e *Exchange) handshakeContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeoutCause(ctx, e.cfg.HandshakeTimeout, ErrHandshakeTimeout)
	stop := context.AfterFunc(e.ctx, cancel)
	return ctx, func() { stop(); cancel() }
}

// Peers returns the peers past their handshake.
func (e *Exchange) Peers() []*Peer {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]*Peer, 0, len(e.peers))
	for p := range e.peers {
		out = append(out, p)
	}
	return out
}

// Stats returns the exchange's counters.
func (e *Exchange) Stats() Stats {
	e.mu.Lock()
	n, r, out := len(e.peers), e.relays, len(e.index.out)
	links := make(map[string]int)
	for p := range e.peers {
		links[p.kind]++
	}
	e.mu.Unlock()
	st := Stats{
		Links:            links,
		Peers:            n,
		Outbound:         out,
		Relays:           r,
		MessagesSent:     e.msgsOut.Load(),
		MessagesReceived: e.msgsIn.Load(),
		BytesSent:        e.bytesOut.Load(),
		BytesReceived:    e.bytesIn.Load(),
		RelayedBytes:     e.relayedBytes.Load(),
		EventsDropped:    e.dropped.Load(),
	}
	e.counts.fill(&st)
	return st
}

// Close closes every link and every listener given to Serve, waits for the
// exchange's goroutines, and closes the Events and Incoming channels.
func (e *Exchange) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	e.cancel() // first: a Serve loop whose listener closes sees it and returns nil
	for ln := range e.listeners {
		ln.Close()
	}
	links := make([]*Peer, 0, len(e.links))
	for p := range e.links {
		links = append(links, p)
	}
	e.mu.Unlock()
	for _, p := range links {
		p.closeWith(ErrClosed)
	}
	e.wg.Wait()
	e.mu.Lock()
	e.chansClosed = true
	close(e.events)
	close(e.incoming)
	e.mu.Unlock()
	for c := range e.incoming {
		c.Peer().Close()
	}
	return nil
}

// deliverIncoming hands an introduced connection to the application, or
// refuses it when the Incoming channel is full.
func (e *Exchange) deliverIncoming(c *Conn) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return false
	}
	select {
	case e.incoming <- c:
		return true
	default:
		return false
	}
}

func (e *Exchange) unlink(p *Peer, err error) {
	e.mu.Lock()
	delete(e.links, p)
	_, was := e.peers[p]
	if was {
		delete(e.peers, p)
		e.index.remove(p)
	}
	e.mu.Unlock()
	if errors.Is(err, ErrEvicted) {
		was = true // removed by register already; still a disconnect
	}
	if was {
		if isBenign(err) {
			err = nil
		}
		e.emit(Event{Type: EventDisconnect, Peer: p, Err: err})
	}
}

// transportName labels a connection given by the application.
func transportName(c net.Conn) string {
	if t, ok := c.(interface{ Transport() string }); ok {
		return t.Transport()
	}
	switch c.(type) {
	case *net.TCPConn:
		return "tcp"
	case *net.UnixConn:
		return "unix"
	}
	if a := c.LocalAddr(); a != nil {
		return a.Network()
	}
	return "stream"
}

// isBenign reports whether a link ended by a clean close rather than a fault.
func isBenign(err error) bool {
	return err == nil || errors.Is(err, ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, mux.ErrSessionClosed)
}
