package mux

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func pair(t *testing.T, cfg *Config) (*Session, *Session) {
	a, b := memnet.Pipe("a", "b")
	sa, sb := NewSession(a, cfg), NewSession(b, cfg)
	t.Cleanup(func() { sa.Close(); sb.Close() })
	return sa, sb
}

func mustStream(t *testing.T, s *Session, name string) *Stream {
	t.Helper()
	st, err := s.Stream(name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readN(t *testing.T, r io.Reader, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		t.Fatalf("read: %v", err)
	}
	return string(b)
}

func TestSharedStreams(t *testing.T) {
	sa, sb := pair(t, nil)
	a1, b1 := mustStream(t, sa, "pxp"), mustStream(t, sb, "pxp")
	a2, b2 := mustStream(t, sa, "data:x"), mustStream(t, sb, "data:x")
	a2.Write([]byte("two"))
	a1.Write([]byte("one"))
	b1.Write([]byte("uno"))
	if got := readN(t, b1, 3); got != "one" {
		t.Fatal(got)
	}
	if got := readN(t, b2, 3); got != "two" {
		t.Fatal(got)
	}
	if got := readN(t, a1, 3); got != "uno" {
		t.Fatal(got)
	}
	// Half close: b reads EOF on data:x, a can still read what b sends.
	a2.CloseWrite()
	if _, err := b2.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("after END: %v", err)
	}
	b2.Write([]byte("late"))
	if got := readN(t, a2, 4); got != "late" {
		t.Fatal(got)
	}
	if _, err := a2.Write([]byte("x")); !errors.Is(err, ErrWriteClosed) {
		t.Fatalf("write after CloseWrite: %v", err)
	}
	if _, err := sa.Stream("pxp"); !errors.Is(err, ErrStreamExists) {
		t.Fatalf("duplicate name: %v", err)
	}
	// A long write is split into frames and arrives whole.
	big := bytes.Repeat([]byte("0123456789"), 30000)
	go a1.Write(big)
	if got := readN(t, b1, len(big)); got != string(big) {
		t.Fatal("big write garbled")
	}
}

func TestEarlyStreamBuffered(t *testing.T) {
	sa, sb := pair(t, nil)
	a := mustStream(t, sa, "relay:1")
	a.Write([]byte("early"))
	a.CloseWrite()
	// Let the frames arrive before anyone asks for the name.
	waitFor(t, func() bool { sb.mu.Lock(); defer sb.mu.Unlock(); p := sb.pending["relay:1"]; return p != nil && p.eof })
	b := mustStream(t, sb, "relay:1")
	got, err := io.ReadAll(b)
	if err != nil || string(got) != "early" {
		t.Fatalf("got %q %v", got, err)
	}
}

func TestPendingLimits(t *testing.T) {
	sa, sb := pair(t, &Config{MaxPendingStreams: 2, PendingBuffer: 10})
	for _, n := range []string{"p1", "p2", "p3"} {
		mustStream(t, sa, n).Write([]byte("12345"))
	}
	over := mustStream(t, sa, "p1-more")
	_ = over
	waitFor(t, func() bool { sb.mu.Lock(); defer sb.mu.Unlock(); return len(sb.pending) == 2 })
	// p1 goes over its buffer and is discarded.
	sa.mu.Lock()
	st := sa.names["p1"]
	sa.mu.Unlock()
	st.Write([]byte("123456"))
	waitFor(t, func() bool { sb.mu.Lock(); defer sb.mu.Unlock(); return sb.pending["p1"] == nil })
	sb.mu.Lock()
	_, p2 := sb.pending["p2"]
	_, p3 := sb.pending["p3"]
	sb.mu.Unlock()
	if !p2 || p3 {
		t.Fatalf("pending p2=%v p3=%v, want only p2 kept", p2, p3)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in time")
		}
		time.Sleep(time.Millisecond)
	}
}

