package pxp

import (
	"errors"
	"net"
	"time"
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
	var wait time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if e.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				// Out of file descriptors and the like: wait, as net/http does.
				wait = min(max(2*wait, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(wait):
					continue
				case <-e.ctx.Done():
					return nil
				}
			}
			return err
		}
		wait = 0
		e.mu.Lock()
		if e.closed {
			e.mu.Unlock()
			c.Close()
			return nil
		}
		e.wg.Add(1)
		e.mu.Unlock()
		go func() {
			defer e.wg.Done()
			dc, err := e.Accept(e.ctx, c)
			if err != nil {
				return // reported as EventError by Accept
			}
			if handle == nil {
				dc.Close()
				return
			}
			handle(dc)
		}()
	}
}
