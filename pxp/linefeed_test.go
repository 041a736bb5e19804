package pxp

import (
	"errors"
	"io"
	"runtime"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
)

// An idle link parks no reader: its only goroutine at each end is the
// one reading the transport (mux's). Control messages are read by a
// goroutine that runs while they arrive.
func TestIdleLinkParksNoReader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		hub := newExchange(t, &Config{MaxPeers: 100})
		const n = 20
		var exs []*Exchange
		for range n {
			exs = append(exs, newExchange(t, nil))
		}
		synctest.Wait()
		before := runtime.NumGoroutine()
		for _, e := range exs {
			link(t, e, hub)
		}
		synctest.Wait()
		perLink := float64(runtime.NumGoroutine()-before) / n
		if perLink > 2.5 { // 2 (one goroutine an end); a goroutine of another test still ending may be counted
			t.Fatalf("%.1f goroutines per idle link (both ends), want 2", perLink)
		}
		// Still a working link: a request and its answer go through.
		if _, err := exs[0].Peers()[0].GetPeers(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

// ReadLines hands over lines as they come ("\r\n" or "\n", blank lines
// kept), says why it ended, and holds to its limit; over a transport
// without notices (a plain conn) it reads the same.
func TestReadLines(t *testing.T) {
	type result struct {
		lines []string
		err   error
	}
	read := func(c *Conn, max int) (func() result, *sync.WaitGroup) {
		var mu sync.Mutex
		var r result
		var wg sync.WaitGroup
		wg.Add(1)
		c.ReadLines(max, func(b []byte) error {
			mu.Lock()
			r.lines = append(r.lines, string(b))
			mu.Unlock()
			return nil
		}, func(err error) {
			mu.Lock()
			r.err = err
			mu.Unlock()
			wg.Done()
		})
		return func() result { mu.Lock(); defer mu.Unlock(); return r }, &wg
	}
	for _, plain := range []bool{false, true} {
		name := "session stream"
		if plain {
			name = "plain conn"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var ac, bc *Conn
				if plain {
					x, y := pipe()
					ac, bc = &Conn{Conn: x}, &Conn{Conn: y}
				} else {
					ac, bc = link(t, newExchange(t, nil), newExchange(t, nil))
				}
				got, wg := read(bc, 16)
				for _, part := range []string{"one\r", "\n\ntw", "o\n", "three\n"} {
					if _, err := io.WriteString(ac, part); err != nil {
						t.Fatal(err)
					}
					synctest.Wait()
				}
				if r := got(); !slices.Equal(r.lines, []string{"one", "", "two", "three"}) || r.err != nil {
					t.Fatalf("lines %q, err %v", r.lines, r.err)
				}
				io.WriteString(ac, "0123456789abcdefXYZ\n") // past 16 bytes
				wg.Wait()
				if r := got(); !errors.Is(r.err, ErrLineTooLong) {
					t.Fatalf("a long line ended it with %v", r.err)
				}
				ac.Close()
				bc.Close()
			})
		})
	}
	t.Run("end", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			ac, bc := link(t, newExchange(t, nil), newExchange(t, nil))
			got, wg := read(bc, 0)
			io.WriteString(ac, "last\n")
			ac.Close()
			wg.Wait()
			if r := got(); !slices.Equal(r.lines, []string{"last"}) || r.err != io.EOF {
				t.Fatalf("lines %q, err %v; want [last], EOF", r.lines, r.err)
			}
		})
	})
}
