package interop

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/proc"
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

// event is one JSON line of the driver's stdout.
type event = proc.Event

// jsNode is a running testdata/js/node.js process; a failed test shows its
// log (stderr) and last events.
type jsNode struct {
	*proc.Proc
	t    *testing.T
	name string
}

func startJS(t *testing.T, name string, args ...string) *jsNode {
	t.Helper()
	dir := requireJS(t)
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "node.js"), "--network", network}, args...)...)
	cmd.Dir = dir
	// Stop closes its stdin, on which the driver quits.
	return &jsNode{Proc: proc.StartT(t, cmd, proc.Stdin(), proc.Name(name)), t: t, name: name}
}

func (j *jsNode) send(line string) {
	if err := j.Send(line); err != nil {
		j.t.Fatalf("%s: stdin: %v", j.name, err)
	}
}

// wait returns the first event called name (from the first) that matches,
// and fails the test when none comes within 20 s.
func (j *jsNode) wait(name string, match func(event) bool) event {
	j.t.Helper()
	if ev := j.Wait(name, 20*time.Second, match); ev != nil {
		return ev
	}
	select {
	case <-j.Done():
		j.t.Fatalf("%s exited before %q", j.name, name)
	default:
		j.t.Fatalf("%s: no %q event in 20 s", j.name, name)
	}
	return nil
}

func (j *jsNode) port() int {
	ev := j.wait("listening", nil)
	return int(ev["port"].(float64))
}

func lineIs(s string) func(event) bool { return func(e event) bool { return e["line"] == s } }
