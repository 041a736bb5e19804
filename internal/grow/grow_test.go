package grow

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadGrowsWithArrivingBytes(t *testing.T) {
	// A megabyte announced, ten bytes sent: the buffer stays small.
	buf, err := Read(strings.NewReader("0123456789"), nil, 1<<20)
	if !errors.Is(err, io.ErrUnexpectedEOF) || string(buf) != "0123456789" {
		t.Fatalf("got %q, %v", buf, err)
	}
	if cap(buf) > First {
		t.Fatalf("buffer of %d bytes for 10 received", cap(buf))
	}
	// A whole payload arrives: at most twice its size is held.
	data := bytes.Repeat([]byte("x"), 100_000)
	buf, err = Read(bytes.NewReader(data), nil, len(data))
	if err != nil || !bytes.Equal(buf, data) || cap(buf) > 2*len(data) {
		t.Fatalf("read %d bytes (cap %d), %v", len(buf), cap(buf), err)
	}
	if Release(buf) != nil {
		t.Fatal("Release kept a buffer")
	}
	// A released buffer comes back from the pool: reading and releasing
	// payloads in turn allocates nothing (but what the race detector's
	// pool drops at random).
	src := strings.NewReader(strings.Repeat("z", 64*1000))
	if n := testing.AllocsPerRun(100, func() { Release(must(Read(src, nil, 64))) }); n > 0.5 {
		t.Fatalf("%v allocations a payload through the pool", n)
	}
	// A kept buffer is reused without allocating.
	reuse := make([]byte, 0, 64)
	r := strings.NewReader(strings.Repeat("y", 64*100))
	if n := testing.AllocsPerRun(100, func() { reuse, _ = Read(r, reuse, 64) }); n != 0 {
		t.Fatalf("%v allocations reusing a buffer", n)
	}
	if _, err := Read(strings.NewReader(""), nil, 5); err != io.EOF {
		t.Fatalf("nothing at all: %v, want io.EOF", err)
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}
