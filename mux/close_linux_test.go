package mux

import (
	"io"
	"net"
	"sync"
	"testing"

	"github.com/seed0021ed4d/pex/lab/loopback"
)

// The condition a close turns into a reset in: the peer's bytes lie unread
// in this side's socket when it closes. Over real TCP on loopback, since
// the reset is the kernel's. Before the graceful close, the peer's
// session ended with "connection reset by peer".
func TestCloseWithUnreadBytesIsNoReset(t *testing.T) {
	a, b := loopback.TCPPair(t)
	gb := &gatedConn{TCPConn: b, open: make(chan struct{})}
	sa, sb := NewSession(a, nil), NewSession(gb, nil)
	defer sa.Close()
	// sb reads nothing more: the peer's frames stay in its socket.
	st := mustStream(t, sa, "data")
	if _, err := st.Write(make([]byte, 32<<10)); err != nil {
		t.Fatal(err)
	}
	loopback.WaitUnread(t, b)
	sb.Close()
	<-sa.Done()
	if err := sa.Err(); err != io.EOF {
		t.Fatalf("the peer's session ended with %v, want io.EOF (a clean close, not a reset)", err)
	}
}

// gatedConn reads nothing until it is closed or half closed: its owner
// has not read the bytes that came when it decides to close.
type gatedConn struct {
	*net.TCPConn
	once sync.Once
	open chan struct{}
}

func (g *gatedConn) Read(p []byte) (int, error) {
	<-g.open
	return g.TCPConn.Read(p)
}

func (g *gatedConn) CloseWrite() error {
	g.once.Do(func() { close(g.open) })
	return g.TCPConn.CloseWrite()
}

func (g *gatedConn) Close() error {
	err := g.TCPConn.Close()
	g.once.Do(func() { close(g.open) })
	return err
}
