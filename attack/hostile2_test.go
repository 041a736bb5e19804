package attack

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

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
// the swarm's CPU stays low under an MSE opening flood.
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
	t.Logf("%d MSE openings from one IP in %v (%.0f/s): the swarm used %.1f%% of a core", n, d, float64(n)/d.Seconds(), 100*share)
	if share > 0.5 {
		t.Fatalf("the swarm used %.0f%% of a core under an opening flood", 100*share)
	}
	honestSwarm(t, "127.15.0.1", addr)
}
