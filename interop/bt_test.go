package interop

import (
	"bufio"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/swarm"
)

// makeTorrent writes a one-file torrent and its data into dir. The data
// depends on the test's name, so tests running in parallel are in swarms of
// their own.
func makeTorrent(t *testing.T, dir string) (torrentPath string, infohash [20]byte) {
	t.Helper()
	data := make([]byte, 2<<20)
	salt := sha1.Sum([]byte(t.Name()))
	for i := range data {
		data[i] = byte(i*31) ^ salt[i%len(salt)]
	}
	const pieceLen = 16 << 10
	var pieces []byte
	for i := 0; i < len(data); i += pieceLen {
		h := sha1.Sum(data[i : i+pieceLen])
		pieces = append(pieces, h[:]...)
	}
	info := map[string]any{"name": "pex-test.bin", "length": int64(len(data)), "piece length": int64(pieceLen), "pieces": string(pieces)}
	rawInfo, _ := bencode.Encode(info)
	tor, _ := bencode.Encode(map[string]any{"info": info})
	torrentPath = filepath.Join(dir, "test.torrent")
	os.WriteFile(torrentPath, tor, 0o644)
	os.MkdirAll(filepath.Join(dir, "seed"), 0o755)
	os.WriteFile(filepath.Join(dir, "seed", "pex-test.bin"), data, 0o644)
	return torrentPath, sha1.Sum(rawInfo)
}

// freePort finds a free TCP port on ip.
func freePort(t *testing.T, ip string) int {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

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
	IP     string `json:"ip"`
	Port   int    `json:"port"`
	Source int    `json:"source"`
	Client string `json:"client"`
}

type ltNode struct {
	mu       sync.Mutex
	state    string
	peers    []ltPeer
	dropped  []string
	cmd      *exec.Cmd
	done     chan struct{}
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
	n := &ltNode{listenIP: ip, port: freePort(t, ip), done: make(chan struct{})}
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
	n.cmd = exec.Command("/usr/bin/python3", args...)
	out, _ := n.cmd.StdoutPipe()
	n.cmd.Stderr = os.Stderr
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(n.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev struct {
				Event  string   `json:"event"`
				Peers  []ltPeer `json:"peers"`
				State  string   `json:"state"`
				Peer   string   `json:"peer"`
				Reason string   `json:"reason"`
			}
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			n.mu.Lock()
			switch ev.Event {
			case "peers":
				n.peers, n.state = ev.Peers, ev.State
			case "disconnected":
				n.dropped = append(n.dropped, ev.Peer+" "+ev.Reason)
			}
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		n.cmd.Process.Kill()
		n.cmd.Wait()
		<-n.done
	})
	return n
}

func (n *ltNode) addr() netip.AddrPort {
	return netip.MustParseAddrPort(fmt.Sprintf("%s:%d", n.listenIP, n.port))
}

func (n *ltNode) snapshot() ([]ltPeer, []string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]ltPeer(nil), n.peers...), append([]string(nil), n.dropped...)
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
		l2.mu.Lock()
		if l2.state == "seeding" || l2.state == "finished" {
			dialedFromPEX = true
		}
		for _, p := range l2.peers {
			if p.Source&4 != 0 {
				dialedFromPEX = true
			}
		}
		l2.mu.Unlock()
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

func requireProgram(t *testing.T, prog, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(prog)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not installed (Debian package %s)", prog, pkg)
		}
		t.Skipf("%s is not installed", prog)
	}
	return p
}

// startSwarm runs a pex swarm listening on ip, dialing from ip too.
func startSwarm(t *testing.T, ih [20]byte, ip string) (*swarm.Swarm, netip.AddrPort, func() []swarm.Event) {
	t.Helper()
	return startSwarmConfig(t, ih, swarm.Config{}, ip)
}

// startSwarmConfig is startSwarm with a configuration (its listen port and
// dialer are set here).
func startSwarmConfig(t *testing.T, ih [20]byte, cfg swarm.Config, ip string) (*swarm.Swarm, netip.AddrPort, func() []swarm.Event) {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}}
	cfg.ListenPort, cfg.Dialer = ln.Addr().(*net.TCPAddr).Port, d.DialContext
	s, err := swarm.New(ih, &cfg)
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.Accept(c)
		}
	}()
	var mu sync.Mutex
	var evs []swarm.Event
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range s.Events() {
			mu.Lock()
			evs = append(evs, ev)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() { ln.Close(); s.Close(); <-done })
	return s, netip.MustParseAddrPort(ln.Addr().String()), func() []swarm.Event {
		mu.Lock()
		defer mu.Unlock()
		return append([]swarm.Event(nil), evs...)
	}
}

