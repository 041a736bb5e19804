package pxp

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/seed0021ed4d/pex/pxp/psk"
)

// tcpLink links two exchanges over loopback TCP and returns the data
// streams of both ends.
func tcpLink(b *testing.B, x, y *Exchange) (xc, yc *Conn) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan *Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- nil
			return
		}
		yc, _ := y.Accept(context.Background(), c)
		done <- yc
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	xc, err = x.Connect(context.Background(), c)
	if err != nil {
		b.Fatal(err)
	}
	if yc = <-done; yc == nil {
		b.Fatal("accept failed")
	}
	return xc, yc
}

// BenchmarkLinkData is a PXP data stream over loopback TCP, keyless and
// keyed: what the network key costs an application's bytes.
func BenchmarkLinkData(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		name := "keyless"
		if keyed {
			name = "keyed"
		}
		b.Run(name, func(b *testing.B) {
			cfg := func() *Config {
				if keyed {
					return &Config{NetworkKey: benchKey}
				}
				return nil
			}
			x, y := newExchange(b, cfg()), newExchange(b, cfg())
			xc, yc := tcpLink(b, x, y)
			go io.Copy(io.Discard, yc)
			buf := make([]byte, 16<<10)
			b.SetBytes(int64(len(buf)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := xc.Write(buf); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkConnect is a link's whole start over loopback TCP (the TCP
// connect, then magic, hello and connect; keyed, the Noise handshake
// first), keyless and keyed.
func BenchmarkConnect(b *testing.B) {
	for _, keyed := range []bool{false, true} {
		name := "keyless"
		if keyed {
			name = "keyed"
		}
		b.Run(name, func(b *testing.B) {
			cfg := &Config{MaxPeers: 1 << 20}
			if keyed {
				cfg.NetworkKey = benchKey
			}
			y := newExchange(b, cfg)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			go y.Serve(ln)
			go func() {
				for range y.Incoming() { // x's Close ends the link
				}
			}()
			b.ReportAllocs()
			for b.Loop() {
				x, _ := New(testNet, cfg)
				c, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				if _, err := x.Connect(context.Background(), c); err != nil {
					b.Fatal(err)
				}
				x.Close()
			}
		})
	}
}

var benchKey = func() *psk.Key { k, _ := psk.GenerateKey(); return k }()
