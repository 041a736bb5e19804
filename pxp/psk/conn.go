package psk

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/flynn/noise"
)

// Conn is a link past its handshake: a net.Conn whose bytes travel in
// Noise transport messages, one a frame (see the package doc). Read and
// Write may be called at once from two goroutines; a frame that does not
// open ends the reading side for good (ErrBadFrame), and a failed write
// the writing side, since a frame cut short leaves the stream unusable.
// Deadlines are the underlying connection's; a Read that times out in the
// middle of a frame keeps what it read, and the next one goes on.
type Conn struct {
	conn net.Conn

	rmu   sync.Mutex
	recv  *noise.CipherState
	hdr   [2]byte
	hdrN  int     // bytes of hdr read
	frame []byte  // the frame being read, in small or big
	n     int     // bytes of frame read
	plain []byte  // decrypted bytes not read yet (within frame's array)
	small []byte  // the buffer of frames up to keepFrameBuf, kept
	big   *[]byte // the buffer of a larger frame, from frameBufs while in use
	rerr  error

	wmu  sync.Mutex
	send *noise.CipherState
	werr error
}

func newConn(conn net.Conn, send, recv *noise.CipherState) *Conn {
	return &Conn{conn: conn, send: send, recv: recv}
}

// NetConn returns the connection the link runs over.
func (c *Conn) NetConn() net.Conn { return c.conn }

// Read reads plaintext, reading and opening a frame when none is left.
func (c *Conn) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	c.rmu.Lock()
	defer c.rmu.Unlock()
	for len(c.plain) == 0 {
		if c.rerr != nil {
			return 0, c.rerr
		}
		if err := c.readFrame(); err != nil {
			return 0, err
		}
	}
	n := copy(b, c.plain)
	c.plain = c.plain[n:]
	if len(c.plain) == 0 && c.big != nil {
		// A large frame's buffer goes back to the pool: an idle link
		// holds keepFrameBuf bytes at most.
		frameBufs.Put(c.big)
		c.big, c.frame, c.plain = nil, nil, nil
	}
	return n, nil
}

// keepFrameBuf is the largest read buffer a link keeps between frames.
const keepFrameBuf = 4 << 10

// frameBufs hold frames larger than keepFrameBuf while they are read.
var frameBufs = sync.Pool{New: func() any { b := make([]byte, MaxFrame); return &b }}

// readFrame reads one frame, or what the connection gives of it before an
// error, which it returns; a frame that does not open is fatal.
func (c *Conn) readFrame() error {
	for c.hdrN < len(c.hdr) {
		m, err := c.conn.Read(c.hdr[c.hdrN:])
		c.hdrN += m
		if err != nil && c.hdrN < len(c.hdr) {
			return c.readErr(err)
		}
	}
	size := int(binary.BigEndian.Uint16(c.hdr[:]))
	if size < tagSize {
		c.rerr = fmt.Errorf("%w: a frame of %d bytes, shorter than its tag", ErrBadFrame, size)
		return c.rerr
	}
	if c.n == 0 { // a new frame: choose its buffer
		switch {
		case size > keepFrameBuf:
			if c.big == nil {
				c.big = frameBufs.Get().(*[]byte)
			}
			c.frame = (*c.big)[:size]
		default:
			if cap(c.small) < size {
				c.small = make([]byte, max(size, 512))
			}
			c.frame = c.small[:size]
		}
	}
	for c.n < size {
		m, err := c.conn.Read(c.frame[c.n:])
		c.n += m
		if err != nil && c.n < size {
			return c.readErr(err)
		}
	}
	c.hdrN, c.n = 0, 0
	plain, err := c.recv.Decrypt(c.frame[:0], nil, c.frame)
	if err != nil {
		c.rerr = fmt.Errorf("%w: %v", ErrBadFrame, err)
		return c.rerr
	}
	c.plain = plain
	return nil
}

// readErr keeps a fatal read error; a timeout is not fatal.
func (c *Conn) readErr(err error) error {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return err
	}
	c.rerr = err
	return err
}

// writeBufs are the buffers frames are sealed in.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// maxPooled is the largest buffer given back to writeBufs: one frame.
const maxPooled = 2 + MaxFrame

// Write seals b in frames of at most MaxPayload bytes and writes them,
// each in one write to the underlying connection.
func (c *Conn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.werr != nil {
		return 0, c.werr
	}
	wb := writeBufs.Get().(*[]byte)
	defer func() {
		if cap(*wb) <= maxPooled {
			writeBufs.Put(wb)
		}
	}()
	done := 0
	for done < len(b) {
		chunk := b[done:min(len(b), done+MaxPayload)]
		buf := append((*wb)[:0], 0, 0)
		buf, err := c.send.Encrypt(buf, nil, chunk)
		if err != nil {
			c.werr = err
			return done, err
		}
		*wb = buf
		binary.BigEndian.PutUint16(buf, uint16(len(buf)-2))
		if _, err := c.conn.Write(buf); err != nil {
			c.werr = err
			return done, err
		}
		done += len(chunk)
	}
	return done, nil
}

// Close closes the underlying connection.
func (c *Conn) Close() error { return c.conn.Close() }

// LocalAddr is the underlying connection's.
func (c *Conn) LocalAddr() net.Addr { return c.conn.LocalAddr() }

// RemoteAddr is the underlying connection's.
func (c *Conn) RemoteAddr() net.Addr { return c.conn.RemoteAddr() }

// SetDeadline sets the underlying connection's deadlines.
func (c *Conn) SetDeadline(t time.Time) error { return c.conn.SetDeadline(t) }

// SetReadDeadline sets the underlying connection's read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.conn.SetReadDeadline(t) }

// SetWriteDeadline sets the underlying connection's write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.conn.SetWriteDeadline(t) }
