package rbuf

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// Whatever sizes the underlying reads come in, the bytes come out in
// order, through ReadByte, Read and Next mixed.
func TestReadsInOrder(t *testing.T) {
	src := make([]byte, 200_000)
	for i := range src {
		src[i] = byte(i * 7)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, wrap := range []func(io.Reader) io.Reader{
		func(r io.Reader) io.Reader { return r },
		iotest.OneByteReader,
		iotest.HalfReader,
		iotest.DataErrReader,
	} {
		b := New(wrap(bytes.NewReader(src)))
		var got []byte
		for len(got) < len(src) {
			left := len(src) - len(got)
			switch rng.IntN(3) {
			case 0:
				c, err := b.ReadByte()
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, c)
			case 1:
				p := make([]byte, rng.IntN(9000)+1)
				n, err := b.Read(p)
				if err != nil && n == 0 {
					t.Fatal(err)
				}
				got = append(got, p[:n]...)
			case 2:
				out, err := b.Next(min(left, rng.IntN(20000)+1))
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, out...)
			}
		}
		if !bytes.Equal(got, src) {
			t.Fatal("bytes out of order")
		}
		if _, err := b.ReadByte(); err != io.EOF {
			t.Fatalf("at the end: %v, want EOF", err)
		}
	}
}

// An idle reader holds no chunk: after its bytes are consumed, the chunk
// a burst needed is back in the pool.
func TestIdleHoldsNoChunk(t *testing.T) {
	b := New(strings.NewReader(strings.Repeat("x", 3*Small) + "tail"))
	if _, err := b.Next(3 * Small); err != nil { // the small array fills, then a chunk
		t.Fatal(err)
	}
	if _, err := b.Next(4); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadByte(); err != io.EOF {
		t.Fatalf("want EOF, got %v", err)
	}
	if b.chunk != nil || b.held != nil || b.Buffered() != 0 {
		t.Fatalf("idle reader holds chunk %v, held %v, %d bytes", b.chunk != nil, b.held != nil, b.Buffered())
	}
}

// Next of more than arrived returns what came, and ErrUnexpectedEOF; a
// large announced n does not allocate it up front.
func TestNextShort(t *testing.T) {
	b := New(strings.NewReader("0123456789"))
	out, err := b.Next(1 << 20)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(out) != "0123456789" || cap(out) > Chunk {
		t.Fatalf("got %q (cap %d), %v", out, cap(out), err)
	}
}
