package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/seed0021ed4d/pex/mux"
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
	started  time.Time

	helloDone chan struct{}
	dataCh    chan *Conn
	done      chan struct{}
	getpeers  *rate.Limiter
	sigMu     sync.Mutex // orders remote signals into the upgrade

	mu             sync.Mutex
	nonce          uint64
	pending        map[string]chan json.RawMessage
	ready          bool // hello received and valid
	joined         bool // in the peer list
	delivered      bool // a data stream went to dataCh
	upgrade        Upgrade
	upgradeStart   bool              // an outgoing upgrade is starting
	earlySignals   []json.RawMessage // signals that came meanwhile
	upgradeDone    bool              // the upgrade produced its transport
	remoteInfo     json.RawMessage
	remoteID       string
	accepting      bool
	webrtc         bool
	tcpAddr        string
	remoteNetworks []string
	candidates     map[string]candidate
	data           *mux.Stream
	dataMine       bool
	relays         int // relays this peer asked for, pending or spliced
	closed         bool
	err            error
}

type candidate struct {
	peer    *Peer
	expires time.Time
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
	return p.remoteID
}

// ConnectInfo returns the connectInfo of the peer's hello as JSON.
func (p *Peer) ConnectInfo() json.RawMessage {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(json.RawMessage(nil), p.remoteInfo...)
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

// Close ends the link.
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
	return p.joined && !p.closed && p.accepting
}

// startLink writes the magic and our hello and starts reading.
func (e *Exchange) startLink(conn net.Conn, kind string, outgoing bool, via *Peer) (*Peer, error) {
	p := &Peer{
		ex:         e,
		kind:       kind,
		outgoing:   outgoing,
		via:        via,
		started:    time.Now(),
		helloDone:  make(chan struct{}),
		dataCh:     make(chan *Conn, 1),
		done:       make(chan struct{}),
		getpeers:   rate.NewLimiter(rate.Limit(e.cfg.GetPeersRate), e.cfg.GetPeersBurst),
		nonce:      1, // hello uses "0"
		pending:    make(map[string]chan json.RawMessage),
		candidates: make(map[string]candidate),
	}
	p.conn = &magicConn{Conn: conn, ex: e, direct: via == nil}
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		conn.Close()
		return nil, ErrClosed
	}
	e.links[p] = struct{}{}
	e.mu.Unlock()

	_ = conn.SetWriteDeadline(time.Now().Add(e.cfg.HandshakeTimeout))
	if _, err := p.conn.Write([]byte(Magic)); err != nil {
		e.mu.Lock()
		delete(e.links, p)
		e.mu.Unlock()
		conn.Close()
		return nil, fmt.Errorf("pxp: writing magic: %w", err)
	}
	_ = conn.SetWriteDeadline(time.Time{})
	sess := mux.NewSession(p.conn, &mux.Config{
		MaxFrameSize: e.cfg.MaxFrameSize,
		Logger:       e.cfg.Logger,
	})
	p.mu.Lock()
	p.sess = sess
	closed := p.closed
	p.mu.Unlock()
	if closed { // Close got here first
		sess.Close()
		return nil, p.Err()
	}
	hello, _ := json.Marshal([]any{ProtocolVersion, e.connectInfo, []string{e.network}})
	var err error
	// Stream fails only when the session has already ended (bad input can
	// end it before we get here).
	if p.ctl, err = p.sess.Stream("pxp"); err == nil {
		err = p.send(CmdHello, "0", hello)
	}
	if err != nil {
		if se := p.sess.Err(); se != nil && !errors.Is(se, mux.ErrSessionClosed) {
			err = se
		}
		p.closeWith(err)
		return nil, err
	}
	e.wg.Add(1)
	go p.readLoop()
	return p, nil
}

// waitHello waits until the peer's hello was accepted.
func (p *Peer) waitHello(ctx context.Context) error {
	select {
	case <-p.helloDone:
		return nil
	case <-p.done:
		return p.Err()
	case <-ctx.Done():
		return ctxErr(ctx)
	}
}

