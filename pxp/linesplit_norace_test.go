//go:build !race

package pxp

// Allocation counts, which the race detector's pools make random (it drops
// some of what is put in a sync.Pool): scripts/test runs them without
// -race.

import (
	"strings"
	"testing"
)

// A burst of short lines borrows its buffer: once the pool has one,
// reading a burst allocates nothing.
func TestLineSplitterBurstAllocs(t *testing.T) {
	msg := `["getpeers","1a","net"]` + "\n"
	l := &lineSplitter{max: 64 << 10, skipBlank: true}
	r := &chunkReader{}
	burst := []string{msg + msg, msg[:7], msg[7:] + msg}
	lines := 0
	allocs := testing.AllocsPerRun(100, func() {
		r.chunks, r.next, r.idle = append(r.chunks[:0], burst...), 0, true
		for {
			_, ok, err := l.next(r)
			if err != nil {
				break
			}
			if ok {
				lines++
			}
		}
		l.release()
	})
	if lines != 101*4 {
		t.Fatalf("%d lines, want %d", lines, 101*4)
	}
	if allocs != 0 {
		t.Fatalf("%.1f allocations a burst, want 0", allocs)
	}
}

// A burst carrying a line longer than the first buffer (a getpeers answer
// is 2 to 4 KiB) borrows a long one too: once the pools have both,
// reading such a burst allocates nothing.
func TestLineSplitterLongLineAllocs(t *testing.T) {
	answer := `["res","1z",[null,[` + strings.Repeat(`{"id":"0a1b2c3d","network":"n","connectInfo":{"pxp":true}},`, 50) + `null]]]` + "\n"
	l := &lineSplitter{max: 64 << 10, skipBlank: true}
	r := &chunkReader{}
	burst := []string{answer[:700], answer[700:], answer}
	lines := 0
	allocs := testing.AllocsPerRun(100, func() {
		r.chunks, r.next, r.idle = append(r.chunks[:0], burst...), 0, true
		for {
			line, ok, err := l.next(r)
			if err != nil {
				break
			}
			if ok {
				if len(line) != len(answer)-1 {
					t.Fatalf("a line of %d bytes, want %d", len(line), len(answer)-1)
				}
				lines++
			}
		}
		l.release()
	})
	if lines != 101*2 {
		t.Fatalf("%d lines, want %d", lines, 101*2)
	}
	if allocs != 0 {
		t.Fatalf("%.1f allocations a burst, want 0", allocs)
	}
}
