package pxp

import (
	"errors"
	"io"
	"strings"
	"testing"
	"unsafe"
)

// chunkReader is an availReader that hands out its chunks one a call, 0
// and nil between them (nothing there yet), and io.EOF after the last.
type chunkReader struct {
	chunks []string
	next   int  // the chunk being read
	idle   bool // the last call said nothing is there
	busy   bool // never say nothing is there: one burst to the end
}

func (r *chunkReader) ReadAvailable(p []byte) (int, error) {
	if r.next == len(r.chunks) {
		return 0, io.EOF
	}
	if !r.idle && !r.busy {
		r.idle = true
		return 0, nil
	}
	r.idle = false
	n := copy(p, r.chunks[r.next])
	if r.chunks[r.next] = r.chunks[r.next][n:]; r.chunks[r.next] == "" {
		r.next++
	}
	return n, nil
}

// drain reads every burst of r: the lines, and how many bursts ended
// holding no buffer.
func drain(t *testing.T, l *lineSplitter, r *chunkReader) (lines []string, empty int, err error) {
	t.Helper()
	for range 10_000 {
		line, ok, err := l.next(r)
		switch {
		case err != nil:
			return lines, empty, err
		case ok:
			lines = append(lines, string(line))
		case l.buf == nil && l.lent == nil:
			empty++
		}
	}
	t.Fatal("no end after 10,000 reads")
	return
}

// Lines cut anywhere by the transport come out whole; a line longer than
// the first buffer gets one of its own; between bursts nothing is held.
func TestLineSplitterBursts(t *testing.T) {
	long := strings.Repeat("x", 3*firstLineBuf)
	r := &chunkReader{chunks: []string{"a\nb", "c\r\n\n", long[:500], long[500:] + "\nd\n", "e\n"}}
	l := &lineSplitter{max: 4 * firstLineBuf, skipBlank: true}
	lines, empty, err := drain(t, l, r)
	if !errors.Is(err, io.EOF) {
		t.Fatalf("ended with %v, want io.EOF", err)
	}
	want := []string{"a", "bc", long, "d", "e"}
	if strings.Join(lines, ",") != strings.Join(want, ",") {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	// Bursts ending between lines: after "c\r\n\n", after "d\n", after "e\n".
	if empty != 3 {
		t.Fatalf("%d bursts ended holding nothing, want 3", empty)
	}
	l.release()

	// Over max: refused, however it arrives.
	r = &chunkReader{chunks: []string{long[:900], long[900:] + "\n"}}
	l = &lineSplitter{max: 2 * firstLineBuf}
	if _, _, err := drain(t, l, r); !errors.Is(err, ErrLineTooLong) {
		t.Fatalf("a %d-byte line under max %d: %v, want ErrLineTooLong", len(long), l.max, err)
	}
	l.release()
}

// Within a burst the splitter reads every chunk into the one buffer,
// however many lines end exactly at a chunk's end (before, each such line
// cost a new buffer).
func TestLineSplitterKeepsBuffer(t *testing.T) {
	r := &chunkReader{chunks: []string{"x\n", "y\n", "zz\n", "w\n"}, busy: true}
	l := &lineSplitter{max: 1 << 10}
	var bufs []*byte
	for range 100 {
		line, ok, err := l.next(r)
		if err != nil {
			break
		}
		if ok {
			if len(line) == 0 || len(line) > 2 {
				t.Fatalf("line %q", line)
			}
			bufs = append(bufs, unsafe.SliceData(l.buf))
		}
	}
	if len(bufs) != 4 {
		t.Fatalf("%d lines, want 4", len(bufs))
	}
	for _, b := range bufs[1:] {
		if b != bufs[0] {
			t.Fatal("a burst read into more than one buffer")
		}
	}
	l.release()
}
