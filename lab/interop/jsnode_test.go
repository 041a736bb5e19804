package interop

import (
	"bufio"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const network = "pxp-mesh"

// requireJS skips (or, under CI=true, fails) when the JS reference is missing.
func requireJS(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "testdata", "js")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "peer-exchange", "package.json")); err != nil {
		missing = "the JS reference is not installed (npm ci in testdata/js)"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@roamhq", "wrtc", "package.json")); err != nil {
		missing = "@roamhq/wrtc is not installed (npm ci in testdata/js)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("interop: %s", missing)
		}
		t.Skipf("interop: %s", missing)
	}
	return dir
}

type event map[string]any

func (e event) str(k string) string { s, _ := e[k].(string); return s }

// jsNode is a running testdata/js/node.js process.
type jsNode struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	events []event
	cond   *sync.Cond
	stderr bytesBuffer // written by os/exec while tests may read it
	done   chan struct{}
}

func startJS(t *testing.T, name string, args ...string) *jsNode {
	t.Helper()
	dir := requireJS(t)
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "node.js"), "--network", network}, args...)...)
	cmd.Dir = dir
	j := &jsNode{t: t, name: name, cmd: cmd, done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	cmd.Stderr = &j.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if j.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(j.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev event
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			j.mu.Lock()
			j.events = append(j.events, ev)
			j.cond.Broadcast()
			j.mu.Unlock()
		}
		j.mu.Lock()
		j.cond.Broadcast()
		j.mu.Unlock()
	}()
	t.Cleanup(j.stop)
	return j
}

func (j *jsNode) send(line string) {
	if _, err := io.WriteString(j.stdin, line+"\n"); err != nil {
		j.t.Fatalf("%s: stdin: %v", j.name, err)
	}
}

// wait returns the first event called name (from index 0) that matches.
func (j *jsNode) wait(name string, match func(event) bool) event {
	j.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	timer := time.AfterFunc(20*time.Second, func() { j.mu.Lock(); j.cond.Broadcast(); j.mu.Unlock() })
	defer timer.Stop()
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		for _, ev := range j.events {
			if ev.str("event") == name && (match == nil || match(ev)) {
				return ev
			}
		}
		select {
		case <-j.done:
			j.t.Fatalf("%s exited before %q; events %v; stderr %s", j.name, name, j.events, j.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("%s: no %q event in 20 s; events %v; stderr %s", j.name, name, j.events, j.stderr.String())
		}
		j.cond.Wait()
	}
}

func (j *jsNode) count(name string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, ev := range j.events {
		if ev.str("event") == name {
			n++
		}
	}
	return n
}

func (j *jsNode) has(name string, match func(event) bool) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ev := range j.events {
		if ev.str("event") == name && (match == nil || match(ev)) {
			return true
		}
	}
	return false
}

func (j *jsNode) stop() {
	j.stdin.Close()
	select {
	case <-j.done:
	case <-time.After(5 * time.Second):
		j.cmd.Process.Kill()
		<-j.done
	}
	j.cmd.Wait()
	if j.t.Failed() {
		j.t.Logf("%s events: %v\nstderr: %s", j.name, j.events, j.stderr.String())
	}
}

func (j *jsNode) port() int {
	ev := j.wait("listening", nil)
	return int(ev["port"].(float64))
}

func lineIs(s string) func(event) bool { return func(e event) bool { return e.str("line") == s } }
