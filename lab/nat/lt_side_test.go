package nat

// One side of the BEP 55 scenarios with libtorrent: a pex bt swarm or a
// libtorrent 2.0.8 (testdata/bt/lt_node.py) in a lab host, the torrent
// they share, and what a side reports of its links.

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// ltTorrent writes a one-file torrent and its data (in dir/seed).
func ltTorrent(t *testing.T, dir string) string {
	t.Helper()
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i * 131)
	}
	const pieceLen = 16 << 10
	var pieces []byte
	for i := 0; i < len(data); i += pieceLen {
		h := sha1.Sum(data[i : i+pieceLen])
		pieces = append(pieces, h[:]...)
	}
	info := map[string]any{"name": "pex-punch.bin", "length": int64(len(data)), "piece length": int64(pieceLen), "pieces": string(pieces)}
	tor, err := bencode.Encode(map[string]any{"info": info})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "punch.torrent")
	os.WriteFile(path, tor, 0o644)
	os.MkdirAll(filepath.Join(dir, "seed"), 0o755)
	os.WriteFile(filepath.Join(dir, "seed", "pex-punch.bin"), data, 0o644)
	return path
}

// ltSide is one side of a pair: pex or libtorrent.
type ltSide struct {
	kind  string // "pex" or "libtorrent"
	p     *proc.Proc
	seeds bool // a libtorrent with the data
}

// startSide starts kind in h, listening on port, dialing peers; a B side
// (target) of pex runs --no-pex; a libtorrent seed has the data. kind is
// "libtorrent", or "pex" followed by flags of its own ("pex
// --no-holepunch").
func startSide(t *testing.T, h *natlab.Host, kind, torrent string, port int, seed, target bool, peers ...string) *ltSide {
	t.Helper()
	listen := fmt.Sprintf("0.0.0.0:%d", port)
	flags := strings.Fields(kind)
	if kind = flags[0]; kind == "pex" {
		args := append([]string{"bt", "swarm", "--torrent", torrent, "--listen", listen, "--no-portmap", "--duration", "4m"}, flags[1:]...)
		if target {
			args = append(args, "--no-pex")
		}
		for _, p := range peers {
			args = append(args, "--peer", p)
		}
		return &ltSide{kind: kind, p: start(t, h, args...)}
	}
	return &ltSide{kind: kind, p: startLibtorrent(t, h, torrent, port, ltOptions{seed: seed}, peers...), seeds: seed}
}

// ltOptions are a libtorrent's own: whether it seeds the torrent, and
// whether it maps its port at its router (UPnP and NAT-PMP: only behind
// a lab router, which answers them).
type ltOptions struct {
	seed, portmap bool
}

// startLibtorrent runs lt_node.py in h on port (both families on a
// dual-stack host) with uTP, dialing peers, and waits until it listens
// and has checked its files.
func startLibtorrent(t *testing.T, h *natlab.Host, torrent string, port int, o ltOptions, peers ...string) *proc.Proc {
	t.Helper()
	listen := fmt.Sprintf("0.0.0.0:%d", port)
	if h.Addr6.IsValid() { // a dual-stack host: libtorrent dials only families it listens on
		listen += fmt.Sprintf(",[::]:%d", port)
	}
	save := t.TempDir()
	if o.seed {
		save = filepath.Join(filepath.Dir(torrent), "seed")
	}
	args := []string{filepath.Join(proc.Root(), "testdata", "bt", "lt_node.py"), "--torrent", torrent, "--save", save,
		"--listen", listen, "--utp", "--duration", "240", "--log-holepunch", "--connect-timeout", "5",
		// A --peer that failed once (a relay not yet answering uTP, on a
		// busy machine) is tried again in seconds, not libtorrent's 60.
		"--reconnect-time", "3"}
	if o.seed {
		args = append(args, "--seed")
	}
	if o.portmap {
		args = append(args, "--portmap")
	}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	p := proc.StartT(t, h.Command(context.Background(), "/usr/bin/python3", args...), proc.Name(h.NS+": libtorrent"), proc.Grace(0))
	if p.Wait("listening", 30*time.Second, nil) == nil {
		t.Fatalf("libtorrent in %s did not start", h.NS)
	}
	// A torrent still checking its files turns peers away: over uTP a
	// dial then fails (after its timeout), and the peer links over TCP,
	// which a libtorrent relay cannot find (it matches a target by its
	// link's address).
	if p.Wait("peers", 30*time.Second, func(ev proc.Event) bool { return !strings.Contains(fmt.Sprint(ev["state"]), "checking") }) == nil {
		t.Fatalf("libtorrent in %s still checking its files", h.NS)
	}
	return p
}

// ltPeersOf is a libtorrent side's last peers.
func ltPeersOf(p *proc.Proc) []ltPeerInfo {
	var last struct {
		Peers []ltPeerInfo `json:"peers"`
	}
	if ev := p.Last("peers"); ev != nil {
		b, _ := json.Marshal(ev)
		json.Unmarshal(b, &last)
	}
	return last.Peers
}

type ltPeerInfo struct {
	IP          string `json:"ip"`
	Port        int    `json:"port"`
	Source      int    `json:"source"`
	UTP         bool   `json:"utp"`
	Holepunched bool   `json:"holepunched"`
	Linked      bool   `json:"linked"` // past its handshakes
}

// linkTo reports whether s is linked to a peer at ip, and whether that
// link says it followed a punch.
func (s *ltSide) linkTo(ip string) (linked, punched bool) {
	if s.kind == "pex" {
		for _, ev := range s.p.Events() {
			if ev["event"] == "connected" && strings.HasPrefix(fmt.Sprint(ev["peer"]), ip+":") {
				linked = true
				punched = punched || ev["holepunch"] == true
			}
		}
		return linked, punched
	}
	for _, p := range ltPeersOf(s.p) {
		if p.IP == ip && p.Linked {
			linked = true
			punched = punched || p.Holepunched
		}
	}
	return linked, punched
}

// heardOf reports whether a libtorrent side has a peer at ip (from PEX).
func (s *ltSide) heardOf(ip string) bool {
	for _, p := range ltPeersOf(s.p) {
		if p.IP == ip {
			return true
		}
	}
	return false
}

// ltCrash is a libtorrent of a pair that died of a signal nobody sent it.
type ltCrash struct {
	host string
	sig  syscall.Signal
	log  string // its stderr's tail: the Python stacks faulthandler printed
}

func (c *ltCrash) Error() string {
	return fmt.Sprintf("libtorrent in %s crashed (%v): python3-libtorrent's fault, not the pair's; it said:\n%s", c.host, c.sig, c.log)
}

// crashed returns the first libtorrent among sides that died of a signal,
// before any was stopped; after a failure it gives each up to 2 s to end,
// since the failure may be its death seen first.
func crashed(sides []*ltSide, failed bool) *ltCrash {
	for _, s := range sides {
		if s.kind != "libtorrent" {
			continue
		}
		if failed {
			select {
			case <-s.p.Done():
			case <-time.After(2 * time.Second):
				continue
			}
		} else {
			select {
			case <-s.p.Done():
			default:
				continue
			}
		}
		var ee *exec.ExitError
		if errors.As(s.p.Err(), &ee) {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				log := s.p.Log()
				if len(log) > 2000 {
					log = log[len(log)-2000:]
				}
				return &ltCrash{host: s.p.Name(), sig: ws.Signal(), log: log}
			}
		}
	}
	return nil
}
