package mux

import (
	"io"
	"net"
	"time"
)

// The graceful close. A socket closed while bytes the peer sent lie
// unread in its receive buffer is reset rather than closed (RFC 1122
// 4.2.2.13; Linux sends RST, and the peer's unread bytes on its own side
// may be lost): the peer then sees "connection reset by peer", not the
// clean end it was given. So Close does not close the transport at once
// when the transport can half close (a *net.TCPConn, a Stream, anything
// with CloseWrite): it stops sending, half closes, and goes on reading
// and dropping what the peer still sends until the peer's own end (EOF),
// for at most Config.CloseDrain and Config.CloseDrainBytes, and only then
// closes. A peer that never stops sending nor closes costs that bound and
// no more. A transport that cannot half close is closed at once, as a
// session ended by a fault always is.

// Close ends the session and every stream, then closes the transport
// gracefully (see StartClose) and waits until it is closed and the
// reading goroutine has stopped: at most Config.CloseDrain, plus the
// time a write already under way on a transport without write deadlines
// takes to end.
func (s *Session) Close() error {
	s.StartClose()
	<-s.done
	return nil
}

// StartClose is Close without the wait: streams end and writes fail at
// once, the transport is half closed, and the session's goroutine reads
// and drops what the peer still sends until the peer's end, CloseDrain
// or CloseDrainBytes, then closes the transport and closes Done. It
// returns once the half close is sent, which waits for a write already
// under way (a net.Conn's is cut short by moving its deadline).
func (s *Session) StartClose() {
	cw, halfCloses := s.conn.(interface{ CloseWrite() error })
	nc, _ := s.conn.(net.Conn)
	s.mu.Lock()
	if !s.endLocked(ErrSessionClosed) {
		s.mu.Unlock()
		return
	}
	if !halfCloses {
		s.mu.Unlock()
		_ = s.conn.Close()
		return
	}
	s.lingerFrom = s.bytesIn.Load()
	s.lingering.Store(true)
	s.lingerTimer = time.AfterFunc(s.cfg.CloseDrain, func() { _ = s.conn.Close() })
	s.mu.Unlock()

	// Stop sending: a writer that has not seen shut yet has set its
	// deadline already (send), and this moves it to now.
	s.shut.Store(true)
	if nc != nil {
		_ = nc.SetWriteDeadline(time.Now())
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if nc != nil {
		_ = nc.SetWriteDeadline(time.Time{}) // a Stream's END is written under it
	}
	if err := cw.CloseWrite(); err != nil {
		s.cfg.Logger.Debug("mux: no half close; closing at once", "err", err)
		_ = s.conn.Close()
	}
}

// discard reads and drops the peer's bytes after Close began, until an
// error (the peer's end, or the transport closed by the CloseDrain timer)
// or CloseDrainBytes past where Close found the session.
func (s *Session) discard(r io.Reader) {
	buf := make([]byte, discardChunk)
	for s.bytesIn.Load()-s.lingerFrom < uint64(s.cfg.CloseDrainBytes) {
		if _, err := r.Read(buf); err != nil {
			return
		}
	}
	s.cfg.Logger.Debug("mux: the peer sent more than CloseDrainBytes after Close; closing", "limit", s.cfg.CloseDrainBytes)
}

// discardChunk is the buffer discard reads into.
const discardChunk = 16 << 10

// endLinger closes the transport when Close left it open for the drain,
// and stops the drain's timer. The reading goroutine calls it last.
func (s *Session) endLinger() {
	if !s.lingering.Load() {
		return
	}
	s.mu.Lock()
	t := s.lingerTimer
	s.mu.Unlock()
	t.Stop()
	_ = s.conn.Close()
}
