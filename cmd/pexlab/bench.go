package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"sort"
	"time"

	"github.com/seed0021ed4d/pex/lab/proc"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/webrtc"
)

var benchCmd = &cli.Command{
	Name:    "bench getnewpeer",
	Summary: "GetNewPeer and node memory, Go against the JS reference",
	About: "Measures GetNewPeer on loopback: --n introductions each for Go over WebRTC, " +
		"over a direct TCP dial and as a relayed session, and for the pinned JS reference " +
		"(peer-exchange 2.2.0) over WebRTC, printing p50 and p95 in milliseconds; then the " +
		"memory of a Go node (the pex binary of --pex) and of a JS node, each holding one " +
		"WebRTC link (anonymous memory, the process's own, on which the two are compared; " +
		"RSS, PSS, file-backed and peak beside it, from /proc/PID/smaps_rollup); then Go and JS " +
		"meeting each other, a pex node process and a JS node introduced through a hub in " +
		"both directions (go-js-webrtc: pex asks, js-go-webrtc: JS asks), each round with " +
		"fresh processes, and with --baseline the same rounds with another pex binary, " +
		"alternating, for a ratio. The JS side needs Node and the packages of --js " +
		"(npm ci there). BENCHMARKS.md records the results.",
	Examples: []string{
		"pexlab bench getnewpeer",
		"pexlab bench getnewpeer --n 100 --js testdata/js --json",
		"pexlab bench getnewpeer --no-js",
		"pexlab bench getnewpeer --n 20 --baseline /tmp/pex-old",
	},
	Flags: func() *flag.FlagSet { return new(benchOpts).flagSet() },
}

type benchOpts struct {
	n        int
	jsDir    string
	noJS     bool
	json     bool
	pexBin   string
	baseline string
}

