package interop

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/proc"
)

func requireLibtorrent(t *testing.T) {
	t.Helper()
	if err := exec.Command("/usr/bin/python3", "-c", "import libtorrent").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-libtorrent is not installed")
		}
		t.Skip("python3-libtorrent is not installed")
	}
}

type ltPeer struct {
	IP          string `json:"ip"`
	Port        int    `json:"port"`
	Source      int    `json:"source"`
	Client      string `json:"client"`
	UTP         bool   `json:"utp"`         // the link runs over uTP
	Holepunched bool   `json:"holepunched"` // libtorrent opened it on a BEP 55 connect
}

// ltNode is a running testdata/bt/lt_node.py: it prints its peers (and
// its torrent's state) twice a second, and every disconnect.
type ltNode struct {
	*proc.Proc
	listenIP string
	port     int
}

func startLibtorrent(t *testing.T, torrent, save, ip string, seed bool, duration time.Duration, rate int, peers ...string) *ltNode {
	t.Helper()
	return startLibtorrentArgs(t, torrent, save, ip, seed, duration, rate, nil, peers...)
}

// startLibtorrentArgs is startLibtorrent with extra lt_node.py arguments.
func startLibtorrentArgs(t *testing.T, torrent, save, ip string, seed bool, duration time.Duration, rate int, extra []string, peers ...string) *ltNode {
	t.Helper()
	n := &ltNode{listenIP: ip, port: freePort(t, ip)}
	args := []string{filepath.Join(repoRoot(), "testdata", "bt", "lt_node.py"), "--torrent", torrent, "--save", save,
		"--listen", fmt.Sprintf("%s:%d", ip, n.port), "--duration", fmt.Sprint(duration.Seconds())}
	if seed {
		args = append(args, "--seed")
	}
	if rate > 0 {
		args = append(args, "--download-rate", fmt.Sprint(rate))
	}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	args = append(args, extra...)
	n.Proc = proc.StartT(t, exec.Command("/usr/bin/python3", args...), proc.Name("libtorrent "+ip), proc.Grace(0))
	// It prints "listening" once its session listens: a swarm told about
	// it before (Python and libtorrent take seconds to load on a busy
	// machine) may have filled its room by the time it dials again.
	if n.Wait("listening", 30*time.Second, nil) == nil {
		t.Fatalf("libtorrent %s did not start", ip)
	}
	return n
}

func (n *ltNode) addr() netip.AddrPort {
	return netip.MustParseAddrPort(fmt.Sprintf("%s:%d", n.listenIP, n.port))
}

// snapshot is the node's peers now, and every disconnect so far ("peer
// reason").
func (n *ltNode) snapshot() ([]ltPeer, []string) {
	ps, _ := n.peers()
	var dropped []string
	for _, ev := range n.Events() {
		if ev["event"] == "disconnected" {
			dropped = append(dropped, fmt.Sprint(ev["peer"])+" "+fmt.Sprint(ev["reason"]))
		}
	}
	return ps, dropped
}

// peers is the node's last peers event: its peers and its torrent's state.
func (n *ltNode) peers() ([]ltPeer, string) {
	var last struct {
		Peers []ltPeer `json:"peers"`
		State string   `json:"state"`
	}
	if ev := n.Last("peers"); ev != nil {
		b, _ := json.Marshal(ev)
		json.Unmarshal(b, &last)
	}
	return last.Peers, last.State
}

// pex joins two libtorrent nodes that do not know each other: it learns
// peers from libtorrent's ut_pex, a libtorrent node dials a peer it learned
// only from pex's ut_pex, and in a run of more than two minutes pex never
// trips libtorrent's flood disconnect.
func TestLibtorrentPEX(t *testing.T) {
	requireLibtorrent(t)
	if testing.Short() {
		t.Skip("runs for more than two minutes")
	}
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	os.MkdirAll(filepath.Join(dir, "leech"), 0o755)
	const run = 130 * time.Second
	// l2 downloads slowly from l1 (2 MiB at 32 KiB/s), so that their
	// link lasts long enough for both to tell pex about it.
	l1 := startLibtorrent(t, torrent, filepath.Join(dir, "seed"), "127.0.0.2", true, run+30*time.Second, 0)
	l2 := startLibtorrent(t, torrent, filepath.Join(dir, "leech"), "127.0.0.3", false, run+30*time.Second, 32<<10)

	s, _, snapshot := startSwarm(t, ih, "127.0.0.1")
	time.Sleep(time.Second) // let libtorrent listen
	s.AddPeer(l1.addr(), swarm.SourceManual)
	s.AddPeer(l2.addr(), swarm.SourceManual)

	start := time.Now()
	dialedFromPEX, learnedFromLT := false, false
	for time.Since(start) < run {
		time.Sleep(time.Second)
		// l2 was given only pex's address, and pex has no data: if it
		// downloads, it dialed l1, which it learned only from pex's ut_pex.
		ps, state := l2.peers()
		if state == "seeding" || state == "finished" {
			dialedFromPEX = true
		}
		for _, p := range ps {
			if p.Source&4 != 0 {
				dialedFromPEX = true
			}
		}
		for _, pair := range []struct {
			n     *ltNode
			other string
		}{{l1, "127.0.0.3"}, {l2, "127.0.0.2"}} {
			ps, _ := pair.n.snapshot()
			for _, p := range ps {
				if p.IP == pair.other && p.Source&4 != 0 {
					dialedFromPEX = true
				}
			}
		}
		for _, ev := range snapshot() {
			if ev.Type == swarm.EventPEXReceived {
				for _, a := range ev.Added {
					if a == l1.addr() || a == l2.addr() {
						learnedFromLT = true
					}
				}
			}
		}
	}
	for _, n := range []*ltNode{l1, l2} {
		_, reasons := n.snapshot()
		for _, r := range reasons {
			if strings.Contains(r, "127.0.0.1:") && strings.Contains(r, "too frequent") {
				t.Fatalf("libtorrent %s dropped pex for flooding: %s", n.listenIP, r)
			}
		}
		t.Logf("libtorrent %s disconnects: %q", n.listenIP, reasons)
	}
	if !dialedFromPEX {
		p1, _ := l1.snapshot()
		p2, _ := l2.snapshot()
		t.Fatalf("no libtorrent node connected to a peer learned from pex: l1 %+v l2 %+v", p1, p2)
	}
	if !learnedFromLT {
		for _, ev := range snapshot() {
			t.Logf("pex event: %s %v added %v dropped %v %v", ev.Type.String(), ev.Peer, ev.Added, ev.Dropped, ev.Err)
		}
		t.Fatal("pex received no ut_pex from libtorrent naming the other libtorrent node")
	}
	sent := 0
	for _, ev := range snapshot() {
		if ev.Type == swarm.EventPEXSent {
			sent++
		}
		if ev.Type != swarm.EventPEXSent {
			t.Logf("pex event: %s %v added %v dropped %v %v", ev.Type.String(), ev.Peer, ev.Added, ev.Dropped, ev.Err)
		}
	}
	t.Logf("over %v: pex sent %d ut_pex messages; libtorrent never dropped it for flooding", run, sent)
}
