package attack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// cpuTicks reads the process's user+system CPU time in clock ticks.
func (p *proc) cpuTicks() int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.Atoi(f[11])
	k, _ := strconv.Atoi(f[12])
	return u + k
}

// A hello flood from one source: the node prints a handful of lines and a
// summary, not a line per refusal.
func TestPXPLogFlood(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := p.addr("tcp")
	n := size(300, 3000)
	for range n {
		c, err := dialFrom("127.12.0.1", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(helloFor(1, `{}`, "wrong-network"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		c.Close()
	}
	time.Sleep(500 * time.Millisecond)
	lines := p.count("error", nil)
	t.Logf("%d refused hellos from one source: %d error lines printed", n, lines)
	if lines > 20 {
		t.Fatalf("%d error lines for %d refusals from one source", lines, n)
	}
}

// One client asking for relays on many links holds a share of the relay
// slots, not all of them: another client is still relayed.
func TestPXPRelaySlotsShared(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc", "--max-peers", "200")
	addr := p.addr("tcp")
	// Four honest peers the relay can introduce the hoarder to.
	for i := range 4 {
		honestPeer(t, fmt.Sprintf("127.20.%d.1", i), addr)
	}
	// The hoarder: 8 links from one /24, each asking for relays until
	// refused.
	granted := 0
	for l := range 8 {
		ex, _ := honestPeer(t, fmt.Sprintf("127.13.0.%d", l+1), addr)
		for range 8 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_, err := ex.GetNewPeer(ctx)
			cancel()
			if err != nil {
				break
			}
			granted++
		}
	}
	other, _ := honestPeer(t, "127.14.0.1", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := other.GetNewPeer(ctx); err != nil {
		t.Fatalf("another client was not relayed after the hoarder took %d: %v", granted, err)
	}
	t.Logf("a client on 8 links got %d relays of 64; another client was still relayed", granted)
	if granted > 16 {
		t.Fatalf("one /24 holds %d relays, its share is 16", granted)
	}
}

// Openings from one IP faster than its rate are closed before any work,
// however fast the attacker opens them: the swarm admits to the
// handshakes, where an MSE opening's Diffie-Hellman is answered, at most
// its OpeningBurst and then OpeningRate a second, and closes every other
// opening first (pex_bt_openings_total); an honest peer is served
// afterwards. What a refused opening costs against an answered one (354 us
// of Diffie-Hellman on this machine) is bt/swarm's BenchmarkOpening; the
// CPU the flood took here is logged, never asserted.
func TestBTOpeningFloodCPU(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	// An MSE opening: 96 bytes of a public key, then padding.
	opening := make([]byte, 96+64)
	for i := range opening {
		opening[i] = byte(i*7 + 3)
	}
	d := time.Duration(size(5, 30)) * time.Second
	before := p.cpuTicks()
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			continue
		}
		c.Write(opening)
		c.Close()
		n++
	}
	flood := time.Since(start)
	// The swarm takes in what is left in its accept queue; openings the
	// kernel dropped from a full queue never reach it (and cost it
	// nothing). The counts are read once they stop moving, or after 10 s.
	admitted, refused := p.openings()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); {
		time.Sleep(200 * time.Millisecond)
		a, r := p.openings()
		if a == admitted && r == refused {
			break
		}
		admitted, refused = a, r
	}
	// Every token the gate gave out, it gave out since start.
	elapsed := time.Since(start)
	allowed := float64(swarm.DefaultOpeningBurst) + swarm.DefaultOpeningRate*elapsed.Seconds()
	used := float64(p.cpuTicks()-before) / 100 // ticks are 1/100 s
	t.Logf("%d MSE openings from one IP in %v (%.0f/s): %.0f admitted (allowance %.0f in %v), %.0f refused before any work; the swarm used %.1f%% of a core, %v of CPU an opening",
		n, flood.Round(time.Millisecond), float64(n)/flood.Seconds(), admitted, allowed, elapsed.Round(time.Millisecond), refused,
		100*used/elapsed.Seconds(), time.Duration(used/float64(max(n, 1))*float64(time.Second)))
	if admitted > allowed {
		t.Fatalf("%.0f openings from one IP admitted to the handshakes (and their Diffie-Hellman) in %v; its rate allows %.0f", admitted, elapsed, allowed)
	}
	if admitted+refused > float64(n) {
		t.Fatalf("the gate counted %.0f openings, %d were made", admitted+refused, n)
	}
	honestSwarm(t, "127.15.0.1", addr)
}

