// Package acceptloop is the accept loop the engines' Serve methods share:
// accept until the listener fails or the engine closes, waiting on
// temporary errors (out of file descriptors, say) as net/http does rather
// than spinning or giving up.
package acceptloop

import (
	"context"
	"errors"
	"net"
	"time"
)

// Longest wait after a temporary accept error; the first is 5 ms, doubling.
const maxWait = time.Second

// Run accepts connections on ln and passes each to handle until ctx ends,
// which makes it return nil, or ln fails, which returns the error. handle
// returns false to stop the loop (the engine closed meanwhile; it closes
// the connection itself). Run does not close ln.
func Run(ctx context.Context, ln net.Listener, handle func(net.Conn) bool) error {
	var wait time.Duration
	for {
		c, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				wait = min(max(2*wait, 5*time.Millisecond), maxWait)
				t := time.NewTimer(wait)
				select {
				case <-t.C:
					continue
				case <-ctx.Done():
					t.Stop()
					return nil
				}
			}
			return err
		}
		wait = 0
		if !handle(c) {
			return nil
		}
	}
}
