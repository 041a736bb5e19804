package pxp

import (
	"net"

	"github.com/seed0021ed4d/pex/internal/acceptloop"
)

// Serve accepts connections on ln and runs Accept on each (within
// HandshakeTimeout), in a goroutine of the connection's own, and sends the
// data stream to Incoming: it is a thin wrapper, an accept loop that feeds
// Incoming, where the program takes the streams. Failed handshakes are
// reported as EventError, Serve having no caller to return them to. Serve
// returns nil once the Exchange is closed, which also closes ln, and the
// listener's error otherwise.
func (e *Exchange) Serve(ln net.Listener) error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		ln.Close()
		return nil
	}
	e.listeners[ln] = struct{}{}
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.listeners, ln)
		e.mu.Unlock()
	}()
	return acceptloop.Run(e.ctx, ln, func(c net.Conn) bool {
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			c.Close()
			return false
		}
		e.wg.Add(1)
		e.mu.Unlock()
		go func() {
			defer e.wg.Done()
			dc, err := e.accept(e.ctx, c, true)
			if err != nil {
				return // reported as EventError
			}
			// Incoming is closed only after Close has waited for this
			// goroutine, and Close cancels e.ctx first.
			select {
			case e.incoming <- dc:
			case <-dc.peer.done: // the link ended before anyone took its stream
			case <-e.ctx.Done(): // Close closes the link
			}
		}()
		return true
	})
}