// establish waits for the hello and opens the data stream: as the outgoing
// side by sending connect; as the incoming side by waiting for the peer's
// connect, or, on a relayed session, for the upgraded link's data stream.
func (p *Peer) establish(ctx context.Context) (*Conn, error) {
	if err := p.waitHello(ctx); err != nil {
		return nil, err
	}
	if p.outgoing {
		return p.connectData(ctx)
	}
	select {
	case c := <-p.dataCh:
		return c, nil
	case <-p.done:
		select {
		case c := <-p.dataCh:
			return c, nil
		default:
		}
		return nil, p.Err()
	case <-ctx.Done():
		return nil, ctxErr(ctx)
	}
}

func ctxErr(ctx context.Context) error {
	if c := context.Cause(ctx); c != nil && !errors.Is(c, context.Canceled) && !errors.Is(c, context.DeadlineExceeded) {
		return c
	}
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrHandshakeTimeout
	}
	return ctx.Err()
}

// connectData sends connect and returns the data stream once answered.
func (p *Peer) connectData(ctx context.Context) (*Conn, error) {
	net := p.ex.network
	p.mu.Lock()
	if p.data != nil {
		p.mu.Unlock()
		return nil, fmt.Errorf("pxp: already connected for network %q", net)
	}
	st, err := p.sess.Stream("data:" + net)
	if err != nil {
		p.mu.Unlock()
		return nil, err
	}
	p.data, p.dataMine = st, true
	joined := p.joined
	p.mu.Unlock()
	if !joined {
		if err := p.join(); err != nil {
			return nil, err
		}
	}
	arg, _ := json.Marshal(net)
	res, err := p.request(ctx, CmdConnect, arg)
	if err != nil {
		return nil, err
	}
	if err := responseError(CmdConnect, res); err != nil {
		return nil, err
	}
	c := &Conn{Conn: st, peer: p}
	p.ex.emit(Event{Type: EventConnect, Peer: p, Conn: c})
	return c, nil
}

// responseError turns a non-null response into a RemoteError.
func responseError(cmd string, res json.RawMessage) error {
	if isNull(res) {
		return nil
	}
	var s string
	if json.Unmarshal(res, &s) == nil {
		return &RemoteError{Command: cmd, Message: s}
	}
	return &RemoteError{Command: cmd, Message: string(truncate(res, 200))}
}

func isNull(b json.RawMessage) bool {
	s := strings.TrimSpace(string(b))
	return s == "" || s == "null"
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// request sends cmd and waits for its res, bounded by ctx and RequestTimeout.
func (p *Peer) request(ctx context.Context, cmd string, args json.RawMessage) (json.RawMessage, error) {
	ch := make(chan json.RawMessage, 1)
	p.mu.Lock()
	if p.closed {
		err := p.err
		p.mu.Unlock()
		return nil, fmt.Errorf("pxp: %s: link closed: %w", cmd, err)
	}
	nonce := nonceString(p.nonce)
	p.nonce++
	p.pending[nonce] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, nonce)
		p.mu.Unlock()
	}()
	if err := p.send(cmd, nonce, args); err != nil {
		p.closeWith(err)
		return nil, err
	}
	t := time.NewTimer(p.ex.cfg.RequestTimeout)
	defer t.Stop()
	select {
	case res := <-ch:
		return res, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: %s to %s", ErrRequestTimeout, cmd, p)
	case <-ctx.Done():
		return nil, fmt.Errorf("pxp: %s: %w", cmd, ctxErr(ctx))
	case <-p.done:
		return nil, fmt.Errorf("pxp: %s: link closed: %w", cmd, p.Err())
	}
}

// send writes one control message as one stream write.
func (p *Peer) send(cmd, nonce string, args json.RawMessage) error {
	line := AppendMessage(make([]byte, 0, 64+len(args)), cmd, nonce, args)
	if _, err := p.ctl.Write(line); err != nil {
		return fmt.Errorf("pxp: sending %s: %w", cmd, err)
	}
	p.ex.msgsOut.Add(1)
	return nil
}

func (p *Peer) respond(nonce string, args any) {
	b, err := json.Marshal(args)
	if err != nil {
		b = []byte("null")
	}
	if err := p.send(CmdRes, nonce, b); err != nil {
		p.closeWith(err)
	}
}

// refuse answers a request with an error string and reports it.
func (p *Peer) refuse(cmd, nonce string, msg string, args ...any) {
	if len(args) > 0 {
		msg = fmt.Sprintf(msg, args...)
	}
	if cmd == CmdGetPeers {
		p.respond(nonce, []string{msg})
	} else {
		p.respond(nonce, msg)
	}
	p.ex.emit(Event{Type: EventError, Peer: p, Err: fmt.Errorf("pxp: refused %s from %s: %s", cmd, p, msg)})
}

