package pxp

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// stalled opens a connection from ip to e that sends the magic and a frame
// header announcing the largest frame, then nothing: memory is never
// allocated for what a peer announces, and the handshake budget holds at
// most MaxHandshakesPerIP of them from one address.
func stalled(t *testing.T, nw *memnet.Network, e *Exchange, from string) *memnet.Conn {
	c, err := nw.DialFrom(from, "node")
	if err != nil {
		t.Fatal(err)
	}
	header := appendUvarint(nil, 0<<3|uint64(mux.TypeDataInit))
	header = appendUvarint(header, uint64(mux.DefaultMaxFrameSize))
	c.Write(append([]byte(wire.Magic), header...))
	return c
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// 500 stalled handshakes from one IP cost little memory and leave room for
// honest peers, from another address and from the same one.
func TestStalledHandshakesBounded(t *testing.T) {
	nw := memnet.NewNetwork()
	ln, _ := nw.Listen("node")
	e := newExchange(t, &Config{MaxHandshakes: 32, MaxHandshakesPerIP: 16})
	go e.Serve(ln)

	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	const n = 500
	var conns []*memnet.Conn
	for i := range n {
		conns = append(conns, stalled(t, nw, e, fmt.Sprintf("10.0.0.1:%d", 1000+i)))
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// Every connection past the cap was closed: reading it ends.
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		buf := make([]byte, 64)
		for {
			if _, err := c.Read(buf); err != nil {
				if !isTimeout(err) {
					closed++
				}
				break
			}
		}
	}
	if closed < n-16 {
		t.Fatalf("%d of %d stalled connections closed, want at least %d", closed, n, n-16)
	}
	if l := e.handshakes.Len(); l > 16 {
		t.Fatalf("%d handshakes held, cap 16 from one IP", l)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 8<<20 {
		t.Fatalf("heap grew %d KiB for %d stalled handshakes announcing 1 MiB frames", grew>>10, n)
	}

	// Honest peers get in meanwhile, from elsewhere and from the same IP.
	for _, from := range []string{"10.0.0.2:1", "10.0.0.1:9999"} {
		hc, err := nw.DialFrom(from, "node")
		if err != nil {
			t.Fatal(err)
		}
		honest := newExchange(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		if _, err := honest.Connect(ctx, hc); err != nil {
			t.Fatalf("honest peer from %s: %v", from, err)
		}
		cancel()
	}
}

func isTimeout(err error) bool {
	type timeout interface{ Timeout() bool }
	te, ok := err.(timeout)
	return ok && te.Timeout()
}
