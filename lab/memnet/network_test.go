package memnet

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestListenDialAccept(t *testing.T) {
	nw := NewNetwork()
	ln, err := nw.Listen("10.0.0.1:6881")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if _, err := nw.Listen("10.0.0.1:6881"); err == nil {
		t.Fatal("two listeners on one address")
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := nw.DialFrom("10.0.0.2:40000", "10.0.0.1:6881")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s := <-accepted
	defer s.Close()
	if s.RemoteAddr().String() != "10.0.0.2:40000" || c.RemoteAddr().String() != "10.0.0.1:6881" {
		t.Fatalf("remote addresses %v, %v", s.RemoteAddr(), c.RemoteAddr())
	}
	d, err := nw.Dial("10.0.0.1:6881")
	if err != nil {
		t.Fatal(err)
	}
	d.Close()
	if d.LocalAddr().String() == "" {
		t.Fatal("Dial gave no local address")
	}
	fresh, _ := nw.Listen("")
	if fresh.Addr().String() == "" {
		t.Fatal("Listen picked no address")
	}
	fresh.Close()
}

func TestRefusedAndClosed(t *testing.T) {
	nw := NewNetwork()
	if _, err := nw.Dial("nowhere"); !errors.Is(err, ErrRefused) {
		t.Fatalf("dial to nobody: %v", err)
	}
	ln, _ := nw.Listen("x")
	ln.Close()
	ln.Close() // twice is fine
	if _, err := ln.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("accept after close: %v", err)
	}
	if _, err := nw.Dial("x"); !errors.Is(err, ErrRefused) {
		t.Fatalf("dial after close: %v", err)
	}
	// The address is free again.
	ln2, err := nw.Listen("x")
	if err != nil {
		t.Fatal(err)
	}
	ln2.Close()
}

// A listener that closes closes the connections queued on it, as a TCP
// listener's queue is reset: a dialer whose connection was never accepted
// reads EOF at once, not after its own timeout. Before this, a simulated
// node that crashed left its peers' dials hanging until their handshake
// timeout (10 s), which was what a mass failure's healing measured.
func TestCloseEndsQueuedDials(t *testing.T) { synctest.Test(t, testCloseEndsQueuedDials) }

func testCloseEndsQueuedDials(t *testing.T) {
	nw := NewNetwork()
	ln, _ := nw.Listen("x")
	var queued []*Conn
	for range 3 {
		c, err := nw.Dial("x")
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, c)
	}
	ln.Close()
	for i, c := range queued {
		c.SetReadDeadline(time.Now().Add(time.Minute)) // virtual time: only a bound
		if n, err := c.Read(make([]byte, 1)); n != 0 || err != io.EOF {
			t.Fatalf("queued dial %d read %d, %v; want EOF", i, n, err)
		}
		c.Close()
	}
}

// Dials racing a listener's Close either are refused or read EOF: none is
// left queued on the closed listener.
func TestCloseRacingDials(t *testing.T) { synctest.Test(t, testCloseRacingDials) }

func testCloseRacingDials(t *testing.T) {
	for range 200 {
		nw := NewNetwork()
		ln, _ := nw.Listen("x")
		conns := make(chan *Conn, 8)
		var wg sync.WaitGroup
		for range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if c, err := nw.Dial("x"); err == nil {
					conns <- c
				}
			}()
		}
		ln.Close()
		wg.Wait()
		close(conns)
		for c := range conns {
			c.SetReadDeadline(time.Now().Add(time.Minute))
			if _, err := c.Read(make([]byte, 1)); err != io.EOF {
				t.Fatalf("a dial racing Close read %v; want EOF", err)
			}
			c.Close()
		}
	}
}