// The JS close sequence (END 4, ERR 5, ERR 6) ends one stream only.
func TestErrorStaysOnItsStream(t *testing.T) {
	a, b := memnet.Pipe("a", "b")
	s := NewSession(b, nil)
	defer s.Close()
	keep := mustStream(t, s, "pxp")
	gone := mustStream(t, s, "relay:x")
	gone.Write([]byte("hi")) // opens our channel 0... after pxp? ids are lazy
	var wire []byte
	wire = AppendFrame(wire, 0, TypeNew, []byte("pxp"))
	wire = AppendFrame(wire, 1, TypeNew, []byte("relay:x"))
	wire = AppendFrame(wire, 1, TypeEndInit, nil)
	wire = AppendFrame(wire, 0, TypeErrReceiver, nil) // our channel 0 is relay:x
	wire = AppendFrame(wire, 1, TypeErrInit, []byte("boom"))
	wire = AppendFrame(wire, 0, TypeDataInit, []byte("still here"))
	go a.Write(wire)
	if got := readN(t, keep, 10); got != "still here" {
		t.Fatal(got)
	}
	if _, err := gone.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("relay read: %v", err)
	}
	var se *StreamError
	if _, err := gone.Write([]byte("x")); !errors.As(err, &se) {
		t.Fatalf("write to a destroyed channel: %v", err)
	}
	if s.Err() != nil {
		t.Fatalf("session ended: %v", s.Err())
	}
	a.Close()
}

func TestOversizedFrameEndsSession(t *testing.T) {
	a, b := memnet.Pipe("a", "b")
	s := NewSession(b, &Config{MaxFrameSize: 16})
	st := mustStream(t, s, "pxp")
	go a.Write(AppendFrame(nil, 0, TypeNew, []byte(strings.Repeat("n", 17))))
	_, err := st.Read(make([]byte, 1))
	var fe *FrameError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "frame too large") {
		t.Fatalf("got %v", err)
	}
	<-s.Done()
	if _, err := a.Read(make([]byte, 1)); err == nil {
		t.Fatal("transport not closed")
	}
	a.Close()
}

func TestNeverSendsErrorFrames(t *testing.T) {
	a, b := memnet.Pipe("a", "b")
	s := NewSession(b, nil)
	st := mustStream(t, s, "relay:1")
	st.Write([]byte("x"))
	st.Close()
	s.Close()
	var got []byte
	buf := make([]byte, 256)
	for {
		n, err := a.Read(buf)
		got = append(got, buf[:n]...)
		if err != nil {
			break
		}
	}
	var types []uint8
	for len(got) > 0 {
		f, n, err := ParseFrame(got, 0)
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, f.Type)
		got = got[n:]
	}
	want := []uint8{TypeNew, TypeDataInit, TypeEndInit}
	if !bytes.Equal(types, want) {
		t.Fatalf("frame types %v, want %v", types, want)
	}
}

func TestReadDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		_, sb := pair(t, nil)
		b := mustStream(t, sb, "s")
		b.SetReadDeadline(time.Now().Add(3 * time.Second))
		start := time.Now()
		if _, err := b.Read(make([]byte, 1)); !errors.Is(err, os.ErrDeadlineExceeded) || time.Since(start) != 3*time.Second {
			t.Fatalf("deadline: %v after %v", err, time.Since(start))
		}
	})
}

// No head-of-line blocking: a stream nobody reads fills its buffer and then
// ends alone with ErrStreamStalled; the session keeps reading, so another
// stream of it (the control stream, say) goes on.
func TestStalledStreamEndsAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sa, sb := pair(t, &Config{StreamBuffer: 4096})
		stalledA, stalledB := mustStream(t, sa, "data"), mustStream(t, sb, "data")
		ctlA, ctlB := mustStream(t, sa, "pxp"), mustStream(t, sb, "pxp")
		payload := bytes.Repeat([]byte("p"), 1024)
		go func() {
			for range 64 { // 64 KiB at a reader that never reads
				if _, err := stalledA.Write(payload); err != nil {
					return
				}
			}
		}()
		synctest.Wait()
		go ctlA.Write([]byte("getpeers\n"))
		line := make([]byte, 9)
		if _, err := io.ReadFull(ctlB, line); err != nil || string(line) != "getpeers\n" {
			t.Fatalf("control stream behind a stalled one: %q, %v", line, err)
		}
		if _, err := stalledB.Read(make([]byte, 1)); !errors.Is(err, ErrStreamStalled) {
			t.Fatalf("the stalled stream: %v, want ErrStreamStalled", err)
		}
		if err := sb.Err(); err != nil {
			t.Fatalf("the session ended: %v", err)
		}
	})
}

