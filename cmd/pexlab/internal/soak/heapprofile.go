package soak

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Timers are counted from the heap profile, because Go counts them
// nowhere else: runtime/metrics and the go_* metrics have no timer
// gauge. Every timer the runtime makes on the heap is allocated by one
// function, time.newTimer (runtime/time.go): time.NewTimer, AfterFunc,
// NewTicker and Tick, and through them context.WithTimeout and
// WithDeadline, http's and every library's timeouts. The heap profile's
// in-use count at that site is the timers still alive, pending or held
// by something that can still reach them, as of the last garbage
// collection. That count is exact only when every allocation is
// recorded, so the process runs with GODEBUG=memprofilerate=1 (the
// runtime's MemProfileRate set to 1 before main), which heapRateHeader
// checks. What it does not count: a connection's read and write
// deadlines (timers inside the runtime's poll descriptor, one per open
// descriptor, which the fds metric counts) and time.Sleep's (inside the
// sleeping goroutine, which goroutines counts). The count includes the
// runtime's own per-P arrays of timers, which time.newTimer grows: a
// handful of objects.

// memProfileEnv is what the process's GODEBUG must hold for timers to be
// counted.
const memProfileEnv = "memprofilerate=1"

// heapRateHeader ends the profile's first line when MemProfileRate is 1
// (the profile says 2*MemProfileRate, after early versions of the C++
// heap profiler).
const heapRateHeader = "@ heap/2"

// timers counts the live timers in the heap profile of the process.
// With gc, the profile is taken after a garbage collection.
func (s *sampler) timers(gc bool) (int, error) {
	path := "/debug/pprof/heap?debug=1"
	if gc {
		path += "&gc=1"
	}
	body, err := s.get(path)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	return countTimers(body)
}

// countTimers sums the in-use objects of the heap profile (debug=1 text,
// read from r) allocated in time.newTimer: the records whose first frame
// is that function. A record is its counts and stack addresses on one
// line, then a line "#\tPC\tfunction+offset\tfile:line" a frame, the
// runtime's own frames at the top left out, then an empty line.
func countTimers(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	if !sc.Scan() {
		return 0, errors.New("heap profile: empty")
	}
	if head := sc.Text(); !strings.HasPrefix(head, "heap profile:") || !strings.HasSuffix(head, heapRateHeader) {
		return 0, fmt.Errorf("heap profile %q: not every allocation recorded (GODEBUG=%s unset?)", head, memProfileEnv)
	}
	n, inuse, first := 0, 0, false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "": // between records
		case strings.HasPrefix(line, "# runtime.MemStats"):
			return n, nil // the records end
		case line[0] != '#':
			// "inuse_objects: inuse_bytes [alloc_objects: alloc_bytes] @ pcs"
			c, _, ok := strings.Cut(line, ":")
			v, err := strconv.Atoi(c)
			if !ok || err != nil {
				return 0, fmt.Errorf("heap profile: %q", line)
			}
			inuse, first = v, true
		case first:
			// "#\t0x48da3b\ttime.newTimer+0x3b\t/usr/local/go/src/runtime/time.go:390"
			if f := strings.Fields(line); len(f) >= 3 && strings.HasPrefix(f[2], "time.newTimer+") {
				n += inuse
			}
			first = false
		}
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return n, nil
}
