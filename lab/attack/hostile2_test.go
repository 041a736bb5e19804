package attack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/pxp"
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
	var targets []*pxp.Exchange
	for i := range 4 {
		ex, _ := honestPeer(t, fmt.Sprintf("127.20.%d.1", i), addr)
		targets = append(targets, ex)
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

// Openings from one IP faster than its rate are closed before any work:
// an opening costs the swarm a small fraction of the Diffie-Hellman it
// would cost if it were answered (354 us of CPU on this machine), however
// fast the attacker opens them. The bound is per opening: what a flood
// costs in all grows with the attacker's speed, which the kernel's accept
// queue, not the swarm, sets.
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
	used := float64(p.cpuTicks()-before) / 100 // ticks are 1/100 s
	share := used / time.Since(start).Seconds()
	perOpening := time.Duration(used / float64(max(n, 1)) * float64(time.Second))
	t.Logf("%d MSE openings from one IP in %v (%.0f/s): the swarm used %.1f%% of a core, %v of CPU an opening", n, d, float64(n)/d.Seconds(), 100*share, perOpening)
	if perOpening > 35*time.Microsecond {
		t.Fatalf("an opening cost the swarm %v of CPU (answering its Diffie-Hellman costs 354us)", perOpening)
	}
	honestSwarm(t, "127.15.0.1", addr)
}

// A swarm holding many peers that tell it nothing new does next to no
// work: its idle CPU over twenty seconds, once they are all connected.
func TestBTIdleCPU(t *testing.T) {
	n := size(500, 2000)
	p := startSwarm(t, "--max-peers", fmt.Sprint(n+10))
	addr := p.addr("tcp")
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
	before := p.cpuTicks()
	const window = 20 * time.Second
	time.Sleep(window)
	share := float64(p.cpuTicks()-before) / 100 / window.Seconds()
	u := p.usage()
	t.Logf("%d idle peers: %.2f%% of a core over %v; %v (%.1f KiB a peer)", n, 100*share, window, u, float64(u.rssKiB)/float64(n))
	if share > 0.02 {
		t.Fatalf("an idle swarm of %d used %.1f%% of a core", n, 100*share)
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
	time.Sleep(500 * time.Millisecond)
	pexAttack("127.45.0.1", addr, 1, []netip.AddrPort{netip.MustParseAddrPort(victim)})
	time.Sleep(2 * time.Second)
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.dials[victim] == 0 {
		t.Fatal("one peer's yourip claim kept the swarm from dialing the address")
	}
}
