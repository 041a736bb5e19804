package interop

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// biglybtIP is BiglyBT's address: it binds only to an address an interface
// carries, so the test adds it to lo, inside its own network namespace.
const biglybtIP = "127.0.0.21"

// biglybt is a headless BiglyBT (Debian package biglybt) run by a test.
type biglybt struct {
	p    *proc.Proc // its console's output is its log
	addr netip.AddrPort
	logs string
}

// startBiglyBT runs BiglyBT's console UI seeding torrent (its data in
// dir/seed), with DHT, UPnP, NAT-PMP, UDP, update checks and version
// reports off. It returns once the torrent is force-started and BiglyBT
// accepts connections.
func startBiglyBT(t *testing.T, dir, torrent string) *biglybt {
	t.Helper()
	java := requireProgram(t, "java", "biglybt")
	requireProgram(t, "biglybt", "biglybt")
	if os.Getenv("PEX_NETNS") != "1" {
		if os.Getenv("CI") == "true" {
			t.Fatal("BiglyBT runs only inside the test's private network namespace (needs root for unshare -n)")
		}
		t.Skip("BiglyBT runs only inside a private network namespace (run the tests as root)")
	}
	if out, err := exec.Command("ip", "addr", "add", biglybtIP+"/8", "dev", "lo").CombinedOutput(); err != nil && !strings.Contains(string(out), "exists") {
		t.Fatalf("ip addr add %s: %v %s", biglybtIP, err, out)
	}
	port := freePort(t, biglybtIP)
	cfgDir, home, logs := filepath.Join(dir, "bb-config"), filepath.Join(dir, "bb-home"), filepath.Join(dir, "bb-logs")
	for _, d := range []string{cfgDir, home, logs} {
		os.MkdirAll(d, 0o755)
	}
	cfg, _ := bencode.Encode(map[string]any{
		"Bind IP": biglybtIP, "Enforce Bind IP": int64(1),
		"TCP.Listen.Port": int64(port), "UDP.Listen.Port.Enable": int64(0), "Server Enable UDP": int64(0),
		"Plugin.DHT.dht.enabled": int64(0), "Plugin.UPnP.upnp.enable": int64(0), "Plugin.UPnP.natpmp.enable": int64(0),
		"Peer Source Selection Default.DHT": int64(0), "Peer Source Selection Default.PeerExchange": int64(1),
		"update.start": int64(0), "update.periodic": int64(0), "update.opendialog": int64(0), "Send Version Info": int64(0),
		"Allow Same IP Peers": int64(1), "LAN Speed Enabled": int64(0),
		"Default save path": filepath.Join(dir, "seed"),
		"Logger.Enabled":    int64(1), "Logging Enable": int64(1), "Logging Dir": logs,
	})
	os.WriteFile(filepath.Join(cfgDir, "biglybt.config"), cfg, 0o644)
	// BiglyBT starts a torrent without trackers only with its DHT: name
	// a tracker that refuses connections.
	tb, _ := os.ReadFile(torrent)
	tv, err := bencode.Decode(tb)
	if err != nil {
		t.Fatal(err)
	}
	tm := tv.(map[string]any)
	tm["announce"] = "http://" + biglybtIP + ":9/announce"
	tb, _ = bencode.Encode(tm)
	bbTorrent := filepath.Join(dir, "biglybt.torrent")
	os.WriteFile(bbTorrent, tb, 0o644)

	// The classpath and install path of Debian's /usr/bin/biglybt.
	cp := strings.Join([]string{"biglybt-core", "biglybt-ui", "commons-cli", "swt4", "bcprov"}, ".jar:/usr/share/java/")
	b := &biglybt{addr: netip.MustParseAddrPort(fmt.Sprintf("%s:%d", biglybtIP, port)), logs: logs}
	cmd := exec.Command(java, "-Xmx256m", "-XX:+UseSerialGC", "-cp", "/usr/share/java/"+cp+".jar",
		"-Dazureus.install.path=/usr/share/biglybt", "-Dazureus.config.path="+cfgDir,
		"-Djava.net.preferIPv4Stack=true", "-Duser.home="+home, "com.biglybt.ui.Main", "--ui=console")
	// Stop kills it (Grace(0)) if it has not quit on the console's
	// command within 10 s (this cleanup runs before Stop's).
	b.p = proc.StartT(t, cmd, proc.Stdin(), proc.Name("BiglyBT"), proc.Grace(0))
	t.Cleanup(func() {
		b.p.Send("quit iamsure")
		select {
		case <-b.p.Done():
		case <-time.After(10 * time.Second):
		}
	})
	// The console reads commands once its core runs; a torrent is queued
	// (and refuses peers) until force-started, and forcestart needs the
	// list that "show torrents" makes.
	b.command(t, "add "+bbTorrent, "' added.", 60*time.Second)
	b.command(t, "show torrents", "pex-test.bin", 20*time.Second)
	b.command(t, "forcestart 1", "succeeded", 20*time.Second)
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if c, err := net.Dial("tcp", b.addr.String()); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatalf("BiglyBT does not listen on %v: %s", b.addr, b.p.Log())
		}
	}
	return b
}

