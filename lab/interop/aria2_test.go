package interop

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// aria2 names ut_pex 8 in its handshake: pex sends under 8 and reads what
// aria2 sends. Two pex swarms on different addresses connect to an aria2
// seed; aria2 tells each about the other.
func TestAria2PEX(t *testing.T) {
	aria2 := requireProgram(t, "aria2c", "aria2")
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	aAddr, a2 := startAria2(t, aria2, torrent, filepath.Join(dir, "seed"), "127.0.0.4", true)
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
	t.Fatalf("no ut_pex from aria2 naming the other swarm; s1 events %+v; s2 events %+v; aria2: %s", ev1(), ev2(), a2.Log())
}

// aria2 as the dialer: it dials a peer it learned only from pex's ut_pex,
// opening with an encrypted handshake (MSE), which pex answers. R connects
// to P, P to an aria2 leecher (with MSE too); P's ut_pex names R to aria2;
// aria2 dials R.
func TestAria2DialsPEXPeer(t *testing.T) {
	aria2 := requireProgram(t, "aria2c", "aria2")
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	aAddr, a2 := startAria2(t, aria2, torrent, filepath.Join(dir, "leech"), "127.0.0.4", false)
	// P also opens its own link to aria2 with MSE (EncryptOutgoing).
	p, pAddr, pev := startSwarmConfig(t, ih, swarm.Config{EncryptOutgoing: true}, "127.0.0.1")
	r, rAddr, rev := startSwarmConfig(t, ih, swarm.Config{NoPEX: true}, "127.0.0.8")
	// R dials P first, so that P's first message to aria2 names R.
	r.AddPeer(pAddr, swarm.SourceManual)
	proc.WaitFor(t, 10*time.Second, "R connected to P", func() bool { return hasEvent(rev(), "connected", pAddr, "") })
	p.AddPeer(aAddr, swarm.SourceManual)
	start := time.Now()
	proc.WaitFor(t, 60*time.Second, "aria2 dialed R, which only pex's ut_pex named", func() bool {
		for _, ev := range rev() {
			if ev.Type == swarm.EventConnected && ev.Source == swarm.SourceIncoming && strings.HasPrefix(ev.Client, "aria2") {
				return true
			}
		}
		return false
	}, func() string { return fmt.Sprintf("P %+v\nR %+v\naria2: %s", pev(), rev(), a2.Log()) })
	t.Logf("aria2 dialed R %v after P connected to it (R at %v)", time.Since(start).Round(100*time.Millisecond), rAddr)
	encrypted := func(s *swarm.Swarm, who string) {
		for _, pi := range s.Peers() {
			if strings.HasPrefix(pi.Client, "aria2") {
				if !pi.Encrypted {
					t.Fatalf("%s's link with aria2 did not use MSE: %+v", who, pi)
				}
				return
			}
		}
		t.Fatalf("aria2 is not among %s's peers: %+v", who, s.Peers())
	}
	encrypted(r, "R") // aria2 dialed with MSE, R answered
	encrypted(p, "P") // P dialed with MSE, aria2 answered
	t.Logf("both links with aria2 began with MSE")
}

// startAria2 runs aria2 on torrent at ip with DHT and LPD off, seeding
// what save holds (seed) or downloading into it, and returns its listen
// address, once it listens, and the process (its output is its log).
func startAria2(t *testing.T, aria2, torrent, save, ip string, seed bool) (netip.AddrPort, *proc.Proc) {
	t.Helper()
	port := freePort(t, ip)
	args := []string{"--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
		"--enable-peer-exchange=true", fmt.Sprintf("--listen-port=%d", port), "--interface=" + ip,
		"--disable-ipv6=true", "--seed-ratio=0.0", "-d", save, "--summary-interval=0", "--console-log-level=warn",
		"--file-allocation=none", "--bt-tracker-connect-timeout=1"}
	if seed {
		args = append(args, "--bt-seed-unverified=true", "--check-integrity=false")
	}
	p := proc.StartT(t, exec.Command(aria2, append(args, torrent)...), proc.Name("aria2 "+ip), proc.Grace(0))
	addr := netip.MustParseAddrPort(fmt.Sprintf("%s:%d", ip, port))
	proc.WaitFor(t, 10*time.Second, "aria2 listens", func() bool {
		c, err := net.Dial("tcp", addr.String())
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr, p
}