// A swarm holding many peers that tell it nothing new does no periodic
// work but what is due. Once they are all connected, over twenty seconds:
// its links' senders (a timer each, its only periodic work) wake at most
// for the PEX messages due (BEP 11: a minute apart on a link) and the
// keep-alives (KeepAliveInterval), as pex_bt_sender_wakeups_total counts,
// it sends at most a PEX message a minute a link, every peer stays, and
// its memory a peer is bounded. The timers alone are bt/swarm's
// TestIdleSwarmWakesOnlyWhenDue, on virtual time; what a wake-up costs is
// its BenchmarkIdleWakeup. The CPU is logged, never asserted.
func TestBTIdleCPU(t *testing.T) {
	n := size(500, 2000)
	p := startSwarm(t, "--max-peers", fmt.Sprint(n+10))
	addr := p.addr("tcp")
	time.Sleep(300 * time.Millisecond)
	base := p.usage()
	var conns []net.Conn
	defer func() { closeAll(conns) }()
	for i := range n {
		c, err := dialFrom(fmt.Sprintf("127.40.%d.%d", i/200, i%200+1), addr)
		if err != nil {
			t.Fatalf("peer %d: %v", i, err)
		}
		b := btHandshake(fmt.Sprint("idle", i))
		ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 6881}
		c.Write(wire.AppendExtended(b, 0, ext.Bytes()))
		go io.Copy(io.Discard, c)
		conns = append(conns, c)
	}
	for end := time.Now().Add(60 * time.Second); p.count("connected", nil) < n; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d of %d peers connected", p.count("connected", nil), n)
		}
	}
	time.Sleep(5 * time.Second) // the first PEX messages go out
	wakeups := func() float64 { return p.metric("pex_bt_sender_wakeups_total") }
	pexOut := func() float64 { return p.metric("pex_bt_pex_messages_total", "direction", "out") }
	start := time.Now() // before the first read: the window counted lies within [start, now]
	w0, m0, cpu0 := wakeups(), pexOut(), p.cpuTicks()
	time.Sleep(20 * time.Second)
	w1, m1, cpu1 := wakeups(), pexOut(), p.cpuTicks()
	elapsed := time.Since(start)
	u := p.usage()
	perLinkPEX := 1 + elapsed.Seconds()/pex.Interval.Seconds()
	perLink := 1 + perLinkPEX + elapsed.Seconds()/swarm.KeepAliveInterval.Seconds()
	grew := float64(u.RSSKiB-base.RSSKiB) / float64(n)
	t.Logf("%d idle peers over %v: %.0f sender wake-ups (%.2f a link, %.2f allowed; %.0f before), %.0f PEX messages (%.2f a link, %.2f allowed; %.0f before); %.2f%% of a core; %v (%.1f KiB a peer over the baseline %v)",
		n, elapsed.Round(time.Millisecond), w1-w0, (w1-w0)/float64(n), perLink, w0, m1-m0, (m1-m0)/float64(n), perLinkPEX, m0,
		float64(cpu1-cpu0)/elapsed.Seconds(), u, grew, base)
	if peers := p.metric("pex_bt_connections"); peers != float64(n) {
		t.Fatalf("%.0f of %d idle peers still connected", peers, n)
	}
	if w1-w0 > perLink*float64(n) {
		t.Fatalf("%.0f sender wake-ups for %d idle links in %v: more than the PEX messages and keep-alives due (%.0f)", w1-w0, n, elapsed, perLink*float64(n))
	}
	if m1-m0 > perLinkPEX*float64(n) {
		t.Fatalf("%.0f PEX messages to %d peers in %v: over BEP 11's one a minute a link (%.0f)", m1-m0, n, elapsed, perLinkPEX*float64(n))
	}
	if grew > 128 {
		t.Fatalf("%.1f KiB a peer for an idle swarm of %d, bound 128", grew, n)
	}
}

