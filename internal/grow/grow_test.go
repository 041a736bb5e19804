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
		t.Fatal("a 100 kB buffer was kept")
	}
	small, _ := Read(strings.NewReader("abc"), nil, 3)
	if kept := Release(small); kept == nil || len(kept) != 0 {
		t.Fatal("a small buffer was not kept")
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
