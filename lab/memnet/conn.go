package memnet

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// DefaultBuffer is how many bytes one direction of a Pipe holds before
// Write blocks (back-pressure, like a socket buffer).
const DefaultBuffer = 256 << 10

// Addr is a memnet address.
type Addr string

// Network returns "memnet".
func (Addr) Network() string { return "memnet" }

func (a Addr) String() string { return string(a) }

// half is one direction of a pipe.
type half struct {
	mu     sync.Mutex
	cond   *sync.Cond
	buf    []byte
	max    int
	closed bool // writer closed: reader sees EOF after the buffer
	broken bool // reader closed: writer gets an error
}

func newHalf(max int) *half {
	h := &half{max: max}
	h.cond = sync.NewCond(&h.mu)
	return h
}

// Conn is one end of a Pipe.
type Conn struct {
	r, w          *half
	local, remote Addr

	dmu       sync.Mutex
	rdl, wdl  time.Time
	rdt, wdt  *time.Timer
	closeOnce sync.Once
}

var _ net.Conn = (*Conn)(nil)

// Pipe returns two connected ends, each direction buffering up to
// DefaultBuffer bytes.
func Pipe(a, b Addr) (*Conn, *Conn) {
	ab, ba := newHalf(DefaultBuffer), newHalf(DefaultBuffer)
	return &Conn{r: ba, w: ab, local: a, remote: b}, &Conn{r: ab, w: ba, local: b, remote: a}
}

// Read reads what the other end wrote.
func (c *Conn) Read(p []byte) (int, error) {
	h := c.r
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		if len(h.buf) > 0 {
			n := copy(p, h.buf)
			h.buf = h.buf[n:]
			if len(h.buf) == 0 {
				h.buf = nil
			}
			h.cond.Broadcast()
			return n, nil
		}
		if h.broken {
			return 0, net.ErrClosed
		}
		if h.closed {
			return 0, io.EOF
		}
		if dl := c.deadline(true); !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		if len(p) == 0 {
			return 0, nil
		}
		h.cond.Wait()
	}
}

// Write writes p, blocking while the other end's buffer is full.
func (c *Conn) Write(p []byte) (int, error) {
	h := c.w
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for n < len(p) {
		if h.closed {
			return n, net.ErrClosed
		}
		if h.broken {
			return n, fmt.Errorf("memnet: write: %w", errors.New("connection reset by peer"))
		}
		if dl := c.deadline(false); !dl.IsZero() && !time.Now().Before(dl) {
			return n, os.ErrDeadlineExceeded
		}
		room := h.max - len(h.buf)
		if room <= 0 {
			h.cond.Wait()
			continue
		}
		k := min(room, len(p)-n)
		h.buf = append(h.buf, p[n:n+k]...)
		n += k
		h.cond.Broadcast()
	}
	return n, nil
}

// Close closes both directions: the other end reads EOF after what was
// written, and its writes fail.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.w.mu.Lock()
		c.w.closed = true
		c.w.cond.Broadcast()
		c.w.mu.Unlock()
		c.r.mu.Lock()
		c.r.broken = true
		c.r.buf = nil
		c.r.cond.Broadcast()
		c.r.mu.Unlock()
		c.dmu.Lock()
		if c.rdt != nil {
			c.rdt.Stop()
		}
		if c.wdt != nil {
			c.wdt.Stop()
		}
		c.dmu.Unlock()
	})
	return nil
}

// CloseWrite makes the other end read EOF; this end can still read.
func (c *Conn) CloseWrite() error {
	c.w.mu.Lock()
	c.w.closed = true
	c.w.cond.Broadcast()
	c.w.mu.Unlock()
	return nil
}

func (c *Conn) deadline(read bool) time.Time {
	c.dmu.Lock()
	defer c.dmu.Unlock()
	if read {
		return c.rdl
	}
	return c.wdl
}

// LocalAddr returns this end's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr returns the other end's address.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline sets both deadlines.
func (c *Conn) SetDeadline(t time.Time) error {
	c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline sets the read deadline.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.setDeadline(t, &c.rdl, &c.rdt, c.r)
	return nil
}

// SetWriteDeadline sets the write deadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.setDeadline(t, &c.wdl, &c.wdt, c.w)
	return nil
}

func (c *Conn) setDeadline(t time.Time, dl *time.Time, timer **time.Timer, h *half) {
	c.dmu.Lock()
	*dl = t
	if *timer != nil {
		(*timer).Stop()
		*timer = nil
	}
	// A deadline already past needs no timer: the broadcast below wakes
	// the waiters, and they see it (mux's graceful close moves a write
	// deadline to now on every link it closes).
	if !t.IsZero() && time.Now().Before(t) {
		*timer = time.AfterFunc(time.Until(t), func() {
			h.mu.Lock()
			h.cond.Broadcast()
			h.mu.Unlock()
		})
	}
	c.dmu.Unlock()
	h.mu.Lock()
	h.cond.Broadcast()
	h.mu.Unlock()
}
