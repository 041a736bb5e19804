//go:build !race

package pxp

// Allocation counts, which the race detector's pools make random (it drops
// some of what is put in a sync.Pool): scripts/test runs them without
// -race.

import (
	"strings"
	"testing"
)

// burstAllocs reads burst with one splitter 101 times over
// (testing.AllocsPerRun's warm-up and 100 runs), and returns the
// allocations a burst took and the lengths of the lines the first read.
func burstAllocs(burst []string) (allocs float64, lens []int) {
	l := &lineSplitter{max: 64 << 10, skipBlank: true}
	r := &chunkReader{}
	lens = make([]int, 0, 16)
	first := true
	allocs = testing.AllocsPerRun(100, func() {
		r.chunks, r.next, r.idle = append(r.chunks[:0], burst...), 0, true
		for {
			line, ok, err := l.next(r)
			if err != nil {
				break
			}
			if ok && first && len(lens) < cap(lens) {
				lens = append(lens, len(line))
			}
		}
		l.release()
		first = false
	})
	return allocs, lens
}

// A burst of short lines borrows its buffer: once the pool has one,
// reading a burst allocates nothing.
func TestLineSplitterBurstAllocs(t *testing.T) {
	msg := `["getpeers","1a","net"]` + "\n"
	allocs, lens := burstAllocs([]string{msg + msg, msg[:7], msg[7:] + msg})
	if len(lens) != 4 || lens[3] != len(msg)-1 {
		t.Fatalf("the first burst gave lines of %v bytes, want 4 of %d", lens, len(msg)-1)
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
	allocs, lens := burstAllocs([]string{answer[:700], answer[700:], answer})
	if len(lens) != 2 || lens[0] != len(answer)-1 || lens[1] != len(answer)-1 {
		t.Fatalf("the first burst gave lines of %v bytes, want 2 of %d", lens, len(answer)-1)
	}
	if allocs != 0 {
		t.Fatalf("%.1f allocations a burst, want 0", allocs)
	}
}
