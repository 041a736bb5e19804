package memnet

import (
	"errors"
	"net"
	"testing"
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
