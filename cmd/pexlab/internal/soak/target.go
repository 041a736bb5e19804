package soak

import (
	"crypto/sha1"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// target is the process under test: pex node or pex bt swarm, with
// --metrics, run with every allocation recorded (heapprofile.go).
type target struct {
	p     *proc.Proc
	links string // the metric of its links
}

// targetEvents is how many of the process's last events are kept (for
// the report of a failed run).
const targetEvents = 2000

// startTarget starts cfg.Pex for cfg.Engine and waits until it listens on
// every transport it was given; dir holds its files (the torrent).
func startTarget(cfg *Config, dir string) (*target, [20]byte, error) {
	var args []string
	var want []string
	var ih [20]byte
	links := "pex_pxp_links"
	members := cfg.Nodes + cfg.Clients + cfg.Misbehaving
	switch cfg.Engine {
	case EnginePXP:
		args = []string{"node", "--network", pxpNetwork, "--listen", "127.0.0.1:0", "--ws", "127.0.0.1:0", "--http", "127.0.0.1:0",
			"--no-portmap", "--hello", "soak", "--echo",
			"--max-peers", strconv.Itoa(2*members + 32), "--max-relays", strconv.Itoa(4*members + 32)}
		want = []string{"tcp", "ws", "http", "metrics"}
	case EngineBT:
		var torrent string
		var err error
		if torrent, ih, err = writeTorrent(dir); err != nil {
			return nil, ih, err
		}
		args = []string{"bt", "swarm", "--torrent", torrent, "--listen", "127.0.0.1:0", "--no-dht", "--no-portmap", "--no-trackers",
			"--max-peers", strconv.Itoa(2*members + 32)}
		want = []string{"tcp", "metrics"}
		links = "pex_bt_connections"
	}
	args = append(args, "--metrics", "127.0.0.1:0", "--json", "--quiet")
	cmd := exec.Command(cfg.Pex, args...)
	godebug := memProfileEnv
	if g := os.Getenv("GODEBUG"); g != "" {
		godebug = g + "," + memProfileEnv
	}
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	p, err := proc.Start(cmd, proc.Name("pex "+cfg.Engine), proc.MaxEvents(targetEvents), proc.Grace(15*time.Second))
	if err != nil {
		return nil, ih, err
	}
	ok := p.Until(30*time.Second, func() bool {
		for _, tr := range want {
			if p.Addr(tr) == "" {
				return false
			}
		}
		return true
	})
	if !ok {
		p.Stop()
		return nil, ih, fmt.Errorf("%s did not listen on %s within 30 s:\n%s", strings.Join(cmd.Args, " "), strings.Join(want, ", "), p.Report(20))
	}
	return &target{p: p, links: links}, ih, nil
}

// writeTorrent writes a single-file torrent of 1 MiB (its pieces made
// up: the swarm moves none) to dir, and returns its path and infohash.
func writeTorrent(dir string) (string, [20]byte, error) {
	var ih [20]byte
	const size, piece = 1 << 20, 256 << 10
	pieces := make([]byte, size/piece*sha1.Size)
	for i := range pieces {
		pieces[i] = byte(i * 7)
	}
	info := map[string]any{"name": "soak.bin", "length": int64(size), "piece length": int64(piece), "pieces": string(pieces)}
	ib, err := bencode.Encode(info)
	if err != nil {
		return "", ih, err
	}
	ih = sha1.Sum(ib)
	tb, err := bencode.Encode(map[string]any{"info": info, "created by": "pexlab soak"})
	if err != nil {
		return "", ih, err
	}
	path := filepath.Join(dir, "soak.torrent")
	return path, ih, os.WriteFile(path, tb, 0o644)
}
