package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp"
)

const demoNetwork = "pex-demo"

var demoCmd = &cli.Command{
	Name:    "demo",
	Summary: "watch a PXP network grow on loopback, in one process",
	About: "Starts a bootstrap node and --nodes more nodes in this process, on 127.0.0.1 " +
		"only, with no outside network. Each node connects to the bootstrap node over TCP " +
		"and grows its peer set to --want peers with GetNewPeer, meeting other nodes " +
		"through a relay: odd nodes listen and are dialed directly, even ones meet over " +
		"WebRTC on loopback (--no-direct and --no-webrtc turn either off). It prints " +
		"progress, then a table: each node's peers and their transports, the time it took " +
		"to reach --want, its GetNewPeer calls and failures, and the control messages and " +
		"bytes it sent. It exits 0 as soon as every node reached --want, 1 after --timeout, " +
		"and 130 when interrupted (SIGINT; 143 for SIGTERM).",
	Examples: []string{
		"pex demo",
		"pex demo --nodes 200 --want 8 --timeout 2m",
		"pex demo --no-webrtc --json",
	},
	Flags: func() *flag.FlagSet { return new(demoOpts).flagSet() },
}

type demoOpts struct {
	nodes, want        int
	timeout            time.Duration
	json, quiet        bool
	noWebRTC, noDirect bool
	logLevel           string
}

func (o *demoOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pex demo", flag.ContinueOnError)
	fs.IntVar(&o.nodes, "nodes", 8, "`N` nodes besides the bootstrap node (2 to 200)")
	fs.IntVar(&o.want, "want", 4, "`K` peers each node grows to with GetNewPeer (1 to N)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "give up, exit 1, after `D`")
	fs.BoolVar(&o.noWebRTC, "no-webrtc", false, "no WebRTC: introductions end in a direct dial or stay relayed")
	fs.BoolVar(&o.noDirect, "no-direct", false, "no node listens for direct TCP dials")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	fs.BoolVar(&o.quiet, "quiet", false, cli.QuietUsage+" (the summary is an event then)")
	cli.AddLogLevel(fs, &o.logLevel)
	return fs
}

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o demoOpts
	fs := o.flagSet()
	if err := demoCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pex demo"}
	c.NoArgs(fs.Args())
	if o.nodes < 2 || o.nodes > 200 {
		c.Fail("nodes", "must be 2 to 200 (got %d)", o.nodes)
	}
	if o.want < 1 || o.want > o.nodes {
		c.Fail("want", "must be 1 to --nodes (got %d)", o.want)
	}
	if o.timeout <= 0 {
		c.Fail("timeout", "must be positive (got %v)", o.timeout)
	}
	c.LogLevel(o.logLevel)
	if err := c.Report(stderr); err != nil {
		return err
	}
	pr := cli.NewPrinter(stdout, o.json).Quiet(o.quiet)
	d := &demo{pr: pr, want: o.want, start: time.Now(), noWebRTC: o.noWebRTC, noDirect: o.noDirect, quiet: o.quiet,
		logger: cli.Logger(o.logLevel, stderr)}
	return d.run(ctx, o.nodes, o.timeout)
}

type demoNode struct {
	name    string
	ex      *pxp.Exchange
	reached time.Duration // time to reach the target, 0 while not reached
	calls   int
	fails   int
}

type demo struct {
	noWebRTC bool
	noDirect bool
	quiet    bool
	logger   *slog.Logger // --log-level's, or nil: silent
	pr       *cli.Printer
	want     int
	start    time.Time
	wg       sync.WaitGroup
	mu       sync.Mutex
	reached  int           // nodes that reached want; guarded by mu
	allDone  chan struct{} // closed when every node has reached want
	nodes    int
}

// run runs the demo of n nodes until every node reached --want, timeout
// passed, or ctx ended (a signal: ErrInterrupted).
func (d *demo) run(parent context.Context, n int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(parent, timeout)
	defer cancel()
	d.nodes, d.allDone = n, make(chan struct{})
	// The bootstrap node takes every node of the demo: all of them, on one
	// machine, share one address and prefix.
	// Its relays too: every node is one address and prefix here, which
	// the per-prefix relay share would hold to a quarter of the slots.
	boot, err := pxp.New(demoNetwork, &pxp.Config{MaxPeers: n + 16, ReservedOutbound: -1, MaxHandshakes: n + 16, MaxHandshakesPerIP: n + 16,
		MaxRelays: 4 * n, MaxRelaysPerPrefix: 4 * n, Logger: d.nodeLogger("boot")})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.pr.Event("listening", "addr", ln.Addr().String(), "node", "boot")
	d.pr.Text("bootstrap node listening on %s; starting %d nodes, each growing to %d peers", ln.Addr(), n, d.want)
	all := []*demoNode{{name: "boot", ex: boot}}
	runCtx, stopAll := context.WithCancel(ctx)
	d.acceptLoop(runCtx, ln, boot)
	d.wg.Add(1)
	go d.drainIncoming(runCtx, boot)
	switch {
	case !d.noDirect && !d.noWebRTC:
		d.pr.Text("odd nodes listen for direct TCP dials, even ones meet over WebRTC (loopback only)")
	case !d.noDirect:
		d.pr.Text("odd nodes listen for direct TCP dials; the others meet through relayed sessions")
	case !d.noWebRTC:
		d.pr.Text("nodes meet over WebRTC (loopback only)")
	default:
		d.pr.Text("nodes meet through relayed sessions")
	}
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("n%d", i)
		ex, err := d.newNode(runCtx, name, i%2 == 1)
		if err != nil {
			stopAll()
			return err
		}
		dn := &demoNode{name: name, ex: ex}
		all = append(all, dn)
		d.wg.Add(2)
		go d.drainIncoming(runCtx, ex)
		go d.grow(runCtx, dn, ln.Addr().String())
	}

	// Progress every half second; completion is noticed the moment the
	// last node reaches its target.
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-ctx.Done():
			done = true
		case <-d.allDone:
			done = true
		case <-tick.C:
			d.mu.Lock()
			reached := d.reached
			d.mu.Unlock()
			d.pr.Event("progress", "reached", reached, "nodes", n, "elapsed_s", cli.Seconds(time.Since(d.start)), "elapsed_ms", ms(time.Since(d.start)))
		}
	}
	// What happens while the nodes close (their GetNewPeer calls failing
	// because the demo ends) is not news: the printer stops here, and the
	// summary is the last thing printed.
	d.mu.Lock()
	reached := d.reached
	d.mu.Unlock()
	ok := reached == n
	d.summary(all)
	d.pr.Close()
	stopAll()
	ln.Close()
	for _, dn := range all {
		dn.ex.Close()
	}
	d.wg.Wait()
	switch {
	case ok:
		return nil
	case parent.Err() != nil:
		return fmt.Errorf("demo: %w after %v: %d of %d nodes had reached %d peers", cli.ErrInterrupted, time.Since(d.start).Round(100*time.Millisecond), reached, n, d.want)
	}
	return fmt.Errorf("demo: timed out after --timeout %v: %d of %d nodes reached %d peers (the others are in the summary)", timeout, reached, n, d.want)
}

