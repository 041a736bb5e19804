package psk

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/seed0021ed4d/pex/lab/loopback"
)

// BenchmarkStream moves bytes one way over loopback TCP, plain and keyed,
// in writes of a mux frame's usual sizes.
func BenchmarkStream(b *testing.B) {
	for _, size := range []int{1 << 10, 16 << 10, 64 << 10} {
		for _, keyed := range []bool{false, true} {
			name := "plain"
			if keyed {
				name = "keyed"
			}
			b.Run(name+"/"+byteSize(size), func(b *testing.B) {
				var w, r net.Conn
				w, r = loopback.TCPPair(b)
				if keyed {
					k := &Key{1}
					done := make(chan *Conn)
					go func() {
						s, _ := Server(context.Background(), r, k)
						done <- s
					}()
					c, err := Client(context.Background(), w, k)
					if err != nil {
						b.Fatal(err)
					}
					w, r = c, <-done
				}
				go io.Copy(io.Discard, r)
				buf := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for b.Loop() {
					if _, err := w.Write(buf); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func byteSize(n int) string {
	if n >= 1<<10 {
		return itoa(n>>10) + "KiB"
	}
	return itoa(n) + "B"
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// BenchmarkHandshake is one keyed handshake over loopback TCP: what a
// link's start costs beyond PXP's own.
func BenchmarkHandshake(b *testing.B) {
	k := &Key{1}
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		c, s := loopback.TCPPair(b)
		b.StartTimer()
		done := make(chan error)
		go func() {
			_, err := Server(context.Background(), s, k)
			done <- err
		}()
		if _, err := Client(context.Background(), c, k); err != nil {
			b.Fatal(err)
		}
		if err := <-done; err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c.Close()
		s.Close()
		b.StartTimer()
	}
}
