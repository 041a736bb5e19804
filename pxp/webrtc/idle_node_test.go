package webrtc

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

// The one-node idle benchmark: what one node pays for idleLinks idle
// WebRTC links, the other ends in another process (this test binary again,
// started with idleChildEnv), so that the figure is a node's own and not
// both ends' (BenchmarkIdleWebRTCLinks). The child holds a hub (TCP on
// hubHost, a /24 of its own, so that the node's GetNewPeer always has the
// hub among the relays it asks) and the far ends.
const (
	idleChildEnv = "PEX_IDLE_CHILD"         // "asking" or "answering": the node's role
	idleChildCI  = "PEX_IDLE_CHILD_CONSENT" // "<ConsentInterval>,<ConsentTimeout>"
	hubHost      = "127.0.1.1"
)

// runIdleChild is the child's side; TestMain runs it instead of the tests
// when idleChildEnv is set. It prints "hub <addr>"; then, for each line
// the node writes, it makes a far end and links it to the hub. Where the
// node asks, it prints "ready" (the node's GetNewPeer follows); where the
// node answers, the far end asks the hub for a new peer, the node, and it
// prints "linked" once they have a WebRTC link. A failure prints
// "error <why>". Each far end leaves the hub when the next is made. It
// ends when its stdin closes.
func runIdleChild(role string) {
	ci, ct, _ := strings.Cut(os.Getenv(idleChildCI), ",")
	interval, _ := time.ParseDuration(ci)
	timeout, _ := time.ParseDuration(ct)
	up, err := New(&Config{Loopback: true, ConsentInterval: interval, ConsentTimeout: timeout})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	mk := func(webrtc bool) *pxp.Exchange {
		cfg := &pxp.Config{MaxPeers: 4 * idleLinks, GetPeersRate: 1000, GetPeersBurst: 1000, RequestRate: 1000, RequestBurst: 1000}
		if webrtc {
			cfg.Upgrader = up
		}
		ex, err := pxp.New("pxp-mesh", cfg)
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		go func() { // the far ends' data streams stay open, unread
			for range ex.Incoming() {
			}
		}()
		return ex
	}
	hub := mk(false)
	ln, err := net.Listen("tcp", net.JoinHostPort(hubHost, "0"))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	go hub.Serve(ln) // its streams stay open, unread (mk drains Incoming)
	fmt.Println("hub", ln.Addr())
	toHub := func(ex *pxp.Exchange) error {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			return err
		}
		_, err = ex.Connect(context.Background(), c)
		return err
	}
	// Only the WebRTC link stays: a far end leaves the hub once linked to
	// the node, so that the hub offers only the next one.
	leaveHub := func(ex *pxp.Exchange) {
		for _, p := range ex.Peers() {
			if p.Transport() != "webrtc" {
				p.Close()
			}
		}
	}
	var last *pxp.Exchange
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if last != nil {
			leaveHub(last)
		}
		ex := mk(true)
		last = ex
		err := toHub(ex)
		if err == nil && role == "asking" { // the node asks: this far end answers
			fmt.Println("ready")
			continue
		}
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			var c *pxp.Conn
			if c, err = ex.GetNewPeer(ctx); err == nil && c.Transport() != "webrtc" {
				err = fmt.Errorf("a %s link", c.Transport())
			}
			cancel()
		}
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		fmt.Println("linked")
	}
	os.Exit(0) // the node's process measured, this one ends with its links
}

