// Package rbuf reads a connection through a buffer that costs nothing
// while the connection is idle. A goroutine blocked reading holds the
// buffer it reads into; with one bufio.Reader a connection, ten thousand
// idle links hold forty megabytes of buffers nobody is using. A Reader
// waits for the next bytes in a small array of its own, and takes a
// pooled chunk only while bytes are flowing: when a small read comes back
// full, the next reads go into a chunk, given back to the pool as soon as
// its bytes are consumed.
package rbuf

import (
	"io"
	"sync"

	"github.com/seed0021ed4d/pex/internal/grow"
)

// Sizes of the buffers.
const (
	// Small is the array a Reader waits in: enough for the small control
	// messages an idle link sees now and then.
	Small = 128
	// Chunk is the pooled buffer used while bytes flow.
	Chunk = 4 << 10
)

var chunks = sync.Pool{New: func() any { b := make([]byte, Chunk); return &b }}

// Reader is a buffered reader whose buffer is pooled while idle. It is
// not safe for concurrent use.
type Reader struct {
	r     io.Reader
	cur   []byte  // unread bytes, in small or in chunk
	chunk *[]byte // held while cur is in it
	held  *[]byte // holds the last Next result, until the next call
	flow  bool    // the last read filled its buffer: more is probably waiting
	small [Small]byte
}

// New returns a Reader of r.
func New(r io.Reader) *Reader { return &Reader{r: r} }

// Buffered returns the number of bytes that can be read without a read
// from the underlying reader.
func (b *Reader) Buffered() int { return len(b.cur) }

// fill reads more bytes when none are buffered: into the small array
// when the connection was quiet, into a pooled chunk while bytes flow.
func (b *Reader) fill() error {
	b.release()
	buf := b.small[:]
	if b.flow {
		b.chunk = chunks.Get().(*[]byte)
		buf = *b.chunk
	}
	n, err := b.r.Read(buf)
	b.flow = n == len(buf)
	b.cur = buf[:n]
	if n == 0 {
		b.release()
		if err == nil {
			err = io.ErrNoProgress
		}
		return err
	}
	return nil // an error with bytes comes back on the next read
}

// release gives the chunk back when nothing in it is unread.
func (b *Reader) release() {
	if b.chunk != nil && len(b.cur) == 0 {
		chunks.Put(b.chunk)
		b.chunk = nil
	}
}

// ReadByte reads one byte.
func (b *Reader) ReadByte() (byte, error) {
	b.drop()
	if len(b.cur) == 0 {
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	c := b.cur[0]
	b.cur = b.cur[1:]
	b.release()
	return c, nil
}

// Read reads into p: buffered bytes first, then, for a p larger than the
// small array, straight from the underlying reader.
func (b *Reader) Read(p []byte) (int, error) {
	b.drop()
	return b.read(p)
}

// filling reads into a Next result: through the buffer, keeping held.
type filling struct{ b *Reader }

func (f filling) Read(p []byte) (int, error) { return f.b.read(p) }

func (b *Reader) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if len(b.cur) == 0 {
		if len(p) >= Small {
			b.release()
			n, err := b.r.Read(p)
			b.flow = n == len(p)
			return n, err
		}
		if err := b.fill(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.cur)
	b.cur = b.cur[n:]
	b.release()
	return n, nil
}

// Next returns the next n bytes, valid until the next call on b: a slice
// of the buffer when they are all there, else read into a pooled chunk
// (n up to Chunk) or into a buffer that grows as the bytes arrive (so
// that a peer announcing a megabyte and sending ten bytes costs ten).
// On error it returns the bytes read so far.
func (b *Reader) Next(n int) ([]byte, error) {
	b.drop()
	if len(b.cur) >= n {
		out := b.cur[:n:n]
		b.cur = b.cur[n:]
		if b.chunk != nil && len(b.cur) == 0 {
			b.held, b.chunk = b.chunk, nil // out lives in it until the next call
		}
		return out, nil
	}
	var out []byte
	if n <= Chunk {
		b.held = chunks.Get().(*[]byte)
		out = (*b.held)[:0]
	}
	return grow.Read(filling{b}, out, n)
}

// drop gives back the buffer of the last Next result.
func (b *Reader) drop() {
	if b.held != nil {
		chunks.Put(b.held)
		b.held = nil
	}
}
