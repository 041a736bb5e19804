package swarm

import (
	"io"
	"net"
	"time"

	"golang.org/x/time/rate"
)

// readLoop reads the link until it ends, within the message rate. While
// the link is idle its goroutine waits in a one-byte read, which needs
// little stack; each message is then read and handled by a goroutine of
// its own (handle), whose stack, grown by decoding and by the swarm's
// work, goes with it. An idle link so holds a goroutine of the smallest
// stack, not one grown by the last message it handled.
func (c *conn) readLoop() error {
	s := c.s
	msgs := rate.NewLimiter(rate.Limit(s.cfg.MessageRate), s.cfg.MessageBurst)
	var one [1]byte
	for {
		if by := c.closeBy.Load(); by != 0 {
			return c.linger(time.Unix(0, by)) // evicted, its referral sent
		}
		deadline := time.Now().Add(IdleTimeout)
		due := c.net.handshakeDue()
		if !due.IsZero() && due.Before(deadline) {
			deadline = due
		}
		c.nc.SetReadDeadline(deadline)
		if c.closeBy.Load() != 0 {
			continue // evict's deadline came before ours: linger instead
		}
		if _, err := io.ReadFull(c.nc, one[:]); err != nil {
			switch {
			case c.closeBy.Load() != 0:
				continue
			case !due.IsZero():
				return stageErr(err, "extended handshake", 0, s.cfg.HandshakeTimeout)
			}
			return readErr(err)
		}
		c.in.b, c.in.has = one[0], true
		if err := c.handle(); err != nil {
			if c.closeBy.Load() != 0 {
				continue // evict cut the message short: the link ends anyway
			}
			return err
		}
		if !msgs.Allow() {
			return errMessageFlood
		}
	}
}

// linger reads and drops what the peer still sends, until it closes, until
// by, or for referralDrain bytes, and reports the link evicted.
func (c *conn) linger(by time.Time) error {
	c.nc.SetReadDeadline(by)
	io.Copy(io.Discard, io.LimitReader(&c.in, referralDrain))
	return errEvicted
}

// handle reads and handles the message whose first byte was read ahead,
// on a goroutine that ends with it.
func (c *conn) handle() error {
	done := make(chan error, 1)
	go func() {
		err := c.net.readOne()
		c.net.release() // an idle link holds no message buffer
		done <- err
	}()
	return <-done
}

// peekReader reads from nc, giving back first the byte readLoop read
// ahead. It is used by one goroutine at a time (readLoop's, then
// handle's).
type peekReader struct {
	nc  net.Conn
	b   byte
	has bool
}

func (p *peekReader) Read(b []byte) (int, error) {
	if p.has && len(b) > 0 {
		b[0], p.has = p.b, false
		return 1, nil
	}
	return p.nc.Read(b)
}
