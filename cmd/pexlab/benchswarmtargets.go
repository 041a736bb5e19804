// The targets of pexlab bench swarm: starting libtorrent and pex, and stopping them.

package main

import (
	"context"
	_ "embed"
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seed0021ed4d/pex/bt/metainfo"
	"github.com/seed0021ed4d/pex/lab/proc"
)

//go:embed lt_bench.py
var ltBenchScript []byte

// startTargets starts libtorrent (unless --no-libtorrent), which makes
// the torrent, then pex, which joins its infohash; stopTargets stops
// those that started, whichever failed.
func (b *benchSwarm) startTargets(ctx context.Context, dir string) error {
	if err := b.startLibtorrent(ctx, dir); err != nil {
		return err
	}
	return b.startPex(ctx)
}

// startLibtorrent starts lt_bench.py, a python3-libtorrent seed of a
// torrent of its own, and takes its infohash.
func (b *benchSwarm) startLibtorrent(ctx context.Context, dir string) error {
	if b.o.noLT {
		copy(b.ih[:], "pexlab bench swarm ....")
		return nil
	}
	script := filepath.Join(dir, "lt_bench.py")
	if err := os.WriteFile(script, ltBenchScript, 0o644); err != nil {
		return err
	}
	lt, err := startBenchTarget(ctx, "libtorrent", exec.CommandContext(ctx, "/usr/bin/python3", script, "--listen", "127.0.0.1:0",
		"--dir", dir, "--peers", strconv.Itoa(b.o.peers)), "ready")
	if err != nil {
		return fmt.Errorf("libtorrent: %w", err)
	}
	b.lt = lt
	if b.ih, err = metainfo.ParseInfoHash(lt.ready["infohash"].(string)); err != nil {
		return err
	}
	lt.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lt.ready["port"].(float64)))
	return nil
}

// startPex starts `pex bt swarm` on the infohash, alone in its swarm.
func (b *benchSwarm) startPex(ctx context.Context) error {
	pexArgs := []string{"bt", "swarm", "--infohash", hex.EncodeToString(b.ih[:]),
		"--listen", "127.0.0.1:0", "--max-peers", strconv.Itoa(b.o.peers + 100), "--no-dht", "--no-portmap", "--no-trackers", "--json"}
	if b.o.pexMetrics != "" {
		pexArgs = append(pexArgs, "--metrics", b.o.pexMetrics)
	}
	px, err := startBenchTarget(ctx, "pex", exec.CommandContext(ctx, b.o.pexBin, pexArgs...), "listening")
	if err != nil {
		return fmt.Errorf("pex: %w", err)
	}
	b.px = px
	px.addr = netip.MustParseAddrPort(px.ready["addr"].(string))
	return nil
}

// targets are the targets in the order they are measured: pex first.
func (b *benchSwarm) targets() []*benchTarget {
	targets := []*benchTarget{b.px}
	if b.lt != nil {
		targets = append(targets, b.lt)
	}
	return targets
}

// stopTargets stops the targets that started, pex first.
func (b *benchSwarm) stopTargets() {
	if b.px != nil {
		b.px.stop()
	}
	if b.lt != nil {
		b.lt.stop()
	}
}

// benchTarget is a process whose peers the bench fakes.
type benchTarget struct {
	name      string
	cmd       *exec.Cmd
	ready     map[string]any
	addr      netip.AddrPort
	memBefore proc.Memory
	fakes     *fakePeers
	done      chan struct{}
	last      atomic.Value // its last status event (libtorrent's say why peers left)
}

// startBenchTarget starts cmd and waits for its event ready; its later
// output is read and dropped.
func startBenchTarget(ctx context.Context, name string, cmd *exec.Cmd, ready string) (*benchTarget, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &benchTarget{name: name, cmd: cmd, done: make(chan struct{})}
	events := jsonLines(out)
	var ev map[string]any
	for ev == nil || ev["transport"] != nil { // pex's --metrics listens too
		if ev, err = waitFor(events, ready, 60*time.Second); err != nil {
			t.stop()
			return nil, err
		}
	}
	t.ready = ev
	go func() {
		defer close(t.done)
		for ev := range events {
			if ev["event"] == "status" {
				t.last.Store(ev)
			}
		}
	}()
	return t, nil
}

func (t *benchTarget) stop() {
	t.cmd.Process.Signal(os.Interrupt)
	tm := time.AfterFunc(10*time.Second, func() { t.cmd.Process.Kill() })
	t.cmd.Wait()
	tm.Stop()
}

// raiseFileLimit lifts this process's open-file limit to its hard limit
// (the targets inherit it): every fake peer is a socket here and one at
// the target.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	want := l
	want.Cur, want.Max = max(l.Max, 1<<17), max(l.Max, 1<<17) // raising the hard limit needs root
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
