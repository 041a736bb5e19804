package pxp

import (
	"net"

	"github.com/seed0021ed4d/pex/internal/acceptloop"
)

// Serve accepts connections on ln and runs PXP as the incoming side over
// each (as Accept does, within HandshakeTimeout), then calls handle with
// the data stream, in a goroutine of the connection's own; a nil handle
// closes the stream. Failed handshakes are reported as EventError. Close
// waits for these goroutines after it has closed every link, so handle
// must return once its stream fails. Serve returns nil once the Exchange
// is closed, which also closes ln, and the listener's error otherwise.
func (e *Exchange) Serve(ln net.Listener, handle func(*Conn)) error {
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
			if handle == nil {
				dc.Close()
				return
			}
			handle(dc)
		}()
		return true
	})
}