func (o *benchOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pexlab bench getnewpeer", flag.ContinueOnError)
	fs.IntVar(&o.n, "n", 20, "`N` introductions to time per setup (at least 1)")
	fs.StringVar(&o.jsDir, "js", "testdata/js", "`DIR` of the pinned JS reference (package.json, node_modules, node.js)")
	fs.BoolVar(&o.noJS, "no-js", false, "measure Go only")
	fs.StringVar(&o.pexBin, "pex", "", "the pex `BINARY` to run as the Go node whose memory is measured (default: pex beside pexlab, else on PATH)")
	fs.StringVar(&o.baseline, "baseline", "", "a second pex `BINARY` (an older build) whose Go-JS introductions are timed in the same run, round for round, for a ratio")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

// runBench measures GetNewPeer latency and the memory of a node holding one
// WebRTC link, Go against the pinned JS reference, on loopback, in one run.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		prog.WriteGroup(stdout, "bench")
		return flag.ErrHelp
	}
	if len(args) > 0 && args[0] == "relay" {
		return runBenchRelay(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 && args[0] == "swarm" {
		return runBenchSwarm(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "getnewpeer" {
		fmt.Fprintf(stderr, "pexlab bench: the benchmarks are %s\n", prog.GroupNames("bench"))
		fmt.Fprintln(stderr, "Run \"pexlab help bench\" for each one's synopsis, \"pexlab bench NAME -h\" for its flags and examples.")
		return cli.ErrUsage
	}
	var o benchOpts
	fs := o.flagSet()
	if err := benchCmd.ParseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pexlab bench getnewpeer"}
	c.NoArgs(fs.Args())
	if o.n < 1 {
		c.Fail("n", "must be at least 1 (got %d)", o.n)
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	var err error
	if o.pexBin, err = findPex(o.pexBin); err != nil {
		return err
	}
	pr := cli.NewPrinter(stdout, o.json)
	type result struct {
		name     string
		p50, p95 float64
	}
	var results []result
	add := func(name string, ms []float64) {
		p50, p95 := cli.Round(percentile(ms, 50), 3), cli.Round(percentile(ms, 95), 3)
		results = append(results, result{name, p50, p95})
		pr.Event("latency", "setup", name, "n", len(ms), "p50_ms", p50, "p95_ms", p95)
	}
	for _, mode := range []string{"webrtc", "direct", "relay"} {
		ms, err := benchGo(ctx, mode, o.n)
		if err != nil {
			return fmt.Errorf("go %s: %w", mode, err)
		}
		add("go-"+mode, ms)
	}
	goMem, err := goNodeMem(ctx, o.pexBin)
	if err != nil {
		return fmt.Errorf("go rss: %w", err)
	}
	memEvent := func(node string, m proc.Memory) {
		pr.Event("rss", "node", node, "peak_kib", m.Peak, "rss_kib", m.RSS, "pss_kib", m.PSS, "anon_kib", m.Anon, "file_kib", m.File)
	}
	memEvent("go", goMem)
	var jsP50 float64
	var jsMem proc.Memory
	var mixed map[string][]float64
	if !o.noJS {
		ms, mem, err := benchJS(ctx, o.jsDir, o.n)
		if err != nil {
			return fmt.Errorf("js: %w", err)
		}
		add("js-webrtc", ms)
		jsP50, jsMem = percentile(ms, 50), mem
		memEvent("js", jsMem)
		if mixed, err = benchMixed(ctx, o.pexBin, o.baseline, o.jsDir, o.n); err != nil {
			return fmt.Errorf("go-js: %w", err)
		}
		for _, setup := range mixedSetups {
			add(setup, mixed[setup])
			if b := mixed[setup+"-baseline"]; b != nil {
				add(setup+"-baseline", b)
				pr.Event("ratio", "setup", setup, "baseline_p50_over_p50", cli.Round(percentile(b, 50)/percentile(mixed[setup], 50), 3))
			}
		}
	}
	if o.json {
		if jsP50 > 0 {
			pr.Event("ratio", "js_p50_over_go_webrtc_p50", cli.Round(jsP50/results[0].p50, 3),
				"js_anon_over_go_anon", cli.Round(float64(jsMem.Anon)/float64(goMem.Anon), 3), "js_rss_over_go_rss", cli.Round(float64(jsMem.RSS)/float64(goMem.RSS), 3))
		}
		return nil
	}
	pr.Text("\n%-21s %10s %10s %12s", "setup", "p50 ms", "p95 ms", "JS p50 / p50")
	for _, r := range results {
		ratio := "-"
		if jsP50 > 0 {
			ratio = fmt.Sprintf("%.1fx", jsP50/r.p50)
		}
		pr.Text("%-21s %10.2f %10.2f %12s", r.name, r.p50, r.p95, ratio)
	}
	// Anonymous memory is the process's own; RSS also counts the
	// executable's and libraries' pages, which the page cache holds for
	// every process that maps them. The two programs are compared on
	// anonymous memory (proc.Memory).
	pr.Text("\na node holding one WebRTC link, MiB: %8s %8s %8s %8s %8s", "anon", "RSS", "PSS", "file", "peak")
	row := func(node string, m proc.Memory) {
		mib := func(kib int) float64 { return float64(kib) / 1024 }
		pr.Text("%-35s %8.1f %8.1f %8.1f %8.1f %8.1f", node, mib(m.Anon), mib(m.RSS), mib(m.PSS), mib(m.File), mib(m.Peak))
	}
	row("Go", goMem)
	if jsMem.RSS > 0 {
		row("JS", jsMem)
		ratio := func(js, gov int) float64 { return float64(js) / float64(gov) }
		pr.Text("%-35s %7.1fx %7.1fx %7.1fx %7.1fx %7.1fx", "JS / Go", ratio(jsMem.Anon, goMem.Anon), ratio(jsMem.RSS, goMem.RSS),
			ratio(jsMem.PSS, goMem.PSS), ratio(jsMem.File, goMem.File), ratio(jsMem.Peak, goMem.Peak))
	}
	return nil
}

func percentile(ms []float64, p int) float64 {
	s := append([]float64(nil), ms...)
	sort.Float64s(s)
	i := (len(s)*p + 99) / 100
	return s[max(0, min(len(s)-1, i-1))]
}

// benchNode is an exchange of the bench's, set up as pex node would be
// for mode ("webrtc": introductions upgraded over loopback ICE; "direct":
// by a TCP dial to the advertised address; "relay": kept relayed) but
// taking every request (the bench asks back to back), and, when listen is
// set, serving a loopback listener it returns.
func benchNode(mode string, listen bool) (*pxp.Exchange, net.Listener, error) {
	var ln net.Listener
	var laddr net.Addr
	if listen {
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return nil, nil, err
		}
		laddr = ln.Addr()
	}
	fail := func(err error) (*pxp.Exchange, net.Listener, error) {
		if ln != nil {
			ln.Close()
		}
		return nil, nil, err
	}
	cfg := &pxp.Config{}
	switch mode {
	case "webrtc":
		up, err := webrtc.New(&webrtc.Config{Loopback: true})
		if err != nil {
			return fail(err)
		}
		cfg.Upgrader = up
	case "direct":
		var d net.Dialer
		cfg.Dialer = d.DialContext
		if laddr != nil {
			cfg.AdvertiseAddr = laddr.String()
		}
	}
	cfg.GetPeersRate, cfg.GetPeersBurst = 1000, 1000
	cfg.RequestRate, cfg.RequestBurst = 1000, 1000
	ex, err := pxp.New("bench", cfg)
	if err != nil {
		return fail(err)
	}
	if ln != nil {
		go ex.Serve(ln)
		go func() { // the bench does not read the data streams
			for range ex.Incoming() {
			}
		}()
	}
	return ex, ln, nil
}

// benchGo times n introductions of b to c through a hub, in one process,
// over real TCP and (for webrtc) real UDP on loopback. The link is closed
// after each one so that the next is a new introduction.
func benchGo(ctx context.Context, mode string, n int) ([]float64, error) {
	hub, hl, err := benchNode(mode, true)
	if err != nil {
		return nil, err
	}
	defer hl.Close()
	defer hub.Close()
	b, _, err := benchNode(mode, false)
	if err != nil {
		return nil, err
	}
	defer b.Close()
	c, cl, err := benchNode(mode, mode == "direct")
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if cl != nil {
		defer cl.Close()
	}
	go func() {
		for conn := range c.Incoming() {
			_ = conn
		}
	}()
	for _, ex := range []*pxp.Exchange{b, c} {
		conn, err := net.Dial("tcp", hl.Addr().String())
		if err != nil {
			return nil, err
		}
		if _, err := ex.Connect(ctx, conn); err != nil {
			return nil, err
		}
	}
	var ms []float64
	for i := 0; i < n; i++ {
		start := time.Now()
		gctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		conn, err := b.GetNewPeer(gctx)
		cancel()
		if err != nil {
			return nil, err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
		conn.Peer().Close()
		// Wait until c has dropped b too, so the next round is new.
		for deadline := time.Now().Add(10 * time.Second); len(c.Peers()) > 1 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	return ms, nil
}