// A megabyte extended handshake closes its link at once; an honest peer is
// served.
func TestBTHugeExtendedHandshake(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	c, err := dialFrom("127.41.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	payload := append([]byte("d1:v1048576:"), make([]byte, 1<<20)...)
	payload = append(payload, 'e')
	before := p.cpuTicks()
	go c.Write(wire.AppendExtended(btHandshake("huge"), 0, payload))
	c.SetReadDeadline(time.Now().Add(15 * time.Second))
	_, err = io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the link was not closed")
	}
	t.Logf("a 1 MiB extended handshake: link closed, %d ms of CPU", (p.cpuTicks()-before)*10)
	honestSwarm(t, "127.42.0.1", addr)
}

// One peer claiming, through yourip, that an address is the swarm's own
// does not stop the swarm from dialing it when another peer names it.
func TestBTYourIPCannotPoison(t *testing.T) {
	p := startSwarm(t)
	addr := p.addr("tcp")
	_, port, _ := net.SplitHostPort(addr)
	victim := "127.43.0.1:" + port
	v := listenVictims(t, []string{victim})
	c, err := dialFrom("127.44.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, YourIP: netip.MustParseAddr("127.43.0.1")}
	c.Write(wire.AppendExtended(btHandshake("poison"), 0, ext.Bytes()))
	go io.Copy(io.Discard, c)
	// The claim is taken with the poisoner's extended handshake, which
	// comes before its link is reported connected.
	if !p.waitCount("connected", func(ev map[string]any) bool { return strings.HasPrefix(fmt.Sprint(ev["peer"]), "127.44.0.1:") }) {
		t.Fatal("the poisoning peer did not connect")
	}
	pexAttack("127.45.0.1", addr, 1, []netip.AddrPort{netip.MustParseAddrPort(victim)})
	dialed := func() int {
		v.mu.Lock()
		defer v.mu.Unlock()
		return v.dials[victim]
	}
	// A wait for the dial, bounded so that a swarm that never dials fails.
	for end := time.Now().Add(10 * time.Second); dialed() == 0 && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	if dialed() == 0 {
		t.Fatal("one peer's yourip claim kept the swarm from dialing the address")
	}
}

// openings reads the swarm's pex_bt_openings_total: admitted to the
// handshakes, and refused by the opening rate.
func (p *proc) openings() (admitted, refused float64) {
	return p.metric("pex_bt_openings_total", "outcome", "admitted"), p.metric("pex_bt_openings_total", "outcome", "refused")
}

// metric scrapes the process's /metrics and returns the sum of the
// samples of family name that carry the given label pairs.
func (p *proc) metric(name string, labels ...string) float64 {
	p.t.Helper()
	if p.addr("metrics") == "" {
		p.t.Skip("no --metrics in this build of pex")
	}
	resp, err := http.Get("http://" + p.addr("metrics") + "/metrics")
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		p.t.Fatal(err)
	}
	sum := 0.0
next:
	for _, line := range strings.Split(string(body), "\n") {
		series, value, ok := strings.Cut(line, " ")
		if !ok || (series != name && !strings.HasPrefix(series, name+"{")) {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(series, labels[i]+"=\""+labels[i+1]+"\"") {
				continue next
			}
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			p.t.Fatalf("%s: %v", line, err)
		}
		sum += v
	}
	return sum
}
