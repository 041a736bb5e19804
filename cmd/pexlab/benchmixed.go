package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

// Go↔JS introductions: a pex node and a node of the pinned JS reference
// meet over WebRTC through a hub, one a requester and the other the
// answerer, in both directions. The pex side is a `pex node` process of
// the binary under test, so that a baseline binary (an older pex) can be
// timed in the same run, round for round; the hub is this process's own.
// Each round starts both ends afresh: it times a node's first
// introduction, its one-time costs included.

// mixedSetups are the two directions, named by requester then answerer.
var mixedSetups = []string{"go-js-webrtc", "js-go-webrtc"}

// jsProc starts the JS reference's node.js from dir with args, its stdin
// and its events.
func jsProc(ctx context.Context, dir string, args ...string) (*exec.Cmd, io.WriteCloser, <-chan map[string]any, error) {
	cmd := exec.CommandContext(ctx, "node", append([]string{filepath.Join(dir, "node.js"), "--network", "bench"}, args...)...)
	cmd.Dir = dir
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, nil, nil, err
	}
	return cmd, in, jsonLines(out), nil
}

// pexProc starts `bin node` on network "bench" with args, on loopback ICE
// and without direct dials (the JS reference has none).
func pexProc(ctx context.Context, bin string, args ...string) (*exec.Cmd, <-chan map[string]any, error) {
	cmd := exec.CommandContext(ctx, bin, append([]string{"node", "--network", "bench", "--ice-loopback", "--no-direct", "--json"}, args...)...)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return cmd, jsonLines(out), nil
}

// mixedHub is the in-process hub both ends join.
type mixedHub struct {
	ex *pxp.Exchange
	ln net.Listener
}

func newMixedHub() (*mixedHub, error) {
	ex, ln, err := benchNode("webrtc", true)
	if err != nil {
		return nil, err
	}
	return &mixedHub{ex: ex, ln: ln}, nil
}

func (h *mixedHub) addr() string { return h.ln.Addr().String() }

func (h *mixedHub) close() { h.ln.Close(); h.ex.Close() }

// idle waits until the hub has seen the last round's links go.
func (h *mixedHub) idle() error {
	for range 200 {
		if h.ex.Stats().Peers == 0 {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the hub still holds links from the last round after 10 s")
}

// mixedRound times one introduction in direction setup with the pex
// binary bin, in milliseconds as the requester measured it.
func mixedRound(ctx context.Context, h *mixedHub, bin, jsDir, setup string) (ms float64, err error) {
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
		if e := h.idle(); err == nil {
			err = e
		}
	}()
	switch setup {
	case "go-js-webrtc":
		js, _, jev, err := jsProc(ctx, jsDir, "--connect", h.addr())
		if err != nil {
			return 0, err
		}
		procs = append(procs, js)
		if _, err := waitFor(jev, "connect", 10*time.Second); err != nil {
			return 0, fmt.Errorf("js answerer: %w", err)
		}
		g, gev, err := pexProc(ctx, bin, "--connect", h.addr(), "--want", "2")
		if err != nil {
			return 0, err
		}
		procs = append(procs, g)
		ev, err := waitFor(gev, "getnewpeer", 30*time.Second)
		if err != nil {
			return 0, fmt.Errorf("pex requester: %w", err)
		}
		if ev["transport"] != "webrtc" {
			return 0, fmt.Errorf("pex requester: introduced over %v, not webrtc", ev["transport"])
		}
		ms, _ = ev["ms"].(float64)
	case "js-go-webrtc":
		g, gev, err := pexProc(ctx, bin, "--connect", h.addr())
		if err != nil {
			return 0, err
		}
		procs = append(procs, g)
		if _, err := waitFor(gev, "connect", 10*time.Second); err != nil {
			return 0, fmt.Errorf("pex answerer: %w", err)
		}
		js, in, jev, err := jsProc(ctx, jsDir, "--connect", h.addr())
		if err != nil {
			return 0, err
		}
		procs = append(procs, js)
		if _, err := waitFor(jev, "connect", 10*time.Second); err != nil {
			return 0, fmt.Errorf("js requester: %w", err)
		}
		io.WriteString(in, "getnewpeer\n")
		ev, err := waitFor(jev, "getnewpeer", 30*time.Second)
		if err != nil {
			return 0, fmt.Errorf("js requester: %w", err)
		}
		if ev["ok"] != true {
			return 0, fmt.Errorf("js requester: getNewPeer: %v", ev["error"])
		}
		ms, _ = ev["ms"].(float64)
	default:
		return 0, fmt.Errorf("unknown setup %q", setup)
	}
	return ms, nil
}

// benchMixed times n introductions in each direction with bin and, when
// baseline is set, with baseline too, alternating round by round so that
// both see the same machine. The result maps a setup (with "-baseline"
// for the baseline's) to its times.
func benchMixed(ctx context.Context, bin, baseline, jsDir string, n int) (map[string][]float64, error) {
	jsDir, err := jsInstalled(jsDir)
	if err != nil {
		return nil, err
	}
	h, err := newMixedHub()
	if err != nil {
		return nil, err
	}
	defer h.close()
	type run struct{ name, bin string }
	runs := []run{{"", bin}}
	if baseline != "" {
		runs = append(runs, run{"-baseline", baseline})
	}
	out := map[string][]float64{}
	for i := range n {
		for _, setup := range mixedSetups {
			for k := range runs {
				r := runs[(i+k)%len(runs)] // alternate which binary goes first
				ms, err := mixedRound(ctx, h, r.bin, jsDir, setup)
				if err != nil {
					return nil, fmt.Errorf("%s%s: %w", setup, r.name, err)
				}
				out[setup+r.name] = append(out[setup+r.name], ms)
			}
		}
	}
	return out, nil
}
