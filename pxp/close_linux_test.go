package pxp

import (
	"context"
	"net"
	"sync"
	"testing"

	"github.com/seed0021ed4d/pex/lab/loopback"
)

// The flake of pex node's SIGTERM test, made certain: a node closes its
// links with the peer's bytes still unread in its socket. Over real TCP
// on loopback, since the reset is the kernel's. Before the graceful close
// the peer's link ended with "connection reset by peer" (an EventError,
// and a disconnect with that reason); now it sees a clean end.
func TestCloseWithUnreadBytesIsClean(t *testing.T) {
	a, b := newExchange(t, nil), newExchange(t, nil)
	ca, cb := loopback.TCPPair(t)
	gb := &heldConn{TCPConn: cb, parked: make(chan struct{}, 1), open: make(chan struct{})}
	errc := make(chan error, 1)
	go func() {
		_, err := b.Accept(context.Background(), gb)
		errc <- err
	}()
	ac, err := a.Connect(context.Background(), ca)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	waitEvent(t, a, EventConnect, nil)

	// b stops reading: once its reader waits at the gate, a's next bytes
	// stay in b's socket.
	gb.hold()
	if _, err := ac.Write([]byte("wakes b's reader\n")); err != nil {
		t.Fatal(err)
	}
	<-gb.parked
	if _, err := ac.Write(make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	loopback.WaitUnread(t, cb)
	b.Close()

	for ev := range a.Events() {
		switch ev.Type {
		case EventError:
			t.Fatalf("the peer's close was an error here: %v", ev.Err)
		case EventDisconnect:
			if ev.Err != nil {
				t.Fatalf("disconnect reason %v, want none (a clean close)", ev.Err)
			}
			return
		}
	}
}

// heldConn stops reading after hold, until it is closed or half closed:
// its owner has not read the bytes that came when it decides to close.
type heldConn struct {
	*net.TCPConn
	mu     sync.Mutex
	held   bool
	parked chan struct{} // a Read waits at the gate
	once   sync.Once
	open   chan struct{}
}

func (g *heldConn) hold() {
	g.mu.Lock()
	g.held = true
	g.mu.Unlock()
}

func (g *heldConn) Read(p []byte) (int, error) {
	g.mu.Lock()
	held := g.held
	g.mu.Unlock()
	if held {
		select {
		case g.parked <- struct{}{}:
		default:
		}
		<-g.open
	}
	return g.TCPConn.Read(p)
}

func (g *heldConn) release() { g.once.Do(func() { close(g.open) }) }

func (g *heldConn) CloseWrite() error {
	g.release()
	return g.TCPConn.CloseWrite()
}

func (g *heldConn) Close() error {
	err := g.TCPConn.Close()
	g.release()
	return err
}
