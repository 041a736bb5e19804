package interop

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// rtorrent (libtorrent 0.13) sends ut_pex without "added.f" and only about
// 77 s after a connection starts. Two pex swarms on different addresses
// connect to an rtorrent seed; its ut_pex to one names the other.
func TestRtorrentPEX(t *testing.T) {
	rt := requireProgram(t, "rtorrent", "rtorrent")
	if testing.Short() {
		t.Skip("rtorrent's first ut_pex comes after more than a minute")
	}
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	port := freePort(t, "127.0.0.7")
	for _, d := range []string{"session", "watch", "home"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	rc := fmt.Sprintf(`directory.default.set = %[1]s/seed
session.path.set = %[1]s/session
network.bind_address.set = 127.0.0.7
network.port_range.set = %[2]d-%[2]d
network.port_random.set = no
dht.mode.set = disable
protocol.pex.set = yes
trackers.use_udp.set = no
system.daemon.set = true
schedule2 = watch, 1, 1, "load.start=%[1]s/watch/*.torrent"
`, dir, port)
	rcPath := filepath.Join(dir, "rtorrent.rc")
	os.WriteFile(rcPath, []byte(rc), 0o644)
	// rtorrent refuses a torrent without trackers ("Could not find any
	// trackers"): name one that refuses connections (the discard port on
	// loopback, inside the test's network namespace).
	tb, _ := os.ReadFile(torrent)
	tv, err := bencode.Decode(tb)
	if err != nil {
		t.Fatal(err)
	}
	tm := tv.(map[string]any)
	tm["announce"] = "http://127.0.0.7:9/announce"
	tb, _ = bencode.Encode(tm)
	os.WriteFile(filepath.Join(dir, "watch", "test.torrent"), tb, 0o644)
	cmd := exec.Command(rt, "-n", "-o", "import="+rcPath)
	cmd.Env = append(os.Environ(), "HOME="+filepath.Join(dir, "home"))
	rp := proc.StartT(t, cmd, proc.Name("rtorrent"), proc.Grace(0))
	rAddr := netip.MustParseAddrPort(fmt.Sprintf("127.0.0.7:%d", port))
	listening := false
	for i := 0; i < 100 && !listening; i++ {
		if c, err := net.Dial("tcp", rAddr.String()); err == nil {
			c.Close()
			listening = true
		} else {
			time.Sleep(100 * time.Millisecond)
		}
	}
	if !listening {
		t.Fatalf("rtorrent did not listen on %v: %s", rAddr, rp.Log())
	}
	time.Sleep(2 * time.Second) // the watch schedule loads the torrent within a second
	s1, s1Addr, ev1 := startSwarm(t, ih, "127.0.0.1")
	s2, s2Addr, ev2 := startSwarm(t, ih, "127.0.0.5")
	s1.AddPeer(rAddr, swarm.SourceManual)
	s2.AddPeer(rAddr, swarm.SourceManual)
	start := time.Now()
	deadline := start.Add(150 * time.Second)
	for time.Now().Before(deadline) {
		for _, x := range []struct {
			evs   []swarm.Event
			other netip.AddrPort
		}{{ev1(), s2Addr}, {ev2(), s1Addr}} {
			for _, ev := range x.evs {
				if ev.Type != swarm.EventPEXReceived || ev.Peer != rAddr {
					continue
				}
				for _, a := range ev.Added {
					if a == x.other {
						t.Logf("rtorrent's ut_pex named %v after %v", a, ev.Time.Sub(start).Round(time.Second))
						return
					}
				}
			}
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("no ut_pex from rtorrent naming the other swarm; s1 %+v; s2 %+v; rtorrent: %s", ev1(), ev2(), rp.Log())
}
