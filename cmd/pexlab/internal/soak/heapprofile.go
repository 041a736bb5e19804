package soak

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/google/pprof/profile"
)

// Timers are counted from the heap profile, because Go counts them
// nowhere else: runtime/metrics and the go_* metrics have no timer
// gauge. Every timer the runtime makes on the heap is allocated by one
// function, time.newTimer (runtime/time.go): time.NewTimer, AfterFunc,
// NewTicker and Tick, and through them context.WithTimeout and
// WithDeadline, http's and every library's timeouts. The heap profile's
// in-use count at that site is the timers still alive, pending or held
// by something that can still reach them, as of the last garbage
// collection but one. That count is exact only when every allocation is
// recorded, so the process runs with GODEBUG=memprofilerate=1 (the
// runtime's MemProfileRate set to 1 before main), which countTimers
// checks (the profile's period). What it does not count: a connection's read and write
// deadlines (timers inside the runtime's poll descriptor, one per open
// descriptor, which the fds metric counts) and time.Sleep's (inside the
// sleeping goroutine, which goroutines counts). The count includes the
// runtime's own per-P arrays of timers, which time.newTimer grows: a
// handful of objects.

// The profile is fetched in its binary form (gzipped protocol buffers,
// read with github.com/google/pprof/profile, Go's own parser): the
// process writes it in a fifth of the time the text form (debug=1)
// takes, each stack symbolized once rather than at every record, and it
// is a twentieth of the size (100 KB against 3.5 MB for a swarm of 48
// peers). Still, it costs the process a few hundred milliseconds, so
// timers are counted at every Config.TimersEvery-th sample only, and a
// profile that does not come in time leaves that sample without a count
// (run.go).

// memProfileEnv is what the process's GODEBUG must hold for timers to be
// counted.
const memProfileEnv = "memprofilerate=1"

// timerAllocator is the function that allocates every heap timer.
const timerAllocator = "time.newTimer"

// timers counts the live timers in the heap profile of the process.
// The profile is as of the last garbage collection but one (the runtime
// publishes an allocation's free a cycle late, so as not to count
// allocations too young to have been freed): during a run, whose
// collections come every second or so, that is recent enough. With gc,
// the profile is taken after gcCycles collections the requests ask for,
// so that it holds what the process holds now.
func (s *sampler) timers(ctx context.Context, gc bool) (int, error) {
	path := "/debug/pprof/heap"
	if gc {
		path += "?gc=1"
		for range gcCycles - 1 {
			if err := s.discard(ctx, path); err != nil {
				return 0, err
			}
		}
	}
	body, err := s.get(ctx, path)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	p, err := profile.Parse(body)
	if err != nil {
		return 0, fmt.Errorf("heap profile: %w", err)
	}
	return countTimers(p)
}

// gcCycles is how many collections the drained count of timers is taken
// after: the profile is as of the last but one, and three is what
// TestCountTimers needs to count exactly.
const gcCycles = 3

// discard fetches path and drops what it returns.
func (s *sampler) discard(ctx context.Context, path string) error {
	body, err := s.get(ctx, path)
	if err != nil {
		return err
	}
	defer body.Close()
	_, err = io.Copy(io.Discard, body)
	return err
}

// countTimers sums the in-use objects of heap profile p allocated in
// time.newTimer: the samples whose first frame (the runtime's own frames
// at the top left out by the profile's writer, inlined frames first) is
// that function. p must record every allocation: its period, the
// runtime's MemProfileRate, 1.
func countTimers(p *profile.Profile) (int, error) {
	if p.Period != 1 || p.PeriodType == nil || p.PeriodType.Type != "space" {
		return 0, fmt.Errorf("heap profile of period %d: not every allocation recorded (GODEBUG=%s unset?)", p.Period, memProfileEnv)
	}
	inuse := -1
	for i, st := range p.SampleType {
		if st.Type == "inuse_objects" {
			inuse = i
		}
	}
	if inuse < 0 {
		return 0, errors.New("heap profile: no inuse_objects")
	}
	n := int64(0)
	for _, smp := range p.Sample {
		if len(smp.Location) == 0 || len(smp.Location[0].Line) == 0 {
			continue
		}
		if f := smp.Location[0].Line[0].Function; f != nil && f.Name == timerAllocator {
			n += smp.Value[inuse]
		}
	}
	return int(n), nil
}
