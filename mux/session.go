package mux

import (
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Session multiplexes named streams over one transport. Create it with
// NewSession; it reads the transport in its own goroutine until Close or a
// transport or protocol error.
type Session struct {
	conn io.ReadWriteCloser
	cfg  Config

	wmu sync.Mutex // serialises transport writes; taken before mu

	mu      sync.Mutex
	cond    *sync.Cond
	names   map[string]*Stream
	local   map[uint64]*Stream
	remote  map[uint64]*remoteChan
	pending map[string]*pendingChan
	nextID  uint64
	closed  bool
	err     error

	// The graceful close (close.go): shut is set once Close began (a
	// writer that sees it sends nothing more); lingering while the read
	// loop drops what the peer still sends, from byte lingerFrom, until
	// the peer's end, CloseDrainBytes, or lingerTimer (CloseDrain).
	shut        atomic.Bool
	lingering   atomic.Bool
	lingerFrom  uint64
	lingerTimer *time.Timer

	done     chan struct{}
	bytesIn  atomic.Uint64
	bytesOut atomic.Uint64
}

type remoteChan struct {
	name string
	st   *Stream
	pend *pendingChan
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

// fail ends the session with err (the first error wins) and closes the
// transport at once: the way a session ends on a fault. Close is the
// graceful way (close.go).
func (s *Session) fail(err error) {
	s.mu.Lock()
	if !s.endLocked(err) {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()
	_ = s.conn.Close()
}

// endLocked marks the session ended with err, ends its streams and
// pending channels and wakes whatever waits on them. It reports false
// when the session had ended already.
func (s *Session) endLocked(err error) bool {
	if s.closed {
		return false
	}
	s.closed = true
	s.err = err
	for _, st := range s.names {
		st.stopTimerLocked()
	}
	for name, p := range s.pending {
		s.dropPendingLocked(name, p, true)
	}
	s.wakeLocked()
	return true
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
		s.dropPendingLocked(name, p, false)
		st.buf = p.data
		st.received.Store(uint64(len(p.data)))
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
	cr := countingReader{s.conn, &s.bytesIn}
	r := NewReader(cr, s.cfg.MaxFrameSize)
	for {
		f, err := r.ReadFrame()
		if err == nil && !s.lingering.Load() {
			s.handle(f)
			continue
		}
		if err != nil {
			s.fail(err) // nothing new when Close came first
		} else {
			s.discard(cr) // Close came: what the peer still sends is dropped
		}
		s.endAll()
		s.endLinger()
		return
	}
}

// wakeLocked wakes whatever waits on the session (blocked Reads and
// Writes, a full stream's sender) and calls the read notifications of the
// streams that now have something to read.
func (s *Session) wakeLocked() {
	s.cond.Broadcast()
	for _, st := range s.names {
		if st.notify != nil && st.readableLocked() {
			st.notify()
		}
	}
}

// endAll wakes every stream after the session has failed.
func (s *Session) endAll() {
	s.mu.Lock()
	s.wakeLocked()
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
			if len(p.data)+len(f.Payload) > s.cfg.PendingBuffer || !s.cfg.PendingBudget.take(len(f.Payload)) {
				s.cfg.Logger.Debug("mux: discarding unclaimed stream over its buffer", "name", rc.name)
				s.dropPendingLocked(rc.name, p, true)
				return
			}
			p.data = append(p.data, f.Payload...)
			return
		}
		st := rc.st
		if !s.waitRoomLocked(st, len(f.Payload)) {
			// Its reader stalled: waiting longer would stall every stream
			// of the session, the control stream first. This stream alone
			// ends, its buffer freed, and later frames on its channel are
			// dropped. The peer hears nothing of it (an ERROR frame would
			// end the whole connection of a JS peer); whoever reads the
			// stream gets ErrStreamStalled and closes it, which sends END.
			s.cfg.Logger.Debug("mux: stream stalled", "name", st.name, "buffered", len(st.buf))
			st.buf = nil
			st.rErr = fmt.Errorf("%w: %q, %d bytes unread for %v", ErrStreamStalled, st.name, s.cfg.StreamBuffer, s.cfg.StallTimeout)
			delete(s.remote, f.Channel)
			s.wakeLocked()
			return
		}
		if st.closed || s.closed || s.remote[f.Channel] != rc {
			return
		}
		st.buf = append(st.buf, f.Payload...)
		st.received.Add(uint64(len(f.Payload)))
		s.wakeLocked()
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
			s.wakeLocked()
		}
	}
}

// waitRoomLocked waits until st's buffer has room for n more bytes: the
// session reads no further meanwhile, which is the only back-pressure a
// multiplex peer gets. It reports false when the stream's reader has not
// read for StallTimeout while the buffer was full; true also when the
// stream or session closed meanwhile.
func (s *Session) waitRoomLocked(st *Stream, n int) bool {
	if len(st.buf) == 0 || len(st.buf)+n <= s.cfg.StreamBuffer {
		return true
	}
	deadline := time.Now().Add(s.cfg.StallTimeout)
	for len(st.buf) > 0 && len(st.buf)+n > s.cfg.StreamBuffer && !st.closed && !s.closed {
		if last := st.lastRead.Add(s.cfg.StallTimeout); last.After(deadline) {
			deadline = last // the reader made progress
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			return false
		}
		t := time.AfterFunc(wait, func() {
			s.mu.Lock()
			s.cond.Broadcast()
			s.mu.Unlock()
		})
		s.cond.Wait()
		t.Stop()
	}
	return true
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

var _ net.Conn = (*Stream)(nil)
