package mux

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"testing"
	"testing/synctest"
)

// A stream read through notices: f is called when bytes arrive (and at
// once for bytes already there), ReadAvailable takes them without
// waiting and returns 0 when there are none, and the stream's end, from
// the peer or from Close, is a notice too.
func TestReadNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil)
		sa, sb := mustStream(t, a, "x"), mustStream(t, b, "x")
		if _, err := sa.Write([]byte("early")); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		var notices atomic.Int32
		sb.SetReadNotify(func() { notices.Add(1) })
		if notices.Load() != 1 {
			t.Fatalf("%d notices for bytes already there, want 1", notices.Load())
		}
		buf := make([]byte, 64)
		if n, err := sb.ReadAvailable(buf); err != nil || string(buf[:n]) != "early" {
			t.Fatalf("ReadAvailable = %q, %v", buf[:n], err)
		}
		if n, err := sb.ReadAvailable(buf); n != 0 || err != nil {
			t.Fatalf("ReadAvailable on an empty stream = %d, %v; want 0, nil", n, err)
		}
		sa.Write([]byte("later"))
		synctest.Wait()
		if notices.Load() != 2 {
			t.Fatalf("%d notices after more bytes, want 2", notices.Load())
		}
		if n, _ := sb.ReadAvailable(buf); string(buf[:n]) != "later" {
			t.Fatalf("ReadAvailable = %q", buf[:n])
		}
		sa.CloseWrite()
		synctest.Wait()
		if notices.Load() != 3 {
			t.Fatalf("%d notices after the peer's END, want 3", notices.Load())
		}
		if _, err := sb.ReadAvailable(buf); err != io.EOF {
			t.Fatalf("after END: %v, want EOF", err)
		}
		before := notices.Load()
		sb.Close()
		if notices.Load() != before+1 {
			t.Fatal("Close gave no notice")
		}
		if _, err := sb.ReadAvailable(buf); !errors.Is(err, net.ErrClosed) {
			t.Fatalf("after Close: %v, want net.ErrClosed", err)
		}
	})
}

// The session's end is a notice to every stream that asked for them.
func TestReadNotifyAtSessionEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := pair(t, nil)
		sb := mustStream(t, b, "x")
		mustStream(t, a, "x")
		var notices atomic.Int32
		sb.SetReadNotify(func() { notices.Add(1) })
		a.Close()
		synctest.Wait()
		if notices.Load() == 0 {
			t.Fatal("no notice when the session ended")
		}
		if _, err := sb.ReadAvailable(make([]byte, 8)); err == nil {
			t.Fatal("ReadAvailable after the session's end returned no error")
		}
	})
}
