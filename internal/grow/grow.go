// Package grow reads a payload whose length a peer announced into a buffer
// that grows with the bytes that actually arrive, never with the announced
// length: a peer that announces a megabyte and sends nothing costs nothing.
// The frame readers of mux, bt/wire and bt/azmp share it. It depends on the
// standard library only.
package grow

import "io"

// Sizes.
const (
	// First is the first allocation for a payload; each further one
	// doubles, so a buffer is at most twice the bytes received.
	First = 4 << 10
	// Keep is the largest buffer Release keeps for the next payload: a
	// link that once carried a large message does not hold it while idle.
	Keep = 16 << 10
)

// Read reads exactly n bytes from r into buf, reusing its capacity, and
// returns the filled slice. On error it returns what arrived so far.
func Read(r io.Reader, buf []byte, n int) ([]byte, error) {
	buf = buf[:0]
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

// Release returns buf emptied for the next Read, or nil when it grew past
// Keep.
func Release(buf []byte) []byte {
	if cap(buf) > Keep {
		return nil
	}
	return buf[:0]
}
