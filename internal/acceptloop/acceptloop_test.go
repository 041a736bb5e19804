package acceptloop

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// flaky fails its first accepts with a temporary error.
type flaky struct {
	net.Listener
	fails atomic.Int32
}

type tempErr struct{}

func (tempErr) Error() string   { return "too many open files" }
func (tempErr) Timeout() bool   { return true }
func (tempErr) Temporary() bool { return true }

func (f *flaky) Accept() (net.Conn, error) {
	if f.fails.Add(-1) >= 0 {
		return nil, tempErr{}
	}
	return f.Listener.Accept()
}

// Temporary errors are waited out (5, 10, 20 ms on virtual time), then
// connections flow; a closed context ends the loop with nil.
func TestRunWaitsOutTemporaryErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		inner, _ := nw.Listen("x")
		ln := &flaky{Listener: inner}
		ln.fails.Store(3)
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan net.Conn, 1)
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- Run(ctx, ln, func(c net.Conn) bool { got <- c; return true }) }()
		c, err := nw.Dial("x")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		s := <-got
		s.Close()
		if waited := time.Since(start); waited != 35*time.Millisecond {
			t.Fatalf("first connection after %v, want 35ms", waited)
		}
		cancel()
		inner.Close()
		if err := <-done; err != nil {
			t.Fatalf("Run after cancel: %v", err)
		}
	})
}

func TestRunReturnsListenerErrorAndStops(t *testing.T) {
	nw := memnet.NewNetwork()
	ln, _ := nw.Listen("x")
	ln.Close()
	if err := Run(context.Background(), ln, nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Run on a closed listener: %v", err)
	}
	ln2, _ := nw.Listen("y")
	defer ln2.Close()
	go func() {
		c, _ := nw.Dial("y")
		c.Close()
	}()
	if err := Run(context.Background(), ln2, func(c net.Conn) bool { c.Close(); return false }); err != nil {
		t.Fatalf("Run stopped by handle: %v", err)
	}
}
