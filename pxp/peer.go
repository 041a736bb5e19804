package pxp

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/psk"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Peer is one PXP link: a transport given to Connect or Accept, or a session
// relayed through another peer (Transport "relay").
type Peer struct {
	ex       *Exchange
	kind     string
	outgoing bool
	via      *Peer
	conn     net.Conn
	sess     *mux.Session
	ctl      *mux.Stream
	// quiet: a failure before opened is returned to the caller that
	// started the link (Connect, Accept), not reported as EventError.
	quiet bool

	helloDone    chan struct{}
	dataCh       chan *Conn // the data stream, once; closed when none will come
	done         chan struct{}
	getpeers     *rate.Limiter
	limits       map[string]*rate.Limiter // per message kind, made on first use; read loop only
	refusals     *rate.Limiter            // over-rate messages tolerated
	sigMu        sync.Mutex               // orders remote signals into the upgrade
	slot         slotInfo                 // guarded by ex.mu
	lastActive   atomic.Int64             // unix nanoseconds of the last bytes read from the peer
	unresponsive atomic.Bool              // it failed the last introduction relayed to it
	rd           *lineFeed                // the control stream's reader (linefeed.go)
	since        time.Time                // when the link started
	bytesIn      atomic.Uint64            // bytes read from the link's transport
	bytesOut     atomic.Uint64            // bytes written to it
	msgsIn       atomic.Uint64            // control messages read from it that are traffic (anchors.go)

	mu          sync.Mutex
	nonce       uint64
	pending     map[string]chan json.RawMessage
	ready       bool        // hello received and valid
	refusing    error       // the link had no slot: requests get this refusal, then the link closes
	refuseTimer *time.Timer // closes a refused link its peer left silent
	joined      bool        // in the peer list
	delivered   bool        // dataCh was written or closed
	remote      remoteHello
	up          upgradeState
	served      servedState
	data        *mux.Stream
	dataMine    bool
	opened      bool // the handshake is over and returned its stream
	// established is set, and read, without p.mu: on the dialing side
	// with opened, on the accepting side as it answers the peer's connect
	// (a moment before opened, since the peer may ask for candidates as
	// soon as it has the answer). A link still in its handshake (its hello
	// read, the connect not yet answered) is neither asked for candidates
	// nor offered as one (outbound.go, chosen.go). opened stays apart: it
	// decides who is told of the link's failure (closeWith).
	established atomic.Bool
	closed      bool
	err         error
}

// candidate is a peer offered to the link's peer under a candidate id.
type candidate struct {
	peer    *Peer
	expires time.Time
}

// PeerStats are one link's counters.
type PeerStats struct {
	Since         time.Time // when the link started
	BytesSent     uint64    // bytes written to its transport (for a relayed link, into the relay's stream)
	BytesReceived uint64    // bytes read from it
}

// Stats returns the link's counters.
func (p *Peer) Stats() PeerStats {
	return PeerStats{Since: p.since, BytesSent: p.bytesOut.Load(), BytesReceived: p.bytesIn.Load()}
}

// Transport says what carries the link: "tcp", "ws", "relay", ... .
func (p *Peer) Transport() string { return p.kind }

// Outgoing reports whether this node opened the link (Connect, GetNewPeer).
func (p *Peer) Outgoing() bool { return p.outgoing }

// Via returns the peer relaying this link, or nil for a direct one.
func (p *Peer) Via() *Peer { return p.via }

// ID returns the node id the peer advertised in its connectInfo, or "" (JS
// peers advertise none).
func (p *Peer) ID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remote.id
}

// ConnectInfo returns the connectInfo of the peer's hello as JSON.
func (p *Peer) ConnectInfo() json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(json.RawMessage(nil), p.remote.raw...)
}

// connectInfoShared is ConnectInfo without the copy, for a getpeers
// answer to write out: the connectInfo is a slice of its own, taken at the
// hello and replaced whole by an info message (handshake.go, observe.go),
// never written into, so callers may read it and must never modify it.
// compact says whether it is as json.Marshal writes it.
func (p *Peer) connectInfoShared() (raw json.RawMessage, compact bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.remote.raw, p.remote.compact
}

// NetConn returns the transport the link runs over: the connection given
// to Connect or Accept, or the one an upgrade made (for "relay" links, the
// relayed stream). Applications may look for more on it, such as package
// webrtc's CandidateType.
func (p *Peer) NetConn() net.Conn {
	c := p.conn
	if mc, ok := c.(*magicConn); ok {
		c = mc.Conn
	}
	if kc, ok := c.(*psk.Conn); ok { // the keyed link's transport
		c = kc.NetConn()
	}
	return c
}

// RemoteAddr returns the transport's remote address.
func (p *Peer) RemoteAddr() net.Addr { return p.conn.RemoteAddr() }

// Done is closed when the link has ended.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err returns why the link ended (nil while it is up).
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Close ends the link. It returns at once; the transport is closed
// gracefully behind it (half closed, the peer's last bytes read, for at
// most Config.CloseDrain), so that the peer sees a clean end rather than
// a reset. Exchange.Close waits for that.
func (p *Peer) Close() error {
	p.closeWith(ErrClosed)
	return nil
}

