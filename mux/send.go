package mux

import (
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// The write path: every frame goes out through send, one Write a frame.

// send writes one frame for st; the caller holds the write lock. NEW goes
// first when st's channel is not open yet.
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
	if nc, ok := s.conn.(net.Conn); ok {
		d := time.Now().Add(s.cfg.WriteTimeout)
		if !deadline.IsZero() && deadline.Before(d) {
			d = deadline
		}
		_ = nc.SetWriteDeadline(d)
		// Close moves the deadline to now after setting shut: seen
		// false here, this write cannot outlast that move.
		if s.shut.Load() {
			return ErrSessionClosed
		}
	}

	// The frame is built in a pooled buffer, given back after the write:
	// an idle session holds none.
	wb := writeBufs.Get().(*[]byte)
	buf := (*wb)[:0]
	if needNew {
		buf = AppendFrame(buf, id, TypeNew, []byte(st.name))
	}
	buf = AppendFrame(buf, id, typ, payload)
	n, err := s.conn.Write(buf)
	s.bytesOut.Add(uint64(n))
	if cap(buf) <= maxPooledWrite {
		*wb = buf
		writeBufs.Put(wb)
	}
	if err != nil {
		// A partial frame leaves the transport unusable.
		err = fmt.Errorf("mux: write: %w", err)
		s.fail(err)
		return err
	}
	return nil
}

// writeBufs are the buffers frames are built in; one larger than
// maxPooledWrite (a frame of a large write) goes to the garbage collector.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

const maxPooledWrite = 64<<10 + 2*FrameOverhead