func (p *Peer) readLoop() {
	defer p.ex.wg.Done()
	lr := newLineReader(p.ctl, p.ex.cfg.MaxMessageSize)
	for {
		line, err := lr.next()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				err = ErrClosed
			}
			if se := p.sess.Err(); se != nil && !errors.Is(se, mux.ErrSessionClosed) && !errors.Is(err, ErrLineTooLong) {
				err = se
			}
			p.closeWith(err)
			return
		}
		p.ex.msgsIn.Add(1)
		m, err := ParseMessage(line)
		if err != nil {
			p.closeWith(err)
			return
		}
		if err := p.dispatch(m); err != nil {
			p.closeWith(err)
			return
		}
	}
}

func (p *Peer) dispatch(m Message) error {
	if m.Command == CmdRes {
		p.mu.Lock()
		ch := p.pending[m.Nonce]
		delete(p.pending, m.Nonce)
		p.mu.Unlock()
		if ch != nil {
			ch <- append(json.RawMessage(nil), m.Args...)
		}
		return nil
	}
	if m.Command == CmdHello {
		return p.onHello(m.Args)
	}
	p.mu.Lock()
	ready := p.ready
	p.mu.Unlock()
	if !ready {
		return nil // as the reference: ignored before hello
	}
	switch m.Command {
	case CmdGetPeers:
		return p.onGetPeers(m)
	case CmdRelay:
		return p.onRelay(m)
	case CmdIncoming:
		return p.onIncoming(m)
	case CmdConnect:
		return p.onConnect(m)
	case CmdUpgrade:
		return p.onUpgrade(m)
	}
	p.ex.emit(Event{Type: EventError, Peer: p, Err: fmt.Errorf("pxp: ignored unknown message %q from %s", truncate([]byte(m.Command), 64), p)})
	return nil
}

func (p *Peer) onHello(args json.RawMessage) error {
	select {
	case <-p.helloDone:
		return nil // a second hello is ignored, as by the reference
	default:
	}
	var parts []json.RawMessage
	if json.Unmarshal(args, &parts) != nil || len(parts) < 3 {
		return &ProtocolError{Reason: "hello arguments are not [version, connectInfo, networks]"}
	}
	// The reference compares with ===: only the JSON number 1 will do.
	var version float64
	if json.Unmarshal(parts[0], &version) != nil || version != ProtocolVersion {
		return fmt.Errorf("%w: theirs=%s, ours=%d", ErrVersionMismatch, truncate(parts[0], 32), ProtocolVersion)
	}
	var networks []string
	if json.Unmarshal(parts[2], &networks) != nil {
		return &ProtocolError{Reason: "hello networks are not an array of strings"}
	}
	common := false
	for _, n := range networks {
		if n == p.ex.network {
			common = true
		}
	}
	if !common {
		return fmt.Errorf("%w (theirs %q, ours %q)", ErrNetworkMismatch, truncateList(networks), p.ex.network)
	}
	info := parseConnectInfo(parts[1])
	p.mu.Lock()
	p.remoteInfo = append(json.RawMessage(nil), parts[1]...)
	p.remoteID = info.id
	p.accepting = info.accepting
	p.webrtc = info.webrtc
	p.tcpAddr = info.tcp
	p.remoteNetworks = networks
	p.mu.Unlock()
	// A relayed session joins the peer list only once it carries data: it
	// may instead only signal an upgrade to a direct transport.
	if p.via == nil {
		if err := p.join(); err != nil {
			return err
		}
	}
	p.mu.Lock()
	p.ready = true
	p.mu.Unlock()
	close(p.helloDone)
	return nil
}

// join adds the link to the peer list.
func (p *Peer) join() error {
	if err := p.ex.register(p); err != nil {
		return err
	}
	p.mu.Lock()
	p.joined = true
	p.mu.Unlock()
	p.ex.emit(Event{Type: EventPeer, Peer: p})
	return nil
}

// deliver hands the link's data stream (or the upgraded link's) to whoever
// waits in establish, once.
func (p *Peer) deliver(c *Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.delivered || p.closed {
		return false
	}
	p.delivered = true
	p.dataCh <- c // capacity 1, written once
	return true
}