// aria2 names ut_pex 8 in its handshake: pex sends under 8 and reads what
// aria2 sends. Two pex swarms on different addresses connect to an aria2
// seed; aria2 tells each about the other.
func TestAria2PEX(t *testing.T) {
	aria2 := requireProgram(t, "aria2c", "aria2")
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	port := freePort(t, "127.0.0.4")
	cmd := exec.Command(aria2, "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=true", fmt.Sprintf("--listen-port=%d", port), "--interface=127.0.0.4",
		"--disable-ipv6=true", "--seed-ratio=0.0", "--bt-seed-unverified=true", "--check-integrity=false",
		"-d", filepath.Join(dir, "seed"), "--summary-interval=0", "--console-log-level=warn",
		"--file-allocation=none", "--bt-tracker-connect-timeout=1", torrent)
	var stderr bytesBuffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	aAddr := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.4:%d", port))
	for i := 0; i < 50; i++ { // wait for aria2 to listen
		if c, err := net.Dial("tcp", aAddr.String()); err == nil {
			c.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	s1, s1Addr, ev1 := startSwarm(t, ih, "127.0.0.1")
	s2, s2Addr, ev2 := startSwarm(t, ih, "127.0.0.5")
	s1.AddPeer(aAddr, swarm.SourceManual)
	s2.AddPeer(aAddr, swarm.SourceManual)
	// aria2's first message to the swarm that connected second names the
	// first (its next ones come a minute apart).
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		named := false
		for _, x := range []struct {
			evs   []swarm.Event
			other netip.AddrPort
		}{{ev1(), s2Addr}, {ev2(), s1Addr}} {
			for _, ev := range x.evs {
				if ev.Type == swarm.EventPEXReceived && ev.Peer == aAddr && slices.Contains(ev.Added, x.other) {
					named = true
				}
			}
		}
		sentToAria2 := false
		for _, e := range append(ev1(), ev2()...) {
			if e.Type == swarm.EventPEXSent && e.Peer == aAddr {
				sentToAria2 = true // under the id aria2 chose in its handshake (8)
			}
		}
		if named && sentToAria2 {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no ut_pex from aria2 naming the other swarm; s1 events %+v; s2 events %+v; aria2: %s", ev1(), ev2(), stderr.String())
}

type bytesBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (b *bytesBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.b = append(b.b, p...)
	return len(p), nil
}

func (b *bytesBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.b)
}

// Transmission 3.00 never dials 127.0.0.0/8, so it is only dialed here: two
// pex swarms on different addresses connect to a Transmission seed, and its
// ut_pex to one names the other.
func TestTransmissionPEX(t *testing.T) {
	daemon := requireProgram(t, "transmission-daemon", "transmission-daemon")
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	port := freePort(t, "127.0.0.6")
	cfgDir, watch := filepath.Join(dir, "tr-config"), filepath.Join(dir, "tr-watch")
	os.MkdirAll(cfgDir, 0o755)
	os.MkdirAll(watch, 0o755)
	settings, _ := json.Marshal(map[string]any{
		"dht-enabled": false, "lpd-enabled": false, "pex-enabled": true, "port-forwarding-enabled": false,
		"utp-enabled": false, "peer-port": port, "peer-port-random-on-start": false, "bind-address-ipv4": "127.0.0.6",
		"rpc-enabled": false, "download-dir": filepath.Join(dir, "seed"), "incomplete-dir-enabled": false,
		"watch-dir-enabled": true, "watch-dir": watch, "start-added-torrents": true, "message-level": 2, "encryption": 1,
	})
	os.WriteFile(filepath.Join(cfgDir, "settings.json"), settings, 0o644)
	var log bytesBuffer
	cmd := exec.Command(daemon, "-f", "-g", cfgDir)
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	tb, _ := os.ReadFile(torrent)
	os.WriteFile(filepath.Join(watch, "test.torrent"), tb, 0o644)
	tAddr := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.6:%d", port))
	ok := false
	for i := 0; i < 100 && !ok; i++ { // wait until it listens
		if c, err := net.Dial("tcp", tAddr.String()); err == nil {
			c.Close()
			ok = true
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	// s1 opens its link with MSE, which Transmission ("encryption": 1,
	// preferred) answers.
	s1, _, ev1 := startSwarmConfig(t, ih, swarm.Config{EncryptOutgoing: true}, "127.0.0.1")
	s2, _, ev2 := startSwarm(t, ih, "127.0.0.5")
	s1.AddPeer(tAddr, swarm.SourceManual)
	time.Sleep(500 * time.Millisecond)
	s2.AddPeer(tAddr, swarm.SourceManual)
	defer func() {
		if t.Failed() {
			return
		}
		for _, pi := range s1.Peers() {
			if pi.Addr == tAddr {
				if !pi.Encrypted {
					t.Errorf("s1's link to Transmission did not begin with MSE: %+v", pi)
				}
				return
			}
		}
		t.Errorf("s1 is not connected to Transmission: %+v", s1.Peers())
	}()
	deadline := time.Now().Add(45 * time.Second)
	for time.Now().Before(deadline) {
		for _, x := range []struct {
			evs   []swarm.Event
			other string
		}{{ev1(), "127.0.0.5"}, {ev2(), "127.0.0.1"}} {
			for _, ev := range x.evs {
				if ev.Type != swarm.EventPEXReceived || ev.Peer != tAddr {
					continue
				}
				for _, a := range ev.Added {
					if a.Addr().String() == x.other {
						return
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no ut_pex from Transmission naming the other swarm; s1 %+v; s2 %+v; transmission: %s", ev1(), ev2(), log.String())
}
