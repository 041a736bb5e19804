package mux

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Config tunes a Session. The zero value means the defaults given per field.
type Config struct {
	// MaxFrameSize is the largest frame payload accepted from the peer. A
	// larger frame is a protocol error that ends the session. Default 1 MiB.
	MaxFrameSize int
	// MaxWriteChunk is the largest payload sent in one DATA frame; longer
	// writes are split. Default 64 KiB.
	MaxWriteChunk int
	// StreamBuffer is how many received bytes a stream holds before the
	// session stops reading from the transport until the application reads
	// (back-pressure). Default 256 KiB.
	StreamBuffer int
	// MaxPendingStreams bounds the peer channels kept while nobody has asked
	// for their name yet. Further ones are ignored. Default 8.
	MaxPendingStreams int
	// PendingBuffer bounds the bytes kept for one such channel; a channel
	// that sends more is discarded. Default 64 KiB.
	PendingBuffer int
	// PendingTimeout is how long such a channel is kept. Default 15 s.
	PendingTimeout time.Duration
	// WriteTimeout bounds one write to the transport when it is a net.Conn.
	// A write that does not finish in time ends the session. Default 30 s.
	WriteTimeout time.Duration
	// Logger receives debug logs; nil means silent.
	Logger *slog.Logger
}

func (c *Config) withDefaults() Config {
	var o Config
	if c != nil {
		o = *c
	}
	if o.MaxFrameSize <= 0 {
		o.MaxFrameSize = DefaultMaxFrameSize
	}
	if o.MaxWriteChunk <= 0 {
		o.MaxWriteChunk = 64 << 10
	}
	if o.StreamBuffer <= 0 {
		o.StreamBuffer = 256 << 10
	}
	if o.MaxPendingStreams <= 0 {
		o.MaxPendingStreams = 8
	}
	if o.PendingBuffer <= 0 {
		o.PendingBuffer = 64 << 10
	}
	if o.PendingTimeout <= 0 {
		o.PendingTimeout = 15 * time.Second
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Errors returned by sessions and streams.
var (
	// ErrSessionClosed is returned for operations on a closed session.
	ErrSessionClosed = errors.New("mux: session closed")
	// ErrStreamExists is returned by Session.Stream for a name already open.
	ErrStreamExists = errors.New("mux: stream name already open")
	// ErrWriteClosed is returned by Write after CloseWrite.
	ErrWriteClosed = errors.New("mux: write after end of stream")
)

// StreamError is a peer's ERROR frame on one channel. It ends that stream only.
type StreamError struct {
	Name    string
	Message string
}

func (e *StreamError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = "Channel destroyed"
	}
	return fmt.Sprintf("mux: stream %q destroyed by peer: %s", e.Name, msg)
}

// Session multiplexes named streams over one transport. Create it with
// NewSession; it reads the transport in its own goroutine until Close or a
// transport or protocol error.
type Session struct {
	conn io.ReadWriteCloser
	cfg  Config

	wmu  sync.Mutex // serialises transport writes; taken before mu
	wbuf []byte

	mu      sync.Mutex
	cond    *sync.Cond
	names   map[string]*Stream
	local   map[uint64]*Stream
	remote  map[uint64]*remoteChan
	pending map[string]*pendingChan
	nextID  uint64
	closed  bool
	err     error

	done      chan struct{}
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	framesOut atomic.Uint64
}

type remoteChan struct {
	name string
	st   *Stream
	pend *pendingChan
}

type pendingChan struct {
	ch      uint64
	data    []byte
	eof     bool
	err     error
	created time.Time
}

// NewSession starts a session over conn. conn is closed when the session ends.
func NewSession(conn io.ReadWriteCloser, cfg *Config) *Session {
	s := &Session{
		conn:    conn,
		cfg:     cfg.withDefaults(),
		names:   make(map[string]*Stream),
		local:   make(map[uint64]*Stream),
		remote:  make(map[uint64]*remoteChan),
		pending: make(map[string]*pendingChan),
		done:    make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	go s.readLoop()
	return s
}

// Done is closed when the session has ended.
func (s *Session) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil while it runs, io.EOF after the
// peer closed the transport cleanly, ErrSessionClosed after Close.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// BytesRead and BytesWritten count transport bytes.
func (s *Session) BytesRead() uint64 { return s.bytesIn.Load() }

// BytesWritten counts bytes written to the transport.
func (s *Session) BytesWritten() uint64 { return s.bytesOut.Load() }

// Close ends the session and every stream, closes the transport, and waits
// for the reading goroutine to stop.
func (s *Session) Close() error {
	s.fail(ErrSessionClosed)
	<-s.done
	return nil
}

// fail ends the session with err (the first error wins).
func (s *Session) fail(err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.err = err
	for _, st := range s.names {
		st.stopTimerLocked()
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	_ = s.conn.Close()
}

// Stream opens the shared stream called name: writes go out on our own
// channel of that name, reads come from the peer's channel of that name. Data
// the peer sent on that name before the call is delivered if it was kept.
func (s *Session) Stream(name string) (*Stream, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrSessionClosed
	}
	if _, ok := s.names[name]; ok {
		return nil, fmt.Errorf("%w: %q", ErrStreamExists, name)
	}
	st := &Stream{s: s, name: name}
	s.names[name] = st
	if p, ok := s.pending[name]; ok {
		delete(s.pending, name)
		st.buf = p.data
		st.rEOF = p.eof
		st.rErr = p.err
		if rc, ok := s.remote[p.ch]; ok && rc.pend == p {
			rc.pend = nil
			rc.st = st
			st.bound, st.remoteCh = true, p.ch
		}
	}
	return st, nil
}

func (s *Session) readLoop() {
	defer close(s.done)
	r := NewReader(countingReader{s.conn, &s.bytesIn}, s.cfg.MaxFrameSize)
	for {
		f, err := r.ReadFrame()
		if err != nil {
			s.fail(err)
			s.endAll()
			return
		}
		s.handle(f)
	}
}

// endAll wakes every stream after the session has failed.
func (s *Session) endAll() {
	s.mu.Lock()
	s.cond.Broadcast()
	s.mu.Unlock()
}

func (s *Session) handle(f Frame) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !f.Initiated() {
		// Odd types name a channel we opened. PXP streams are one-way, so
		// only an ERROR matters: the peer will not read our channel any more.
		if f.Type == TypeErrReceiver {
			if st := s.local[f.Channel]; st != nil && st.wErr == nil {
				st.wErr = &StreamError{Name: st.name, Message: string(f.Payload)}
				s.cond.Broadcast()
			}
		}
		return
	}
	switch f.Type {
	case TypeNew:
		s.open(f.Channel, f.Payload)
	case TypeDataInit:
		rc := s.remote[f.Channel]
		if rc == nil {
			s.cfg.Logger.Debug("mux: data for an unknown channel dropped", "channel", f.Channel, "bytes", len(f.Payload))
			return
		}
		if rc.pend != nil {
			p := rc.pend
			if len(p.data)+len(f.Payload) > s.cfg.PendingBuffer {
				s.cfg.Logger.Debug("mux: discarding unclaimed stream over its buffer", "name", rc.name)
				delete(s.pending, rc.name)
				delete(s.remote, f.Channel)
				return
			}
			p.data = append(p.data, f.Payload...)
			return
		}
		st := rc.st
		for len(st.buf) > 0 && len(st.buf)+len(f.Payload) > s.cfg.StreamBuffer && !st.closed && !s.closed {
			s.cond.Wait()
		}
		if st.closed || s.closed || s.remote[f.Channel] != rc {
			return
		}
		st.buf = append(st.buf, f.Payload...)
		s.cond.Broadcast()
	case TypeEndInit, TypeErrInit:
		rc := s.remote[f.Channel]
		if rc == nil {
			return
		}
		delete(s.remote, f.Channel)
		var err error
		if f.Type == TypeErrInit {
			err = &StreamError{Name: rc.name, Message: string(f.Payload)}
		}
		if rc.pend != nil {
			rc.pend.eof = true
			rc.pend.err = err
			return
		}
		if rc.st != nil {
			rc.st.rEOF = true
			if rc.st.rErr == nil {
				rc.st.rErr = err
			}
			s.cond.Broadcast()
		}
	}
}

// open handles a peer's NEW frame. Called with s.mu held.
func (s *Session) open(ch uint64, payload []byte) {
	name := string(payload)
	if name == "" {
		name = strconv.FormatUint(ch, 10)
	}
	s.cfg.Logger.Debug("mux: peer opened", "channel", ch, "name", name)
	if old := s.remote[ch]; old != nil {
		// The peer reused an id without ending it: the old channel is over.
		delete(s.remote, ch)
		if old.st != nil {
			old.st.rEOF = true
			s.cond.Broadcast()
		}
	}
	if st := s.names[name]; st != nil {
		if st.bound {
			s.cfg.Logger.Debug("mux: ignoring second channel for a bound name", "name", name)
			return
		}
		st.bound, st.remoteCh = true, ch
		s.remote[ch] = &remoteChan{name: name, st: st}
		return
	}
	now := time.Now()
	for n, p := range s.pending {
		if now.Sub(p.created) > s.cfg.PendingTimeout {
			delete(s.pending, n)
			if rc := s.remote[p.ch]; rc != nil && rc.pend == p {
				delete(s.remote, p.ch)
			}
		}
	}
	if _, dup := s.pending[name]; dup || len(s.pending) >= s.cfg.MaxPendingStreams {
		s.cfg.Logger.Debug("mux: ignoring unrequested stream", "name", name)
		return
	}
	p := &pendingChan{ch: ch, created: now}
	s.pending[name] = p
	s.remote[ch] = &remoteChan{name: name, pend: p}
}

// writeFrames sends frames for st under the write lock. NEW is added first
// when st's channel is not open yet.
func (s *Session) send(st *Stream, typ uint8, payload []byte) error {
	s.mu.Lock()
	if s.closed {
		err := s.err
		s.mu.Unlock()
		if err == nil || err == io.EOF {
			err = ErrSessionClosed
		}
		return err
	}
	if !st.hasID {
		st.id = s.nextID
		st.hasID = true
		s.nextID++
		s.local[st.id] = st
	}
	needNew := !st.opened
	st.opened = true
	id := st.id
	deadline := st.writeDeadline
	s.mu.Unlock()

	buf := s.wbuf[:0]
	if needNew {
		buf = AppendFrame(buf, id, TypeNew, []byte(st.name))
	}
	buf = AppendFrame(buf, id, typ, payload)
	s.wbuf = buf
	if nc, ok := s.conn.(net.Conn); ok {
		d := time.Now().Add(s.cfg.WriteTimeout)
		if !deadline.IsZero() && deadline.Before(d) {
			d = deadline
		}
		_ = nc.SetWriteDeadline(d)
	}
	n, err := s.conn.Write(buf)
	s.bytesOut.Add(uint64(n))
	s.framesOut.Add(1)
	if cap(s.wbuf) > 4*s.cfg.MaxWriteChunk {
		s.wbuf = nil
	}
	if err != nil {
		// A partial frame leaves the transport unusable.
		err = fmt.Errorf("mux: write: %w", err)
		s.fail(err)
		return err
	}
	return nil
}

type countingReader struct {
	r io.Reader
	n *atomic.Uint64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(uint64(n))
	return n, err
}

// Stream is one shared named stream. It is a net.Conn; Close sends END (never
// ERROR) and releases the name.
type Stream struct {
	s    *Session
	name string

	// guarded by s.mu
	id            uint64
	hasID         bool
	opened        bool
	wEnded        bool
	wErr          error
	bound         bool   // a peer channel carries this name
	remoteCh      uint64 // that channel, once bound
	buf           []byte
	rEOF          bool
	rErr          error
	closed        bool
	readDL        time.Time
	rdTimer       *time.Timer
	writeDeadline time.Time
}

var _ net.Conn = (*Stream)(nil)

// Name returns the stream's name.
func (st *Stream) Name() string { return st.name }

// Session returns the session carrying the stream.
func (st *Stream) Session() *Session { return st.s }

// Read reads data the peer sent on its channel of this name.
func (st *Stream) Read(p []byte) (int, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for {
		if len(st.buf) > 0 {
			n := copy(p, st.buf)
			st.buf = st.buf[n:]
			if len(st.buf) == 0 {
				st.buf = nil
			}
			s.cond.Broadcast()
			return n, nil
		}
		switch {
		case st.closed:
			return 0, net.ErrClosed
		case st.rErr != nil:
			return 0, st.rErr
		case st.rEOF:
			return 0, io.EOF
		case s.closed:
			if s.err == nil || s.err == ErrSessionClosed || s.err == io.EOF {
				return 0, io.EOF
			}
			return 0, s.err
		case !st.readDL.IsZero() && !time.Now().Before(st.readDL):
			return 0, os.ErrDeadlineExceeded
		}
		if len(p) == 0 {
			return 0, nil
		}
		s.cond.Wait()
	}
}

// Write sends p on our channel, split into frames of at most MaxWriteChunk.
func (st *Stream) Write(p []byte) (int, error) {
	s := st.s
	s.wmu.Lock()
	defer s.wmu.Unlock()
	written := 0
	for {
		s.mu.Lock()
		err := st.writableLocked()
		s.mu.Unlock()
		if err != nil {
			return written, err
		}
		chunk := p[written:]
		if len(chunk) > s.cfg.MaxWriteChunk {
			chunk = chunk[:s.cfg.MaxWriteChunk]
		}
		if err := s.send(st, TypeDataInit, chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		if written >= len(p) {
			return written, nil
		}
	}
}

func (st *Stream) writableLocked() error {
	switch {
	case st.closed:
		return net.ErrClosed
	case st.wEnded:
		return ErrWriteClosed
	case st.wErr != nil:
		return st.wErr
	case !st.writeDeadline.IsZero() && !time.Now().Before(st.writeDeadline):
		return os.ErrDeadlineExceeded
	}
	return nil
}

// CloseWrite sends END on our channel: the peer reads EOF; we can still read.
func (st *Stream) CloseWrite() error {
	s := st.s
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	if st.wEnded || st.wErr != nil {
		s.mu.Unlock()
		return nil
	}
	st.wEnded = true
	s.mu.Unlock()
	return s.send(st, TypeEndInit, nil)
}

// Close ends our channel with END (never ERROR, which JS peers treat as fatal
// for the whole connection), stops reading, and releases the name.
func (st *Stream) Close() error {
	err := st.CloseWrite()
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if st.closed {
		return nil
	}
	st.closed = true
	st.buf = nil
	st.stopTimerLocked()
	if s.names[st.name] == st {
		delete(s.names, st.name)
	}
	if st.hasID {
		delete(s.local, st.id)
	}
	if rc := s.remote[st.remoteCh]; st.bound && rc != nil && rc.st == st {
		// Later frames on that channel find no entry and are dropped.
		delete(s.remote, st.remoteCh)
	}
	s.cond.Broadcast()
	if errors.Is(err, ErrSessionClosed) {
		err = nil
	}
	return err
}

func (st *Stream) stopTimerLocked() {
	if st.rdTimer != nil {
		st.rdTimer.Stop()
		st.rdTimer = nil
	}
}

// Addr is the address of a Stream: the stream name on top of the transport's.
type Addr struct {
	Name      string
	Transport net.Addr
}

// Network returns "mux".
func (a Addr) Network() string { return "mux" }

func (a Addr) String() string {
	if a.Transport == nil {
		return a.Name
	}
	return a.Transport.String() + "/" + a.Name
}

// LocalAddr returns the stream name over the transport's local address.
func (st *Stream) LocalAddr() net.Addr {
	a := Addr{Name: st.name}
	if nc, ok := st.s.conn.(net.Conn); ok {
		a.Transport = nc.LocalAddr()
	}
	return a
}

// RemoteAddr returns the stream name over the transport's remote address.
func (st *Stream) RemoteAddr() net.Addr {
	a := Addr{Name: st.name}
	if nc, ok := st.s.conn.(net.Conn); ok {
		a.Transport = nc.RemoteAddr()
	}
	return a
}

// SetDeadline sets both deadlines.
func (st *Stream) SetDeadline(t time.Time) error {
	_ = st.SetReadDeadline(t)
	return st.SetWriteDeadline(t)
}

// SetReadDeadline makes a blocked or future Read fail with
// os.ErrDeadlineExceeded once t has passed. Zero means no deadline.
func (st *Stream) SetReadDeadline(t time.Time) error {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st.readDL = t
	st.stopTimerLocked()
	if !t.IsZero() && !st.closed {
		st.rdTimer = time.AfterFunc(time.Until(t), func() {
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
		})
	}
	s.cond.Broadcast()
	return nil
}

// SetWriteDeadline bounds future writes. Zero means only the session's
// WriteTimeout applies.
func (st *Stream) SetWriteDeadline(t time.Time) error {
	s := st.s
	s.mu.Lock()
	st.writeDeadline = t
	s.mu.Unlock()
	return nil
}
