package psk

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/flynn/noise"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// fuzzKey is the transport key both ends of the fuzzed frames use.
var fuzzKey = [32]byte{1, 2, 3, 4, 5, 6, 7, 8, 9}

// sealed is what a Conn keyed with fuzzKey writes for each of msgs.
func sealed(msgs ...string) []byte {
	var rec recorder
	w := &Conn{conn: &rec, send: noise.UnsafeNewCipherState(suite, fuzzKey, 0)}
	for _, m := range msgs {
		w.Write([]byte(m))
	}
	return rec.Bytes()
}

// readerOf is a Conn reading in, keyed with fuzzKey.
type readerOf struct {
	net.Conn
	r io.Reader
}

func (r readerOf) Read(b []byte) (int, error) { return r.r.Read(b) }

// FuzzFrameReader feeds a keyed link's reading side arbitrary bytes: it
// must end in an error (EOF or ErrBadFrame) without a panic, having
// handed out no more plaintext than the input's frames could hold, and
// frames sealed under the key must read back as they were written.
func FuzzFrameReader(f *testing.F) {
	f.Add(sealed("hello"), []byte("hello"))
	f.Add(sealed("a", "bc", ""), []byte("abc"))
	f.Add(append(sealed("x"), 0, 1, 2), []byte("x"))
	f.Add([]byte{0, 3, 1, 2, 3}, []byte(nil))
	f.Add([]byte{0xff, 0xff, 0}, []byte(nil))
	f.Fuzz(func(t *testing.T, wire, plain []byte) {
		// Arbitrary wire bytes.
		c := &Conn{conn: readerOf{r: bytes.NewReader(wire)}, recv: noise.UnsafeNewCipherState(suite, fuzzKey, 0)}
		got, err := io.ReadAll(c)
		if err == nil {
			err = io.EOF
		}
		if !errors.Is(err, io.EOF) && !errors.Is(err, ErrBadFrame) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error %v", err)
		}
		if len(got) > len(wire) {
			t.Fatalf("%d bytes of plaintext from %d on the wire", len(got), len(wire))
		}
		// The same plaintext, sealed: read back whole.
		c = &Conn{conn: readerOf{r: bytes.NewReader(sealed(string(plain)))}, recv: noise.UnsafeNewCipherState(suite, fuzzKey, 0)}
		back, err := io.ReadAll(c)
		if err != nil || !bytes.Equal(back, plain) {
			t.Fatalf("round trip: %q %v", back, err)
		}
	})
}

// FuzzServerHandshake gives a responder arbitrary first bytes: it refuses
// them (nobody without the key can pass) with one of the handshake's
// errors, at once.
func FuzzServerHandshake(f *testing.F) {
	f.Add([]byte("#PXP#\x00\x03pxp"))
	f.Add([]byte(Preamble + "\x00\x30" + string(make([]byte, 48))))
	f.Add([]byte(Preamble + "\xff\xff"))
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	key := &Key{7}
	f.Fuzz(func(t *testing.T, in []byte) {
		a, b := memnet.Pipe("c", "s")
		defer a.Close()
		go func() {
			a.Write(in)
			a.CloseWrite()
			io.Copy(io.Discard, a)
		}()
		ctx := ctx5(t)
		start := time.Now()
		_, err := Server(ctx, b, key)
		b.Close()
		if err == nil {
			t.Fatal("a handshake passed without the key")
		}
		if time.Since(start) > 2*time.Second {
			t.Fatalf("refused after %v", time.Since(start))
		}
	})
}
