package nat

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	rootproc "github.com/seed0021ed4d/pex/lab/proc"

	"github.com/seed0021ed4d/pex/lab/natlab"
)

// proc is a process in a lab host that prints one JSON event a line (pex
// with --json, or the JS reference's driver), its events collected.
type proc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser // the driver's commands (JS), or nil
	stop   func()         // ends it: SIGINT, then a kill after 5 s
	closed chan struct{}  // closed when its output has been read to the end
	mu     sync.Mutex
	cond   *sync.Cond
	events []map[string]any
	done   bool
}

// start runs pex with args and --json in host h until the test ends.
func start(t *testing.T, h *natlab.Host, args ...string) *proc {
	t.Helper()
	p, err := startProc(h, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// startProc runs pex with args and --json in host h until p.stop.
// PEX_NAT_DEBUG names a directory for each process's debug log and events.
func startProc(h *natlab.Host, args ...string) (*proc, error) {
	ctx, cancel := context.WithCancel(context.Background())
	cmd := h.Command(ctx, pexBin, append(args, "--json")...)
	var events io.WriteCloser
	if dir := os.Getenv("PEX_NAT_DEBUG"); dir != "" {
		cmd.Env = append(os.Environ(), "PEX_DEBUG=1", "PEX_DEBUG_PION=ice")
		name := filepath.Join(dir, fmt.Sprintf("%s-%d", h.NS, time.Now().UnixNano()))
		if f, err := os.Create(name + ".log"); err == nil {
			cmd.Stderr = f
			defer f.Close() // the process has its own copy
		}
		if f, err := os.Create(name + ".events"); err == nil {
			events = f
		}
	}
	return launch(cmd, cancel, false, events)
}

// jsScript is the JS reference's driver; the test is skipped (or fails,
// under CI=true) when Node or the pinned packages are missing.
func jsScript(t *testing.T) string {
	dir := filepath.Join(rootproc.Root(), "testdata", "js")
	_, errNode := exec.LookPath("node")
	_, errMod := os.Stat(filepath.Join(dir, "node_modules", "peer-exchange"))
	if errNode != nil || errMod != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the JS reference is not installed (node, and npm ci in testdata/js)")
		}
		t.Skip("the JS reference is not installed (node, and npm ci in testdata/js)")
	}
	return filepath.Join(dir, "node.js")
}

// startJS runs the JS reference's driver (testdata/js/node.js) in host h
// until the test ends; its stdin takes commands ("getnewpeer").
func startJS(t *testing.T, h *natlab.Host, script string, args ...string) *proc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := h.Command(ctx, "node", append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(script)
	p, err := launch(cmd, cancel, true, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	return p
}

// launch starts cmd and collects the JSON events it prints; events, when
// set, gets every line too and is closed at the end. cancel kills it.
func launch(cmd *exec.Cmd, cancel context.CancelFunc, stdin bool, events io.WriteCloser) (*proc, error) {
	p := &proc{cmd: cmd, closed: make(chan struct{})}
	p.cond = sync.NewCond(&p.mu)
	out, err := cmd.StdoutPipe()
	if err == nil && stdin {
		p.stdin, err = cmd.StdinPipe() // open until the process ends: the JS driver quits when it closes
	}
	if err == nil {
		err = cmd.Start()
	}
	if err != nil {
		cancel()
		if events != nil {
			events.Close()
		}
		return nil, err
	}
	go func() {
		defer close(p.closed)
		if events != nil {
			defer events.Close()
		}
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if events != nil {
				fmt.Fprintln(events, sc.Text())
			}
			var ev map[string]any
			if json.Unmarshal(sc.Bytes(), &ev) == nil {
				p.mu.Lock()
				p.events = append(p.events, ev)
				p.cond.Broadcast()
				p.mu.Unlock()
			}
		}
		p.mu.Lock()
		p.done = true
		p.cond.Broadcast()
		p.mu.Unlock()
	}()
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			cmd.Process.Signal(os.Interrupt) // the process we started, by its id
			t := time.AfterFunc(5*time.Second, cancel)
			<-p.closed
			cmd.Wait()
			t.Stop()
			cancel()
		})
	}
	return p, nil
}

// wait returns the first event named name (matching match) within limit,
// or nil.
func (p *proc) wait(name string, limit time.Duration, match func(map[string]any) bool) map[string]any {
	var found map[string]any
	p.waitUntil(limit, func() bool {
		for _, ev := range p.events {
			if ev["event"] == name && (match == nil || match(ev)) {
				found = ev
				return true
			}
		}
		return false
	})
	return found
}

// waitCount reports whether there have been n events named name, waiting
// at most limit for them.
func (p *proc) waitCount(name string, n int, limit time.Duration) bool {
	return p.waitUntil(limit, func() bool { return p.countLocked(name) >= n })
}

// waitUntil waits, at most limit, for cond (called with p.mu held) to
// hold, and reports whether it did.
func (p *proc) waitUntil(limit time.Duration, cond func() bool) bool {
	wake := time.AfterFunc(limit, func() { p.mu.Lock(); p.cond.Broadcast(); p.mu.Unlock() })
	defer wake.Stop()
	end := time.Now().Add(limit)
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		if cond() {
			return true
		}
		if p.done || time.Now().After(end) {
			return false
		}
		p.cond.Wait()
	}
}

// count returns how many events named name there have been.
func (p *proc) count(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.countLocked(name)
}

func (p *proc) countLocked(name string) int {
	n := 0
	for _, ev := range p.events {
		if ev["event"] == name {
			n++
		}
	}
	return n
}

// last returns the last event named name, or nil.
func (p *proc) last(name string) map[string]any {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := len(p.events) - 1; i >= 0; i-- {
		if p.events[i]["event"] == name {
			return p.events[i]
		}
	}
	return nil
}
