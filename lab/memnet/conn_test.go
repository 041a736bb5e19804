package memnet

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPipeCarriesBothWays(t *testing.T) {
	a, b := Pipe("a", "b")
	defer a.Close()
	go func() {
		a.Write([]byte("ping"))
		a.CloseWrite()
	}()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "ping" {
		t.Fatalf("b read %q, %v", got, err)
	}
	// b can still write after a's CloseWrite.
	go b.Write([]byte("pong"))
	buf := make([]byte, 4)
	if _, err := io.ReadFull(a, buf); err != nil || string(buf) != "pong" {
		t.Fatalf("a read %q, %v", buf, err)
	}
	if a.LocalAddr().String() != "a" || a.RemoteAddr().String() != "b" || a.LocalAddr().Network() != "memnet" {
		t.Fatalf("addresses %v %v", a.LocalAddr(), a.RemoteAddr())
	}
}

// A full buffer blocks the writer until the reader drains it, and a write
// deadline ends that wait; on virtual time.
func TestBackPressureAndDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := Pipe("a", "b")
		defer a.Close()
		big := make([]byte, DefaultBuffer+1)
		a.SetWriteDeadline(time.Now().Add(time.Second))
		start := time.Now()
		n, err := a.Write(big)
		if !errors.Is(err, os.ErrDeadlineExceeded) || n != DefaultBuffer || time.Since(start) != time.Second {
			t.Fatalf("write: %d bytes, %v after %v", n, err, time.Since(start))
		}
		b.SetReadDeadline(time.Now().Add(time.Minute))
		buf := make([]byte, DefaultBuffer)
		if n, err := io.ReadFull(b, buf); n != DefaultBuffer || err != nil {
			t.Fatalf("read %d, %v", n, err)
		}
		start = time.Now()
		if _, err := b.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != time.Minute {
			t.Fatalf("read on an empty pipe: %v after %v", err, time.Since(start))
		}
		var ne net.Error
		if !errors.As(err, &ne) || !ne.Timeout() {
			t.Fatalf("deadline error %v is not a net.Error timeout", err)
		}
	})
}

func TestCloseEndsBothSides(t *testing.T) {
	a, b := Pipe("a", "b")
	a.Write([]byte("last"))
	a.Close()
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "last" {
		t.Fatalf("after close: %q, %v", got, err)
	}
	if _, err := b.Write([]byte("x")); err == nil {
		t.Fatal("wrote to a closed pipe")
	}
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("read from a closed end")
	}
}
