// Package grow reads a payload whose length a peer announced into a buffer
// that grows with the bytes that actually arrive, never with the announced
// length: a peer that announces a megabyte and sends nothing costs nothing.
// The frame readers of bt/wire and bt/azmp and the buffered reader of
// internal/rbuf (under package mux) share it. Buffers of First
// bytes come from a pool and go back to it with Release, so that a reader
// waiting for its next message holds none. It depends on the standard
// library only.
package grow

import (
	"io"
	"sync"
)

// First is the first allocation for a payload; each further one doubles,
// so a buffer is at most twice the bytes received.
const First = 4 << 10

// pool holds buffers of First bytes between payloads.
var pool = sync.Pool{New: func() any { return new([First]byte) }}

// Read reads exactly n bytes from r into buf, reusing its capacity, and
// returns the filled slice. On error it returns what arrived so far.
func Read(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
	if cap(buf) == 0 && n > 0 {
		buf = pool.Get().(*[First]byte)[:0]
	}
	for len(buf) < n {
		if len(buf) == cap(buf) {
			c := min(n, max(2*cap(buf), First))
			nb := make([]byte, len(buf), c)
			copy(nb, buf)
			buf = nb
		}
		k, err := io.ReadFull(r, buf[len(buf):min(n, cap(buf))])
		buf = buf[:len(buf)+k]
		if err != nil {
			if err == io.EOF && len(buf) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return buf, err
		}
	}
	return buf, nil
}

// Release gives buf back, to the pool when it is one of First bytes, and
// returns nil: call it before waiting for the next message, so that an
// idle reader holds no buffer.
func Release(buf []byte) []byte {
	if cap(buf) == First {
		pool.Put((*[First]byte)(buf[:First]))
	}
	return nil
}
