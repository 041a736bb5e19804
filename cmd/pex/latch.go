// A latch: a flag set once, that can also be waited for in a select.

package main

import "sync"

// latch is set once and stays set; its zero value is unset.
type latch struct {
	once sync.Once
	mu   sync.Mutex
	ch   chan struct{}
}

func (l *latch) c() chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ch == nil {
		l.ch = make(chan struct{})
	}
	return l.ch
}

// set sets the latch (again is a no-op).
func (l *latch) set() { l.once.Do(func() { close(l.c()) }) }

// done is closed once the latch is set.
func (l *latch) done() <-chan struct{} { return l.c() }

// isSet reports whether the latch is set.
func (l *latch) isSet() bool {
	select {
	case <-l.c():
		return true
	default:
		return false
	}
}