func (p *Peer) String() string {
	id := p.ID()
	if id == "" {
		id = "js"
	}
	return fmt.Sprintf("%s %s (%s)", p.kind, p.conn.RemoteAddr(), id)
}

func (p *Peer) acceptsIncoming() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.joined && !p.closed && p.remote.accepting
}

// startLink writes the magic and our hello and starts reading.
func (e *Exchange) startLink(conn net.Conn, kind string, outgoing bool, via *Peer, quiet, upgraded bool) (*Peer, error) {
	p := &Peer{
		quiet:     quiet,
		since:     time.Now(),
		ex:        e,
		kind:      kind,
		outgoing:  outgoing,
		via:       via,
		helloDone: make(chan struct{}),
		dataCh:    make(chan *Conn, 1),
		done:      make(chan struct{}),
		getpeers:  rate.NewLimiter(rate.Limit(e.cfg.GetPeersRate), e.cfg.GetPeersBurst),
		refusals:  rate.NewLimiter(1, e.cfg.RefusalBurst),
		nonce:     1, // hello uses "0"
		pending:   make(map[string]chan json.RawMessage),
		served:    servedState{candidates: make(map[string]candidate)},
	}
	p.conn = &magicConn{Conn: conn, ex: e, p: p, direct: via == nil, upgraded: upgraded}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	e.links[p] = struct{}{}
	e.mu.Unlock()

	_ = conn.SetWriteDeadline(time.Now().Add(e.cfg.HandshakeTimeout))
	if _, err := p.conn.Write([]byte(wire.Magic)); err != nil {
		e.mu.Lock()
		delete(e.links, p)
		e.mu.Unlock()
		conn.Close()
		return nil, fmt.Errorf("pxp: writing magic: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	sess := mux.NewSession(p.conn, &mux.Config{
		StreamBuffer:    e.cfg.StreamBuffer,
		PendingBudget:   e.unclaimed,
		StallTimeout:    e.cfg.StallTimeout,
		MaxFrameSize:    e.cfg.MaxFrameSize,
		CloseDrain:      e.cfg.CloseDrain,
		CloseDrainBytes: e.cfg.CloseDrainBytes,
		Logger:          e.cfg.Logger,
	})
	p.mu.Lock()
	p.sess = sess
	closed := p.closed
	p.mu.Unlock()
	if closed { // Close got here first
		sess.Close()
		return nil, p.Err()
	}
	hello := appendHello(nil, e.helloInfo(conn, via == nil), e.network)
	var err error
	// Stream fails only when the session has already ended (bad input can
	// end it before we get here).
	if p.ctl, err = p.sess.Stream(wire.ControlStream); err == nil {
		err = p.send(wire.CmdHello, "0", hello)
	}
	if err != nil {
		if se := p.sess.Err(); se != nil && !errors.Is(se, mux.ErrSessionClosed) {
			err = se
		}
		p.closeWith(err)
		return nil, err
	}
	p.startControlFeed()
	return p, nil
}

// closeWith ends the link with err; the first error wins. An error that
// is not benign is reported as EventError, unless the link is quiet and
// its handshake not over: then the caller of Connect or Accept gets it.
func (p *Peer) closeWith(err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	if err == nil {
		err = ErrClosed
	}
	report := !p.quiet || p.opened // else the caller gets the error
	if p.refuseTimer != nil {
		p.refuseTimer.Stop()
	}
	p.err = err
	p.served.candidates = nil
	us := p.up.cur
	p.up.cur = nil
	sess := p.sess
	p.mu.Unlock()
	if us != nil {
		us.Close() // abandons it unless it already produced its transport
	}
	close(p.done)
	if sess != nil {
		// Graceful, and not waited for here: an eviction or a Peer.Close
		// does not wait on the peer. The control feed's end waits for the
		// session (startControlFeed), and Exchange.Close for the feeds.
		sess.StartClose()
	} else {
		p.conn.Close()
	}
	if kind := protocolErrorKind(err); kind != "" {
		p.ex.counts.add(func(c *counters) { bump(&c.protocolErrors, kind) })
	}
	if !isBenign(err) {
		p.ex.cfg.Logger.Debug("pxp: link closed", "peer", p.String(), "err", err)
		if report {
			p.ex.emit(Event{Type: EventError, Peer: p, Err: err})
		}
	}
	p.ex.unlink(p, err)
}

// Conn is a data stream ("data:<network>") to a peer. Closing it ends the
// data stream; the PXP link stays up until Peer().Close.
type Conn struct {
	net.Conn
	peer *Peer
}

// Peer returns the link carrying the stream (nil for a plain relayed stream
// to a non-PXP candidate).
func (c *Conn) Peer() *Peer { return c.peer }

// Transport says what carries the stream: "tcp", "relay", "ws", "webrtc".
func (c *Conn) Transport() string {
	if c.peer == nil {
		return "relay"
	}
	return c.peer.kind
}
