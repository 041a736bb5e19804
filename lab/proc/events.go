package proc

// Reading a process's events and waiting for one.

import (
	"strings"
	"testing"
	"time"
)

// Events returns the events kept (see MaxEvents), oldest first.
func (p *Proc) Events() []Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	var evs []Event
	for i := p.first(); i < p.seen; i++ {
		evs = append(evs, p.at(i))
	}
	return evs
}

// first is the index of the oldest event kept.
func (p *Proc) first() int { return max(0, p.seen-p.cfg.maxEvents) }

// at is event i (first() <= i < seen).
func (p *Proc) at(i int) Event { return p.ring[i%p.cfg.maxEvents] }

func matches(ev Event, name string, match func(Event) bool) bool {
	return ev["event"] == name && (match == nil || match(ev))
}

// Count counts the events kept named name that match (nil: all).
func (p *Proc) Count(name string, match func(Event) bool) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for i := p.first(); i < p.seen; i++ {
		if matches(p.at(i), name, match) {
			n++
		}
	}
	return n
}

// Last returns the last event named name, or nil.
func (p *Proc) Last(name string) Event {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := p.seen - 1; i >= p.first(); i-- {
		if ev := p.at(i); ev["event"] == name {
			return ev
		}
	}
	return nil
}

// Addr is the address of the last "listening" event for transport ("tcp"
// when the event names none), or "".
func (p *Proc) Addr(transport string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[transport]
}

// Wait returns the first event kept named name that matches (nil: any),
// waiting at most limit for it; nil when none came, or the process ended
// without it.
func (p *Proc) Wait(name string, limit time.Duration, match func(Event) bool) Event {
	var found Event
	next := 0
	p.waitLocked(limit, func() bool {
		for i := max(next, p.first()); i < p.seen; i++ {
			if ev := p.at(i); matches(ev, name, match) {
				found = ev
				return true
			}
		}
		next = p.seen // match is a function of the event: no need to look again
		return false
	})
	return found
}

// WaitCount reports whether there have been n events named name among
// those kept, waiting at most limit for them.
func (p *Proc) WaitCount(name string, n int, limit time.Duration) bool {
	return p.waitLocked(limit, func() bool {
		c := 0
		for i := p.first(); i < p.seen && c < n; i++ {
			if p.at(i)["event"] == name {
				c++
			}
		}
		return c >= n
	})
}

// Until waits, at most limit, until cond holds, and reports whether it
// did. It calls cond (which may call p's methods) at once, and again after
// every line the process prints (on stdout or stderr); it gives up early
// when the process ends.
func (p *Proc) Until(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	wake := time.AfterFunc(limit, p.broadcast)
	defer wake.Stop()
	for {
		p.mu.Lock()
		seq, ended := p.seq, p.ended
		p.mu.Unlock()
		if cond() {
			return true
		}
		if ended || !time.Now().Before(end) {
			return false
		}
		p.mu.Lock()
		for p.seq == seq && time.Now().Before(end) {
			p.cond.Wait()
		}
		p.mu.Unlock()
	}
}

// waitLocked is Until with cond called with p.mu held.
func (p *Proc) waitLocked(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	wake := time.AfterFunc(limit, p.broadcast)
	defer wake.Stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if cond() {
			return true
		}
		if p.ended || !time.Now().Before(end) {
			return false
		}
		p.cond.Wait()
	}
}

func (p *Proc) broadcast() {
	p.mu.Lock()
	p.cond.Broadcast()
	p.mu.Unlock()
}

// WaitFor polls ok, every 200 ms for at most limit, and fails t when it
// does not hold by then, with what and the details detail returns. It is
// for conditions no process event announces (an in-process swarm's
// events, a port that accepts connections); wait for a process's events
// with Proc.Wait.
func WaitFor(t testing.TB, limit time.Duration, what string, ok func() bool, detail ...func() string) {
	t.Helper()
	for end := time.Now().Add(limit); !ok(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			var more []string
			for _, d := range detail {
				more = append(more, d())
			}
			t.Fatalf("timed out after %v: %s\n%s", limit, what, strings.Join(more, "\n"))
		}
	}
}