func truncateList(s []string) []string {
	if len(s) > 4 {
		return s[:4]
	}
	return s
}

type connectInfo struct {
	accepting bool   // an object whose pxp is truthy
	webrtc    bool   // it takes WebRTC upgrades
	id        string // Go nodes' id
	tcp       string // Go nodes' advertised TCP address, for direct dials
}

func parseConnectInfo(raw json.RawMessage) connectInfo {
	var m map[string]any
	if json.Unmarshal(raw, &m) != nil || m == nil {
		return connectInfo{}
	}
	var ci connectInfo
	ci.accepting = truthy(m["pxp"])
	ci.webrtc = truthy(m["webrtc"])
	if a, ok := m["tcp"].(string); ok && len(a) <= 256 {
		ci.tcp = a
	}
	if id, ok := m["id"].(string); ok && len(id) <= 64 {
		ci.id = id
	}
	return ci
}

// truthy follows JavaScript's truthiness for JSON values.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case float64:
		return x != 0
	case string:
		return x != ""
	}
	return true
}

// onConnect handles the peer's connect: open our data stream and answer.
func (p *Peer) onConnect(m Message) error {
	var network string
	if json.Unmarshal(m.Args, &network) != nil {
		return &ProtocolError{Reason: "connect argument is not a string"}
	}
	if network != p.ex.network {
		p.refuse(CmdConnect, m.Nonce, "Peer tried to connect for unsupported network %q", network)
		return nil
	}
	p.mu.Lock()
	if p.data != nil {
		mine := p.dataMine
		p.mu.Unlock()
		if mine {
			// Both sides sent connect: one data stream serves both.
			p.respond(m.Nonce, nil)
			return nil
		}
		p.refuse(CmdConnect, m.Nonce, "Peer tried to connect to network %q twice", network)
		return fmt.Errorf("pxp: %s connected to network %q twice", p, network)
	}
	if p.upgradeDone {
		p.mu.Unlock()
		p.refuse(CmdConnect, m.Nonce, "connection already upgraded")
		return nil
	}
	us, joined := p.upgrade, p.joined
	p.upgrade = nil
	p.mu.Unlock()
	if us != nil {
		// The requester gave up on the upgrade and uses the relay.
		us.Close()
	}
	if !joined {
		if err := p.join(); err != nil {
			p.refuse(CmdConnect, m.Nonce, "%v", err)
			return err
		}
	}
	p.mu.Lock()
	st, err := p.sess.Stream("data:" + network)
	if err != nil {
		p.mu.Unlock()
		return err
	}
	p.data = st
	p.mu.Unlock()
	p.respond(m.Nonce, nil)
	p.deliver(&Conn{Conn: st, peer: p})
	return nil
}

// closeWith ends the link with err; the first error wins.
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
	p.err = err
	p.candidates = nil
	us := p.upgrade
	p.upgrade = nil
	sess := p.sess
	p.mu.Unlock()
	if us != nil {
		us.Close() // abandons it unless it already produced its transport
	}
	close(p.done)
	if sess != nil {
		sess.Close()
	} else {
		p.conn.Close()
	}
	if !isBenign(err) {
		p.ex.cfg.Logger.Debug("pxp: link closed", "peer", p.String(), "err", err)
		p.ex.emit(Event{Type: EventError, Peer: p, Err: err})
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

// magicConn checks the peer's magic before the first frame is read and
// counts bytes of direct transports.
type magicConn struct {
	net.Conn
	ex      *Exchange
	direct  bool
	checked bool
}

func (m *magicConn) Read(b []byte) (int, error) {
	if !m.checked {
		var got [len(Magic)]byte
		if _, err := io.ReadFull(m.Conn, got[:]); err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return 0, ErrBadMagic
			}
			return 0, err
		}
		if m.direct {
			m.ex.bytesIn.Add(uint64(len(got)))
		}
		if string(got[:]) != Magic {
			return 0, fmt.Errorf("%w (got %q)", ErrBadMagic, got[:])
		}
		m.checked = true
	}
	n, err := m.Conn.Read(b)
	if m.direct {
		m.ex.bytesIn.Add(uint64(n))
	}
	return n, err
}

func (m *magicConn) Write(b []byte) (int, error) {
	n, err := m.Conn.Write(b)
	if m.direct {
		m.ex.bytesOut.Add(uint64(n))
	}
	return n, err
}
