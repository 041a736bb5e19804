package nat

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// The processes of the lab hosts print one JSON event a line (pex with
// --json, or the JS reference's driver); lab/proc collects them.

// start runs pex with args and --json in host h until the test ends; a
// failed test shows its log and last events.
func start(t *testing.T, h *natlab.Host, args ...string) *proc.Proc {
	t.Helper()
	cmd, opts, started := pexCommand(h, args)
	defer started()
	return proc.StartT(t, cmd, opts...)
}

// startProc runs pex with args and --json in host h until its Stop.
func startProc(h *natlab.Host, args ...string) (*proc.Proc, error) {
	cmd, opts, started := pexCommand(h, args)
	defer started()
	return proc.Start(cmd, opts...)
}

// pexCommand is pex with args and --json in host h. PEX_NAT_DEBUG names a
// directory for each process's debug log (its stderr) and events; the
// caller calls started once the process has started (it has its own copy
// of the log file then).
func pexCommand(h *natlab.Host, args []string) (*exec.Cmd, []proc.Option, func()) {
	started := func() {}
	cmd := h.Command(context.Background(), pexBin, append(args, "--json")...)
	opts := []proc.Option{proc.Name(h.NS + ": pex " + args[0])}
	if dir := os.Getenv("PEX_NAT_DEBUG"); dir != "" {
		cmd.Env = append(os.Environ(), "PEX_DEBUG=1", "PEX_DEBUG_PION=ice")
		name := filepath.Join(dir, fmt.Sprintf("%s-%d", h.NS, time.Now().UnixNano()))
		if f, err := os.Create(name + ".log"); err == nil {
			cmd.Stderr = f
			started = func() { f.Close() }
		}
		if f, err := os.Create(name + ".events"); err == nil {
			opts = append(opts, proc.Tee(f))
		}
	}
	return cmd, opts, started
}

// jsScript is the JS reference's driver; the test is skipped (or fails,
// under CI=true) when Node or the pinned packages are missing.
func jsScript(t *testing.T) string {
	dir := filepath.Join(proc.Root(), "testdata", "js")
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
// until the test ends; it takes commands ("getnewpeer") by Send.
func startJS(t *testing.T, h *natlab.Host, script string, args ...string) *proc.Proc {
	t.Helper()
	cmd := h.Command(context.Background(), "node", append([]string{script}, args...)...)
	cmd.Dir = filepath.Dir(script)
	return proc.StartT(t, cmd, proc.Stdin(), proc.Name(h.NS+": node.js"))
}
