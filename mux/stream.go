package mux

import (
	"errors"
	"io"
	"net"
	"os"
	"sync/atomic"
	"time"
)

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
	lastRead      time.Time // the reader last took bytes
	rEOF          bool
	rErr          error
	closed        bool
	readDL        time.Time
	rdTimer       *time.Timer
	writeDeadline time.Time
	notify        func() // SetReadNotify's

	received atomic.Uint64 // payload bytes taken from the peer's channel
}

// Name returns the stream's name.
func (st *Stream) Name() string { return st.name }

// BytesReceived returns how many bytes of payload the peer sent on its
// channel of this name that the stream took, read or still buffered: what
// the peer wrote to the stream, and none of the frames that carry no
// payload (its channel's NEW and END).
func (st *Stream) BytesReceived() uint64 { return st.received.Load() }

// Session returns the session carrying the stream.
func (st *Stream) Session() *Session { return st.s }

// Read reads data the peer sent on its channel of this name.
func (st *Stream) Read(p []byte) (int, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(st.buf) == 0 && !st.endedLocked() && len(p) > 0 {
		s.cond.Wait()
	}
	return st.readLocked(p)
}

// readLocked takes buffered bytes, or says why there are none.
func (st *Stream) readLocked(p []byte) (int, error) {
	s := st.s
	if len(st.buf) > 0 {
		n := copy(p, st.buf)
		st.lastRead = time.Now()
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
	return 0, nil
}

// ReadAvailable is Read without the wait: it returns what is buffered, or
// 0 and nil when nothing is and the stream has not ended. With
// SetReadNotify it lets a reader take a stream's bytes without a
// goroutine parked on it while the stream is idle.
func (st *Stream) ReadAvailable(p []byte) (int, error) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(st.buf) == 0 && !st.endedLocked() {
		return 0, nil
	}
	return st.readLocked(p)
}

// SetReadNotify has f called whenever bytes arrive for the stream, and
// when it ends (EOF, an error, the session's end, Close), and at once if it has
// something to read already; nil stops it. f runs with the session's lock
// held, from the goroutine reading the transport: it must not block nor
// call into the session, only note that there is reading to do (and, say,
// start a goroutine that calls ReadAvailable until it returns 0).
func (st *Stream) SetReadNotify(f func()) {
	s := st.s
	s.mu.Lock()
	defer s.mu.Unlock()
	st.notify = f
	if f != nil && st.readableLocked() {
		f()
	}
}

// readableLocked reports whether a Read would return without waiting.
func (st *Stream) readableLocked() bool {
	return len(st.buf) > 0 || st.endedLocked()
}

// endedLocked reports whether reading the stream is over once its buffer
// is drained.
func (st *Stream) endedLocked() bool {
	return st.closed || st.rErr != nil || st.rEOF || st.s.closed ||
		(!st.readDL.IsZero() && !time.Now().Before(st.readDL))
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
	if st.notify != nil {
		st.notify() // its reader learns that reading is over
	}
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
