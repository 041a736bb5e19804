// Package loopback gives tests a real TCP connection on the loopback
// interface, both ends in hand: where an in-process pipe (lab/memnet)
// cannot show what the kernel does (a reset for bytes left unread, half
// closes, socket buffers), or where a benchmark wants the real syscalls.
package loopback

import (
	"net"
	"testing"
)

// TCPPair returns the two ends of a loopback TCP connection, the dialer's
// first; both are closed when tb ends.
func TCPPair(tb testing.TB) (*net.TCPConn, *net.TCPConn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		a.Close()
		tb.Fatal("loopback: accept failed")
	}
	tb.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}
