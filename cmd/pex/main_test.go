package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

func TestMain(m *testing.M) {
	// Every event the tests make the command print is held to the
	// output conventions (docs/pex.md, "Output conventions").
	fc := cli.NewFieldChecker()
	cli.CheckFields = fc.Check
	goleak.VerifyTestMain(fieldsChecked{m, fc})
}

// fieldsChecked fails a run whose events broke the output conventions.
type fieldsChecked struct {
	m  *testing.M
	fc *cli.FieldChecker
}

func (f fieldsChecked) Run() int {
	code := f.m.Run()
	if len(f.fc.Problems) > 0 {
		fmt.Fprintf(os.Stderr, "events that break the output conventions (docs/pex.md, \"Output conventions\"):\n  %s\n", strings.Join(f.fc.Problems, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	return code
}

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
	var found map[string]any
	if !l.waitUntil(20*time.Second, func() bool {
		for _, ev := range l.evs {
			if ev["event"] == name && (match == nil || match(ev)) {
				found = ev
				return true
			}
		}
		return false
	}) {
		t.Fatalf("no %q event; got %v", name, l.evs)
	}
	return found
}

// waitUntil waits, at most limit, for cond (called with l.mu held) to hold,
// and reports whether it did.
func (l *lines) waitUntil(limit time.Duration, cond func() bool) bool {
	stop := time.AfterFunc(limit, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer stop.Stop()
	deadline := time.Now().Add(limit)
	l.mu.Lock()
	defer l.mu.Unlock()
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		l.cond.Wait()
	}
	return true
}

// count returns how many events named name there have been.
func (l *lines) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.countLocked(name)
}

func (l *lines) countLocked(name string) int {
	n := 0
	for _, ev := range l.evs {
		if ev["event"] == name {
			n++
		}
	}
	return n
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