// procCPU is the CPU a process has used (user and system), from
// /proc/<pid>/stat, or 0 where there is none.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// idleNodeCost links one node (in this process) to n far ends in a child
// process over WebRTC, the node asking for every introduction or answering
// every one, waits settle, and returns the CPU, as a share of one core, of
// the node's process and of the child's over window. It fails b if a link
// was not made or did not last.
func idleNodeCost(b testing.TB, role string, cfg *Config, n int, settle, window time.Duration) (nodePct, farPct float64) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), idleChildEnv+"="+role, idleChildCI+"="+cfg.ConsentInterval.String()+","+cfg.ConsentTimeout.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer cmd.Wait()
	defer stdin.Close() // the child ends when its stdin closes
	lines := make(chan string, 1)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	next := func() string {
		select {
		case l, ok := <-lines:
			if !ok {
				b.Fatal("the far ends' process ended")
			}
			return l
		case <-time.After(30 * time.Second):
			b.Fatal("the far ends' process said nothing for 30 s")
		}
		return ""
	}
	hubAddr, ok := strings.CutPrefix(next(), "hub ")
	if !ok {
		b.Fatal("the far ends' process did not start its hub")
	}
	up, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	node := benchNode(b, up, true, 4*n)
	defer node.Close()
	go func() {
		for range node.Incoming() {
		}
	}()
	c, err := net.Dial("tcp", hubAddr)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := node.Connect(context.Background(), c); err != nil {
		b.Fatal(err)
	}
	for i := range n {
		fmt.Fprintln(stdin, i)
		if l := next(); l != "ready" && l != "linked" {
			b.Fatalf("far end %d: %s", i, l)
		}
		if role != "asking" {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		c, err := node.GetNewPeer(ctx)
		cancel()
		if err != nil || c.Transport() != "webrtc" {
			b.Fatalf("link %d: GetNewPeer: %v", i, err)
		}
	}
	for _, p := range node.Peers() { // the hub's link closed: only WebRTC links stay
		if p.Transport() != "webrtc" {
			p.Close()
		}
	}
	if got := len(node.Peers()); got != n {
		b.Fatalf("the node holds %d links, want %d", got, n)
	}
	time.Sleep(settle) // ICE and SCTP past their first exchanges
	farBefore, before, start := procCPU(cmd.Process.Pid), cpuTime(), time.Now()
	time.Sleep(window)
	used, farUsed, wall := cpuTime()-before, procCPU(cmd.Process.Pid)-farBefore, time.Since(start)
	if got := len(node.Peers()); got != n {
		b.Fatalf("the node holds %d links after %v idle, want %d", got, window, n)
	}
	return 100 * used.Seconds() / wall.Seconds(), 100 * farUsed.Seconds() / wall.Seconds()
}

// TestOneNodeManyFarEnds runs the one-node benchmark's set-up small, in
// both roles: one node makes WebRTC links to several exchanges in another
// process, asking for each introduction or answering each, and holds them
// all past a few seconds idle (past the paced consent's first checks with
// ConsentInterval 1 s). It keeps the benchmark working; its CPU figures are
// not looked at.
func TestOneNodeManyFarEnds(t *testing.T) {
	for _, role := range []string{"asking", "answering"} {
		t.Run(role, func(t *testing.T) {
			t.Parallel()
			idleNodeCost(t, role, &Config{Loopback: true, ConsentInterval: time.Second, ConsentTimeout: 3 * time.Second}, 4, 0, 4*time.Second)
		})
	}
}

// BenchmarkIdleWebRTCLinksOneNode measures what one node pays for
// idleLinks idle WebRTC links, with pion's consent schedule (the baseline)
// and the default paced one in the same run: the node asked for every
// introduction (it is each link's ICE controlling side, the one that
// checks consent) or answered every one (the controlled side). The other
// ends (idleLinks exchanges and a hub) run in a second process, reported
// too.
func BenchmarkIdleWebRTCLinksOneNode(b *testing.B) {
	for _, role := range []string{"asking", "answering"} {
		b.Run(role, func(b *testing.B) {
			for b.Loop() {
				pion, pionFar := idleNodeCost(b, role, &Config{Loopback: true, ConsentInterval: -1}, idleLinks, 5*time.Second, 10*time.Second)
				paced, pacedFar := idleNodeCost(b, role, &Config{Loopback: true}, idleLinks, 5*time.Second, 10*time.Second)
				b.ReportMetric(pion/idleLinks, "pion-node-cpu-pct-per-link")
				b.ReportMetric(paced/idleLinks, "node-cpu-pct-per-link")
				b.ReportMetric(paced, "node-cpu-pct-100-links")
				b.ReportMetric(pion/paced, "x-less-cpu-than-pion")
				b.ReportMetric(pionFar, "pion-far-ends-cpu-pct")
				b.ReportMetric(pacedFar, "far-ends-cpu-pct")
			}
		})
	}
}