// command writes a console command, again every few seconds until the
// output shows want (the console ignores input until the core has started).
func (b *biglybt) command(t *testing.T, cmd, want string, limit time.Duration) {
	t.Helper()
	_, before := b.p.LogSince(0)
	printed := func() bool { out, _ := b.p.LogSince(before); return strings.Contains(out, want) }
	for end := time.Now().Add(limit); time.Now().Before(end); {
		b.p.Send(cmd)
		if b.p.Until(min(5*time.Second, time.Until(end)), printed) {
			return
		}
		select {
		case <-b.p.Done():
			t.Fatalf("BiglyBT ended: %v\n%s", b.p.Err(), b.p.Log())
		default:
		}
	}
	t.Fatalf("BiglyBT: %q did not print %q: %s", cmd, want, b.p.Log())
}

func (b *biglybt) log() string {
	l, _ := os.ReadFile(filepath.Join(b.logs, "biglybt.log"))
	lines := strings.Split(string(l), "\n")
	var keep []string
	for _, s := range lines {
		if strings.Contains(s, " net ") || strings.Contains(s, " peer ") {
			keep = append(keep, s)
		}
	}
	if len(keep) > 60 {
		keep = keep[len(keep)-60:]
	}
	return strings.Join(keep, "\n")
}

// One peer set across both PEX networks, live: BiglyBT (AZMP) and
// libtorrent (ut_pex) never meet, and each learns a peer from the other's
// side only through pex.
//
//	B  BiglyBT seed, 127.0.0.21        P  pex, 127.0.0.1: dials L, then B
//	L  libtorrent leecher, 127.0.0.2,  Q  pex without PEX, 127.0.0.5: dials B only
//	   refusing B by IP filter        R  pex without PEX, 127.0.0.8: dials L only
//
// L tells P about R over ut_pex; P tells B about R over AZ_PEER_EXCHANGE;
// B dials R. B tells P about Q over AZ_PEER_EXCHANGE (60-120 s after they
// connect); P tells L about Q over ut_pex; L dials Q. S (127.0.0.9) offers
// BiglyBT no AZMP and hears its peers over ut_pex instead.
func TestBiglyBTPEX(t *testing.T) {
	requireLibtorrent(t)
	if testing.Short() {
		t.Skip("BiglyBT's first PEX comes 60-120 s after connecting")
	}
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	os.MkdirAll(filepath.Join(dir, "leech"), 0o755)
	start := time.Now()
	b := startBiglyBT(t, dir, torrent)
	t.Logf("BiglyBT seeding on %v after %v", b.addr, time.Since(start).Round(100*time.Millisecond))
	const run = 240 * time.Second
	l := startLibtorrentArgs(t, torrent, filepath.Join(dir, "leech"), "127.0.0.2", false, run+30*time.Second, 0, []string{"--block", biglybtIP})
	p, pAddr, pev := startSwarmConfig(t, ih, swarm.Config{}, "127.0.0.1")
	q, qAddr, qev := startSwarmConfig(t, ih, swarm.Config{NoPEX: true}, "127.0.0.5")
	r, rAddr, rev := startSwarmConfig(t, ih, swarm.Config{NoPEX: true}, "127.0.0.8")
	// S speaks only LTEP with BiglyBT (no AZMP offered) and takes no other
	// peer (MaxPeers 1): it only listens to BiglyBT's ut_pex.
	sw, _, sev := startSwarmConfig(t, ih, swarm.Config{NoAZMP: true, MaxPeers: 1}, "127.0.0.9")
	time.Sleep(time.Second) // let libtorrent listen
	r.AddPeer(l.addr(), swarm.SourceManual)
	proc.WaitFor(t, 20*time.Second, "R connected to libtorrent", func() bool { return hasEvent(rev(), "connected", l.addr(), "") })
	p.AddPeer(l.addr(), swarm.SourceManual)
	proc.WaitFor(t, 30*time.Second, "P learned R from libtorrent's ut_pex and connected", func() bool {
		return hasEvent(pev(), "connected", rAddr, swarm.SourcePEX)
	})
	q.AddPeer(b.addr, swarm.SourceManual)
	p.AddPeer(b.addr, swarm.SourceManual)
	sw.AddPeer(b.addr, swarm.SourceManual)
	connected := time.Now()
	// Q runs no PEX, so its link has no PEX network.
	proc.WaitFor(t, 20*time.Second, "P and Q connected to BiglyBT, P with AZ_PEER_EXCHANGE", func() bool {
		return hasEventNet(pev(), "connected", b.addr, swarm.NetAZMP) && hasEvent(qev(), "connected", b.addr, "")
	}, func() string { return fmt.Sprintf("P %+v\nQ %+v\n%s", pev(), qev(), b.log()) })

	var gotFromB, bDialedR, lDialedQ, utFromB time.Duration
	var utAdded []netip.AddrPort
	var toldBR time.Duration = -1 // when pex's AZ_PEER_EXCHANGE first named R to BiglyBT
	for end := start.Add(run); time.Now().Before(end) && (gotFromB == 0 || bDialedR == 0 || lDialedQ == 0 || utFromB == 0); time.Sleep(500 * time.Millisecond) {
		for _, ev := range sev() {
			if ev.Type == swarm.EventPEXReceived && ev.Peer == b.addr && ev.Net == swarm.NetUTPex && len(ev.Added) > 0 && utFromB == 0 {
				utFromB, utAdded = ev.Time.Sub(connected), ev.Added
			}
		}
		for _, ev := range pev() {
			if ev.Type == swarm.EventPEXReceived && ev.Peer == b.addr && ev.Net == swarm.NetAZMP && slices.Contains(ev.Added, qAddr) && gotFromB == 0 {
				gotFromB = ev.Time.Sub(connected)
			}
			if ev.Type == swarm.EventPEXSent && ev.Peer == b.addr && ev.Net == swarm.NetAZMP && slices.Contains(ev.Added, rAddr) && toldBR < 0 {
				toldBR = ev.Time.Sub(connected)
			}
		}
		for _, ev := range rev() {
			if ev.Type == swarm.EventConnected && ev.Source == swarm.SourceIncoming && strings.HasPrefix(ev.Client, "BiglyBT") && bDialedR == 0 {
				bDialedR = ev.Time.Sub(connected)
			}
		}
		for _, ev := range qev() {
			// libtorrent dials from 127.0.0.1: it is known by its "v".
			if ev.Type == swarm.EventConnected && ev.Source == swarm.SourceIncoming && ev.Client == "libtorrent-test" && lDialedQ == 0 {
				lDialedQ = ev.Time.Sub(connected)
			}
		}
	}
	dump := func() string {
		var sb strings.Builder
		for name, evs := range map[string][]swarm.Event{"P": pev(), "Q": qev(), "R": rev(), "S": sev()} {
			for _, ev := range evs {
				fmt.Fprintf(&sb, "%s: %s %v %s %s net=%s added=%v %v\n", name, ev.Type.String(), ev.Peer, ev.Client, ev.Source, ev.Net, ev.Added, ev.Err)
			}
		}
		ps, drops := l.snapshot()
		fmt.Fprintf(&sb, "libtorrent peers %+v disconnects %q\nBiglyBT log:\n%s", ps, drops, b.log())
		return sb.String()
	}
	if gotFromB == 0 {
		t.Fatalf("no AZ_PEER_EXCHANGE from BiglyBT naming Q (%v)\n%s", qAddr, dump())
	}
	if bDialedR == 0 {
		t.Fatalf("BiglyBT never dialed R (%v), which only pex's AZ_PEER_EXCHANGE named\n%s", rAddr, dump())
	}
	if toldBR < 0 || toldBR > bDialedR {
		t.Fatalf("BiglyBT dialed R at %v, before pex named R to it (%v)\n%s", bDialedR, toldBR, dump())
	}
	if lDialedQ == 0 {
		t.Fatalf("libtorrent never dialed Q (%v), which only pex's ut_pex named\n%s", qAddr, dump())
	}
	if utFromB == 0 {
		t.Fatalf("no ut_pex from BiglyBT to S, which offered only LTEP\n%s", dump())
	}
	t.Logf("BiglyBT's ut_pex to S (LTEP only) named %v at %v", utAdded, utFromB.Round(time.Second))
	t.Logf("after P connected to BiglyBT: pex's AZ_PEER_EXCHANGE named R at %v, BiglyBT dialed R at %v; BiglyBT's AZ_PEER_EXCHANGE naming Q arrived at %v, libtorrent dialed Q (named by pex's ut_pex) at %v",
		toldBR.Round(time.Second), bDialedR.Round(time.Second), gotFromB.Round(time.Second), lDialedQ.Round(time.Second))
	_ = pAddr
}
