package utp

import (
	"context"
	"io"
	"net"
	"testing"
	"time"
)

// A connection its peer closes reads io.EOF: the reader of a link learns
// that the other end went away, with nothing more to read.
func TestPeerCloseReadsEOF(t *testing.T) {
	if !Supported() {
		t.Skip("no uTP in this build")
	}
	a, b := listen(t, nil), listen(t, nil)
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := b.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := a.DialContext(ctx, b.AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	d := <-accepted
	if d == nil {
		t.Fatal("nothing accepted")
	}
	defer d.Close()
	buf := make([]byte, 1)
	if _, err := io.ReadFull(d, buf); err != nil {
		t.Fatal(err)
	}
	c.Close()
	d.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, err := d.Read(buf)
	if err != io.EOF {
		t.Fatalf("after the peer's Close: Read = %d, %v; want io.EOF", n, err)
	}
}
