package interop

import (
	"crypto/sha1"
	"net"
	"net/netip"
	"os"
	"path/filepath"
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
	go s.Serve(ln)
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

func hasEvent(evs []swarm.Event, name string, peer netip.AddrPort, source string) bool {
	for _, ev := range evs {
		if ev.Type.String() == name && ev.Peer == peer && (source == "" || ev.Source == source) {
			return true
		}
	}
	return false
}

func hasEventNet(evs []swarm.Event, name string, peer netip.AddrPort, net string) bool {
	for _, ev := range evs {
		if ev.Type.String() == name && ev.Peer == peer && ev.Net == net {
			return true
		}
	}
	return false
}
