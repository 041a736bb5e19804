package mux

import (
	"errors"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// Close half closes: the peer's session ends with io.EOF, its clean end,
// and Close returns as soon as the peer has closed too, not after
// CloseDrain.
func TestCloseIsGraceful(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := memnet.Pipe("a", "b")
		sa, sb := NewSession(a, nil), NewSession(b, nil)
		st := mustStream(t, sb, "pxp")
		if _, err := st.Write([]byte("last words")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		start := time.Now()
		sa.Close()
		if d := time.Since(start); d != 0 {
			t.Fatalf("Close took %v of virtual time: it waited for the drain's bound, not for the peer's end", d)
		}
		<-sb.Done()
		if err := sb.Err(); err != io.EOF {
			t.Fatalf("the peer's session ended with %v, want io.EOF (a clean close)", err)
		}
		if err := sa.Err(); err != ErrSessionClosed {
			t.Fatalf("Err after Close: %v", err)
		}
	})
}

// A transport that cannot half close is closed at once.
func TestCloseWithoutHalfClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		sa := NewSession(a, nil)
		start := time.Now()
		sa.Close()
		if d := time.Since(start); d != 0 {
			t.Fatalf("Close took %v", d)
		}
		if _, err := b.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("the peer reads %v, want io.EOF", err)
		}
	})
}

// A peer that trickles frames after Close and never closes holds Close
// for CloseDrain exactly, and no longer; it reads the half close.
func TestCloseDrainBoundedInTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := memnet.Pipe("a", "b")
		cfg := &Config{CloseDrain: 3 * time.Second}
		sa := NewSession(a, cfg)
		sawEOF := make(chan error, 1)
		go func() { // the peer's reader: what does our half close look like?
			_, err := io.Copy(io.Discard, b)
			sawEOF <- err
		}()
		wrote := make(chan struct{})
		go func() { // the peer's writer: a frame every 100 ms, forever
			defer close(wrote)
			frame := AppendFrame(nil, 1, TypeDataInit, []byte("x"))
			for {
				if _, err := b.Write(frame); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}()
		time.Sleep(time.Second)
		start := time.Now()
		sa.Close()
		if d := time.Since(start); d != cfg.CloseDrain {
			t.Fatalf("Close returned after %v, want CloseDrain %v", d, cfg.CloseDrain)
		}
		if err := <-sawEOF; err != nil {
			t.Fatalf("the peer read %v, want the half close's EOF", err)
		}
		b.Close()
		<-wrote // the writer sees the closed pipe and ends
	})
}

// A peer that answers Close with a flood, and never closes, costs
// CloseDrainBytes, not CloseDrain: Close returns once that much is read.
func TestCloseDrainBoundedInBytes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := memnet.Pipe("a", "b")
		cfg := &Config{CloseDrain: time.Minute, CloseDrainBytes: 256 << 10}
		sa := NewSession(a, cfg)
		go func() {
			io.Copy(io.Discard, b) // until our half close
			frame := AppendFrame(nil, 1, TypeDataInit, make([]byte, 8<<10))
			for {
				if _, err := b.Write(frame); err != nil {
					return
				}
			}
		}()
		before := sa.BytesRead()
		start := time.Now()
		sa.Close()
		if d := time.Since(start); d >= cfg.CloseDrain {
			t.Fatalf("Close returned after %v: the byte bound did not hold", d)
		}
		// Past the bound by at most the frame under way and one read.
		if n, limit := sa.BytesRead()-before, uint64(cfg.CloseDrainBytes+8<<10+FrameOverhead+discardChunk); n > limit {
			t.Fatalf("read %d bytes after Close, bound %d", n, limit)
		}
		b.Close()
		synctest.Wait()
	})
}

// A peer that never reads leaves a write blocked: Close cuts it short
// rather than waiting for WriteTimeout, and still returns within
// CloseDrain.
func TestCloseCutsABlockedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := memnet.Pipe("a", "b")
		defer b.Close()
		cfg := &Config{CloseDrain: 2 * time.Second, WriteTimeout: time.Hour}
		sa := NewSession(a, cfg)
		st := mustStream(t, sa, "pxp")
		werr := make(chan error, 1)
		go func() {
			_, err := st.Write(make([]byte, 2*memnet.DefaultBuffer))
			werr <- err
		}()
		synctest.Wait() // the write is blocked on the full pipe
		start := time.Now()
		sa.Close()
		if d := time.Since(start); d > cfg.CloseDrain {
			t.Fatalf("Close returned after %v, bound %v", d, cfg.CloseDrain)
		}
		if err := <-werr; err == nil {
			t.Fatal("the blocked write succeeded")
		}
	})
}

// StartClose returns before the drain; Done closes after it.
func TestStartCloseDoesNotWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := memnet.Pipe("a", "b")
		defer b.Close()
		cfg := &Config{CloseDrain: 5 * time.Second}
		sa := NewSession(a, cfg)
		start := time.Now()
		sa.StartClose()
		if _, err := sa.Stream("late"); !errors.Is(err, ErrSessionClosed) {
			t.Fatalf("Stream after StartClose: %v", err)
		}
		if d := time.Since(start); d != 0 {
			t.Fatalf("StartClose took %v", d)
		}
		<-sa.Done() // the peer never closes: the bound ends it
		if d := time.Since(start); d != cfg.CloseDrain {
			t.Fatalf("Done after %v, want %v", d, cfg.CloseDrain)
		}
	})
}
