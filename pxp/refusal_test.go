package pxp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"testing/synctest"
)

// holdAfterConnect is a link's transport that holds the writer of the
// connect request once it has gone out, until release: by then the
// peer's answer may have arrived and the link ended.
type holdAfterConnect struct {
	net.Conn
	release chan struct{}
	once    sync.Once
}

func (c *holdAfterConnect) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err == nil && bytes.Contains(b, []byte(`["connect",`)) {
		c.once.Do(func() { <-c.release })
	}
	return n, err
}

// A full node answers the connect "peer is full" and closes the link at
// once. The requester that wakes only once both the answer and the end
// are in (over WebSocket, where the close is not graceful, it often
// does) gets the answer, ErrPeerFull, not the closed link.
func TestSynctestRefusalThenClose(t *testing.T) {
	for range 20 { // a wrong pick between answer and end is a coin's toss
		synctest.Test(t, func(t *testing.T) {
			hub := newExchange(t, &Config{MaxPeers: 1})
			link(t, newExchange(t, nil), hub)
			ca, cb := pipe()
			go hub.Accept(context.Background(), cb)
			held := &holdAfterConnect{Conn: ca, release: make(chan struct{})}
			errc := make(chan error, 1)
			go func() {
				_, err := newExchange(t, nil).Connect(context.Background(), held)
				errc <- err
			}()
			synctest.Wait() // refused, the link ended, the requester held
			close(held.release)
			if err := <-errc; !errors.Is(err, ErrPeerFull) {
				t.Fatalf("Connect to a full node: %v, want %v", err, ErrPeerFull)
			}
		})
	}
}