// An unclaimed stream's bytes are freed after PendingTimeout, on virtual
// time, even when nothing else arrives.
func TestUnclaimedStreamExpires(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sa, sb := pair(t, &Config{PendingTimeout: 15 * time.Second})
		mustStream(t, sa, "nobody-asks").Write([]byte("kept a while"))
		synctest.Wait()
		sb.mu.Lock()
		held := len(sb.pending)
		sb.mu.Unlock()
		if held != 1 {
			t.Fatalf("%d unclaimed streams held, want 1", held)
		}
		time.Sleep(16 * time.Second)
		synctest.Wait()
		sb.mu.Lock()
		held = len(sb.pending)
		sb.mu.Unlock()
		if held != 0 {
			t.Fatalf("%d unclaimed streams held after PendingTimeout", held)
		}
	})
}

func TestCloseWakesReaders(t *testing.T) {
	sa, _ := pair(t, nil)
	st := mustStream(t, sa, "pxp")
	errc := make(chan error)
	go func() {
		_, err := st.Read(make([]byte, 1))
		errc <- err
	}()
	sa.Close()
	if err := <-errc; err != io.EOF && !errors.Is(err, net.ErrClosed) {
		t.Fatalf("got %v", err)
	}
	if _, err := sa.Stream("x"); !errors.Is(err, ErrSessionClosed) {
		t.Fatalf("Stream after Close: %v", err)
	}
}

func FuzzSession(f *testing.F) {
	for _, c := range captured {
		b := AppendFrame(nil, c.ch, c.typ, []byte(c.payload))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := memnet.Pipe("a", "b")
		s := NewSession(b, &Config{MaxFrameSize: 1 << 12, MaxPendingStreams: 4, PendingBuffer: 1 << 12, StreamBuffer: 1 << 12})
		st, _ := s.Stream("pxp")
		go func() {
			a.Write(in)
			a.CloseWrite()
		}()
		io.Copy(io.Discard, st)
		<-s.Done()
		a.Close()
	})
}

// A slow reader that keeps reading is waited for (back-pressure), never
// cut off: 64 KiB through a 4 KiB buffer, read a KiB every half second.
func TestSlowReaderKeepsItsStream(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sa, sb := pair(t, &Config{StreamBuffer: 4096, StallTimeout: 2 * time.Second})
		a, b := mustStream(t, sa, "data"), mustStream(t, sb, "data")
		want := bytes.Repeat([]byte("0123456789abcdef"), 4096)
		go func() {
			a.Write(want)
			a.CloseWrite()
		}()
		var got []byte
		buf := make([]byte, 1024)
		for {
			time.Sleep(500 * time.Millisecond)
			n, err := b.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("after %d bytes: %v", len(got), err)
			}
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("got %d bytes, want %d", len(got), len(want))
		}
	})
}

// A budget shared by sessions bounds their unclaimed bytes together, and
// is given back when the streams are claimed or dropped.
func TestPendingBudgetShared(t *testing.T) {
	budget := NewBudget(100 << 10)
	var servers []*Session
	for range 4 {
		sa, sb := pair(t, &Config{PendingBudget: budget})
		servers = append(servers, sb)
		st := mustStream(t, sa, "unasked")
		st.Write(bytes.Repeat([]byte("u"), 60<<10))
	}
	waitFor(t, func() bool {
		n := 0
		for _, s := range servers {
			s.mu.Lock()
			n += len(s.pending)
			s.mu.Unlock()
		}
		return n == 1 && budget.Used() == 60<<10 // one fits, three were discarded
	})
	for _, s := range servers {
		s.Close()
	}
	if budget.Used() != 0 {
		t.Fatalf("%d bytes still counted after the sessions closed", budget.Used())
	}
}

// BytesReceived counts the payload the peer wrote to a stream, whether
// it came before the stream was asked for or after, read or not, and
// none of the frames without payload (its channel's NEW and END).
func TestBytesReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		sa, sb := pair(t, nil)
		a, b := mustStream(t, sa, "x"), mustStream(t, sb, "x")
		a.Close() // NEW and END, no payload
		synctest.Wait()
		if n := b.BytesReceived(); n != 0 {
			t.Fatalf("%d bytes received from a stream's NEW and END", n)
		}
		early := mustStream(t, sa, "y")
		early.Write([]byte("early"))
		synctest.Wait()
		late := mustStream(t, sb, "y")
		early.Write([]byte("late"))
		synctest.Wait()
		if n := late.BytesReceived(); n != 9 {
			t.Fatalf("%d bytes received, want 9", n)
		}
		readN(t, late, 9)
		if n := late.BytesReceived(); n != 9 {
			t.Fatalf("%d bytes received once read, want 9", n)
		}
	})
}