// nodeLogger is the logger of the demo node called name: --log-level's,
// each line naming its node, or nil.
func (d *demo) nodeLogger(name string) *slog.Logger {
	if d.logger == nil {
		return nil
	}
	return d.logger.With("node", name)
}

// newNode makes the demo node called name: with WebRTC on loopback, a
// dialer for advertised addresses, and, when listen is set, a TCP
// listener it advertises.
func (d *demo) newNode(ctx context.Context, name string, listen bool) (*pxp.Exchange, error) {
	opts := nodeOpts{iceLoopback: true, noWebRTC: d.noWebRTC, noDirect: d.noDirect, logger: d.nodeLogger(name)}
	var ln net.Listener
	var laddr net.Addr
	if listen && !d.noDirect {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, err
		}
		laddr = ln.Addr()
	}
	cfg, err := opts.exchangeConfig(laddr)
	if err != nil {
		return nil, err
	}
	cfg.MaxRelays, cfg.MaxRelaysPerPrefix = 64, 64 // one machine: one prefix
	ex, err := pxp.New(demoNetwork, cfg)
	if err != nil {
		return nil, err
	}
	if ln != nil {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			<-ctx.Done()
			ln.Close()
		}()
		d.acceptLoop(ctx, ln, ex)
	}
	return ex, nil
}

// acceptLoop runs PXP as the incoming side on every connection ln accepts,
// until ln or the node is closed; the streams arrive on Incoming, which
// drainIncoming reads.
func (d *demo) acceptLoop(ctx context.Context, ln net.Listener, ex *pxp.Exchange) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		ex.Serve(ln)
	}()
}

// grow connects a node to the bootstrap node and calls GetNewPeer until it
// has the wanted number of peers.
func (d *demo) grow(ctx context.Context, dn *demoNode, boot string) {
	defer d.wg.Done()
	// Join through the bootstrap node, again after a failure (it may be
	// busy with everyone else's handshakes), waiting longer each time.
	var dc *pxp.Conn
	for wait := 50 * time.Millisecond; ; wait = min(2*wait, 2*time.Second) {
		c, err := net.Dial("tcp", boot)
		if err == nil {
			if dc, err = dn.ex.Connect(ctx, c); err == nil {
				break
			}
		}
		if ctx.Err() != nil {
			return
		}
		d.pr.Event("error", "node", dn.name, "error", err.Error(), "retry_s", cli.Seconds(wait), "retry_ms", wait.Milliseconds())
		if !sleepCtx(ctx, wait) {
			return
		}
	}
	d.goDrain(ctx, dc)
	for ctx.Err() == nil {
		if dn.ex.Stats().Peers >= d.want {
			d.mu.Lock()
			if dn.reached == 0 {
				dn.reached = time.Since(d.start)
				d.pr.Event("reached", "node", dn.name, "peers", dn.ex.Stats().Peers, "elapsed_s", cli.Seconds(dn.reached), "ms", ms(dn.reached))
				if d.reached++; d.reached == d.nodes {
					close(d.allDone)
				}
			}
			d.mu.Unlock()
			if !sleepCtx(ctx, 200*time.Millisecond) {
				return
			}
			continue
		}
		start := time.Now()
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		nc, err := dn.ex.GetNewPeer(gctx)
		cancel()
		d.mu.Lock()
		dn.calls++
		if err != nil {
			dn.fails++
		}
		d.mu.Unlock()
		if err != nil {
			if !sleepCtx(ctx, 100*time.Millisecond) {
				return
			}
			continue
		}
		d.pr.Event("getnewpeer", "node", dn.name, "transport", nc.Transport(), "latency_ms", cli.Millis(time.Since(start)), "ms", ms(time.Since(start)), "peers", dn.ex.Stats().Peers)
		d.goDrain(ctx, nc)
	}
}

func (d *demo) drainIncoming(ctx context.Context, ex *pxp.Exchange) {
	defer d.wg.Done()
	for c := range ex.Incoming() {
		d.goDrain(ctx, c)
	}
}

func (d *demo) goDrain(ctx context.Context, c *pxp.Conn) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.drain(ctx, c)
	}()
}

// drain greets on a data stream and reads until it ends.
func (d *demo) drain(ctx context.Context, c *pxp.Conn) {
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	defer c.Close()
	io.WriteString(c, "hello\n")
	io.Copy(io.Discard, c)
}
