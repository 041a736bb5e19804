package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/seed0021ed4d/pex/lab/proc"
)

// goNodeMem starts `pex node` as an answerer, introduces one WebRTC peer to
// it, and returns its memory once it holds the link.
func goNodeMem(ctx context.Context, self string) (proc.Memory, error) {
	h, err := newMixedHub()
	if err != nil {
		return proc.Memory{}, err
	}
	defer h.close()
	cmd, events, err := pexProc(ctx, self, "--connect", h.addr())
	if err != nil {
		return proc.Memory{}, err
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	if _, err := waitFor(events, "connect", 10*time.Second); err != nil {
		return proc.Memory{}, err
	}
	b, _, err := benchNode("webrtc", false)
	if err != nil {
		return proc.Memory{}, err
	}
	defer b.Close()
	conn, err := net.Dial("tcp", h.addr())
	if err != nil {
		return proc.Memory{}, err
	}
	if _, err := b.Connect(ctx, conn); err != nil {
		return proc.Memory{}, err
	}
	gctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if c, err := b.GetNewPeer(gctx); err != nil || c.Transport() != "webrtc" {
		return proc.Memory{}, fmt.Errorf("introduction: %v", err)
	}
	if _, err := waitFor(events, "connect", 10*time.Second); err != nil {
		return proc.Memory{}, err
	}
	time.Sleep(500 * time.Millisecond)
	return proc.ReadMemory(cmd.Process.Pid)
}

// benchJS times n getNewPeer calls between JS nodes and measures the
// memory of the JS answerer once it holds a WebRTC link.
func benchJS(ctx context.Context, dir string, n int) ([]float64, proc.Memory, error) {
	dir, err := jsInstalled(dir)
	if err != nil {
		return nil, proc.Memory{}, err
	}
	var cmds []*exec.Cmd
	var ins []io.WriteCloser
	defer func() {
		for i, c := range cmds {
			ins[i].Close()
			c.Process.Kill()
			c.Wait()
		}
	}()
	hub, hin, hev, err := jsProc(ctx, dir, "--listen", "0")
	if err != nil {
		return nil, proc.Memory{}, err
	}
	cmds, ins = append(cmds, hub), append(ins, hin)
	ev, err := waitFor(hev, "listening", 10*time.Second)
	if err != nil {
		return nil, proc.Memory{}, err
	}
	addr := "127.0.0.1:" + strconv.Itoa(int(ev["port"].(float64)))
	// The reference's relay drops its link to the answerer after each
	// introduction (defect B1), so every round uses a fresh answerer and
	// requester with the same hub.
	var ms []float64
	var rss proc.Memory
	for i := 0; i < n; i++ {
		c, cin, cev, err := jsProc(ctx, dir, "--connect", addr)
		if err != nil {
			return nil, proc.Memory{}, err
		}
		if _, err := waitFor(cev, "connect", 10*time.Second); err != nil {
			return nil, proc.Memory{}, err
		}
		b, bin, bev, err := jsProc(ctx, dir, "--connect", addr)
		if err != nil {
			return nil, proc.Memory{}, err
		}
		if _, err := waitFor(bev, "connect", 10*time.Second); err != nil {
			return nil, proc.Memory{}, err
		}
		io.WriteString(bin, "getnewpeer\n")
		ev, err := waitFor(bev, "getnewpeer", 30*time.Second)
		if err != nil {
			return nil, proc.Memory{}, err
		}
		if ev["ok"] != true {
			return nil, proc.Memory{}, fmt.Errorf("getNewPeer: %v", ev["error"])
		}
		ms = append(ms, ev["ms"].(float64))
		if i == 0 {
			if _, err := waitFor(cev, "connect", 10*time.Second); err != nil {
				return nil, proc.Memory{}, err
			}
			time.Sleep(500 * time.Millisecond)
			if rss, err = proc.ReadMemory(c.Process.Pid); err != nil {
				return nil, proc.Memory{}, err
			}
		}
		for _, p := range []struct {
			cmd *exec.Cmd
			in  io.WriteCloser
		}{{b, bin}, {c, cin}} {
			p.in.Close()
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
		// Let the hub see both links go.
		for k := 0; k < 2; k++ {
			if _, err := waitFor(hev, "disconnect", 10*time.Second); err != nil {
				return nil, proc.Memory{}, err
			}
		}
	}
	return ms, rss, nil
}

// jsInstalled returns dir made absolute, or an error when the JS
// reference is not installed there.
func jsInstalled(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "peer-exchange")); err != nil {
		return "", fmt.Errorf("the JS reference is not installed in %s (npm ci there): %w", dir, err)
	}
	return dir, nil
}

// jsonLines decodes JSON lines from r onto a channel.
func jsonLines(r io.Reader) <-chan map[string]any {
	ch := make(chan map[string]any, 64)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var m map[string]any
			if json.Unmarshal(sc.Bytes(), &m) == nil {
				ch <- m
			}
		}
	}()
	return ch
}

func waitFor(ch <-chan map[string]any, name string, d time.Duration) (map[string]any, error) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case m, ok := <-ch:
			if !ok {
				return nil, fmt.Errorf("process ended before %q", name)
			}
			if m["event"] == name {
				return m, nil
			}
		case <-t.C:
			return nil, fmt.Errorf("no %q event in %v", name, d)
		}
	}
}
