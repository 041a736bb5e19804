package main

import (
	"context"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines collects JSON events written by a command.
type lines struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  strings.Builder
	evs  []map[string]any
}

func newLines() *lines {
	l := &lines{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	s := l.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		var ev map[string]any
		if json.Unmarshal([]byte(s[:i]), &ev) == nil {
			l.evs = append(l.evs, ev)
		}
		s = s[i+1:]
	}
	l.buf.Reset()
	l.buf.WriteString(s)
	l.cond.Broadcast()
	return len(p), nil
}

func (l *lines) wait(t *testing.T, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	stop := time.AfterFunc(20*time.Second, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer stop.Stop()
	deadline := time.Now().Add(20 * time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for _, ev := range l.evs {
			if ev["event"] == name && (match == nil || match(ev)) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q event; got %v", name, l.evs)
		}
		l.cond.Wait()
	}
}

func startNode(t *testing.T, args ...string) (*lines, func() int) {
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"node", "--json"}, args...), out, io.Discard) }()
	var once sync.Once
	code := 0
	stop := func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return out, stop
}
