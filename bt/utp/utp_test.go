package utp

import (
	"context"
	"io"
	"net/netip"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func listen(t *testing.T, cfg *Config) *Socket {
	t.Helper()
	s, err := Listen("udp4", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// A connection dialed from one socket is accepted by the other, carries
// bytes both ways, and leaves from the dialing socket's port (what a BEP
// 55 relay must see).
func TestDialAcceptEcho(t *testing.T) {
	if !Supported() {
		t.Skip("no uTP in this build")
	}
	a, b := listen(t, nil), listen(t, nil)
	got := make(chan error, 1)
	go func() {
		c, err := b.Accept()
		if err != nil {
			got <- err
			return
		}
		defer c.Close()
		if from := addrPort(c.RemoteAddr()); from != a.AddrPort() {
			t.Errorf("accepted from %v, want the dialer's listen address %v", from, a.AddrPort())
		}
		buf := make([]byte, 5)
		if _, err := io.ReadFull(c, buf); err != nil {
			got <- err
			return
		}
		_, err = c.Write(append(buf, '!'))
		got <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := a.DialContext(ctx, b.AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 6)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	if string(buf) != "hello!" {
		t.Fatalf("echo %q", buf)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

// Refuse drops an attempt unanswered: the dial gets no answer and fails
// when its context ends, and nothing is accepted.
func TestRefuse(t *testing.T) {
	if !Supported() {
		t.Skip("no uTP in this build")
	}
	asked := make(chan netip.AddrPort, 16)
	b := listen(t, &Config{Refuse: func(from netip.AddrPort) bool {
		select {
		case asked <- from:
		default:
		}
		return true
	}})
	a := listen(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	defer cancel()
	if c, err := a.DialContext(ctx, b.AddrPort()); err == nil {
		c.Close()
		t.Fatal("a refused dial connected")
	}
	select {
	case from := <-asked:
		if from != a.AddrPort() {
			t.Errorf("Refuse asked about %v, want %v", from, a.AddrPort())
		}
	default:
		t.Fatal("Refuse was never asked")
	}
}

// Punch sends a datagram the far socket drops (it is not uTP), and the
// socket goes on working; after Close every method says so.
func TestPunchAndClose(t *testing.T) {
	if !Supported() {
		t.Skip("no uTP in this build")
	}
	a, b := listen(t, nil), listen(t, nil)
	for range 3 {
		if err := a.Punch(b.AddrPort()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		if c, err := b.Accept(); err == nil {
			c.Close()
		}
	}()
	c, err := a.DialContext(ctx, b.AddrPort())
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	a.Close()
	if err := a.Punch(b.AddrPort()); err != ErrClosed {
		t.Errorf("Punch after Close: %v", err)
	}
	if _, err := a.DialContext(ctx, b.AddrPort()); err != ErrClosed {
		t.Errorf("DialContext after Close: %v", err)
	}
	if _, err := a.Accept(); err == nil {
		t.Error("Accept after Close succeeded")
	}
}

// SetRefuse's hook drops attempts as Config.Refuse's does, beside it; nil
// removes it, and the next attempt connects.
func TestSetRefuse(t *testing.T) {
	if !Supported() {
		t.Skip("no uTP in this build")
	}
	b := listen(t, nil)
	a := listen(t, nil)
	var asked atomic.Int32
	b.SetRefuse(func(from netip.AddrPort) bool {
		asked.Add(1)
		return from == a.AddrPort()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	c, err := a.DialContext(ctx, b.AddrPort())
	cancel()
	if err == nil {
		c.Close()
		t.Fatal("a dial the hook refused connected")
	}
	b.SetRefuse(nil)
	if asked.Load() == 0 {
		t.Fatal("the hook was never asked")
	}
	go func() {
		if c, err := b.Accept(); err == nil {
			c.Close()
		}
	}()
	ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err = a.DialContext(ctx, b.AddrPort())
	if err != nil {
		t.Fatalf("after SetRefuse(nil): %v", err)
	}
	c.Close()
}
