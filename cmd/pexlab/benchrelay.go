package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/seed0021ed4d/pex/lab/proc"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

var benchRelayCmd = &cli.Command{
	Name:    "bench relay",
	Summary: "a relay holding many idle links: memory, idle CPU, introductions",
	About: "Starts a relay (`pex node --no-webrtc`, the pex binary of --pex) and opens --links idle " +
		"PXP links to it from this process, then reports the relay's memory per link (its " +
		"anonymous memory, and its RSS, with the links less before them, over --links) and " +
		"its CPU while the links " +
		"sit idle. It times GetNewPeer through the relay when it holds 10 links and again at " +
		"--links, and then has --clients clients call GetNewPeer at once, --rounds times each: " +
		"introductions per second, p50 and p99, errors. Unless --no-js, the pinned JS " +
		"reference's relay (--js) is measured the same way for memory and idle CPU in the " +
		"same run, and the two compared on anonymous memory. BENCHMARKS.md records the results.",
	Examples: []string{
		"pexlab bench relay --links 1000 --no-js",
		"pexlab bench relay --links 10000 --clients 200 --json",
	},
	Flags: func() *flag.FlagSet { return new(benchRelayOpts).flagSet() },
}

type benchRelayOpts struct {
	links, clients, rounds int
	idle                   time.Duration
	jsDir, pexBin          string
	noJS, json             bool
}

func (o *benchRelayOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pexlab bench relay", flag.ContinueOnError)
	fs.IntVar(&o.links, "links", 1000, "`N` idle links the relay holds (at least 10)")
	fs.IntVar(&o.clients, "clients", 200, "`C` clients calling GetNewPeer at once through the relay (0: none)")
	fs.IntVar(&o.rounds, "rounds", 5, "GetNewPeer calls of each client, `R`")
	fs.DurationVar(&o.idle, "idle", 10*time.Second, "how long the idle CPU is measured, `D`")
	fs.StringVar(&o.jsDir, "js", "testdata/js", "`DIR` of the pinned JS reference (package.json, node_modules, node.js)")
	fs.BoolVar(&o.noJS, "no-js", false, "measure the Go relay only")
	fs.StringVar(&o.pexBin, "pex", "", "the pex `BINARY` to run as the relay (default: pex beside pexlab, else on PATH)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

func runBenchRelay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o benchRelayOpts
	fs := o.flagSet()
	if err := benchRelayCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pexlab bench relay"}
	c.NoArgs(fs.Args())
	if o.links < 10 {
		c.Fail("links", "must be at least 10 (got %d)", o.links)
	}
	c.NonNegative("clients", int64(o.clients))
	if o.rounds < 1 {
		c.Fail("rounds", "must be at least 1 (got %d)", o.rounds)
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	var err error
	if o.pexBin, err = findPex(o.pexBin); err != nil {
		return err
	}
	pr := cli.NewPrinter(stdout, o.json)
	goRelay := exec.CommandContext(ctx, o.pexBin, "node", "--network", "bench", "--listen", "127.0.0.1:0", "--no-webrtc", "--no-direct",
		"--no-portmap", "--max-peers", strconv.Itoa(2*(o.links+o.clients)+16), "--max-relays", strconv.Itoa(2*o.clients+16), "--json")
	goRes, err := o.measure(ctx, "go", goRelay, pr, true)
	if err != nil {
		return fmt.Errorf("go relay: %w", err)
	}
	if o.noJS {
		return nil
	}
	dir, err := filepath.Abs(o.jsDir)
	if err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "peer-exchange")); err != nil {
		return fmt.Errorf("the JS reference is not installed in %s (npm ci there): %w", dir, err)
	}
	jsRelay := exec.CommandContext(ctx, "node", filepath.Join(dir, "node.js"), "--network", "bench", "--listen", "0")
	jsRelay.Dir = dir
	jsRes, err := o.measure(ctx, "js", jsRelay, pr, false)
	if err != nil {
		return fmt.Errorf("js relay: %w", err)
	}
	// The two are compared on anonymous memory, the process's own; the
	// RSS ratio is beside it.
	pr.Event("ratio", "js_anon_kib_per_link_over_go", cli.Round(jsRes.perLinkAnon/goRes.perLinkAnon, 3), "js_kib_per_link_over_go", cli.Round(jsRes.perLink/goRes.perLink, 3))
	return nil
}

// relayResult is what measure found of one relay.
type relayResult struct {
	perLink     float64 // KiB of RSS per idle link
	perLinkAnon float64 // KiB of anonymous memory per idle link
}

// measure runs one relay (cmd prints a listening event), fills it with
// idle links and reports its memory and idle CPU; with intros, it times
// introductions through it too.
func (o *benchRelayOpts) measure(ctx context.Context, name string, cmd *exec.Cmd, pr *cli.Printer, intros bool) (relayResult, error) {
	out, _ := cmd.StdoutPipe()
	cmd.Stdin = nil
	if os.Getenv("PEX_DEBUG") != "" {
		cmd.Stderr = os.Stderr // the relay's debug log with ours
	}
	var stdin io.WriteCloser
	if name == "js" {
		stdin, _ = cmd.StdinPipe() // the JS driver quits when its stdin closes
	}
	if err := cmd.Start(); err != nil {
		return relayResult{}, err
	}
	defer func() {
		if stdin != nil {
			stdin.Close()
		}
		cmd.Process.Signal(os.Interrupt) // the relay we started, by its id
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	}()
	events := jsonLines(out)
	ev, err := waitFor(events, "listening", 10*time.Second)
	if err != nil {
		return relayResult{}, err
	}
	go func() {
		for range events { // keep the relay's stdout flowing
		}
	}()
	addr, _ := ev["addr"].(string)
	if addr == "" {
		addr = "127.0.0.1:" + strconv.Itoa(int(ev["port"].(float64)))
	}
	pid := cmd.Process.Pid
	time.Sleep(time.Second)
	base, err := proc.ReadMemory(pid)
	if err != nil {
		return relayResult{}, err
	}
	pool := &linkPool{addr: addr}
	defer pool.close()
	if err := pool.open(ctx, 10); err != nil {
		return relayResult{}, err
	}
	var small []float64
	if intros {
		if small, err = pool.sequential(ctx, 50); err != nil {
			return relayResult{}, fmt.Errorf("introductions at 10 links: %w", err)
		}
	}
	start := time.Now()
	if err := pool.open(ctx, o.links-10); err != nil {
		return relayResult{}, err
	}
	pr.Event("links", "relay", name, "links", o.links, "open_s", cli.Seconds(time.Since(start)))
	time.Sleep(3 * time.Second)
	mem, err := proc.ReadMemory(pid)
	if err != nil {
		return relayResult{}, err
	}
	cpu, err := idleCPU(pid, o.idle)
	if err != nil {
		return relayResult{}, err
	}
	res := relayResult{perLink: float64(mem.RSS-base.RSS) / float64(o.links), perLinkAnon: float64(mem.Anon-base.Anon) / float64(o.links)}
	pr.Event("relay-memory", "relay", name, "links", o.links, "base_kib", base.RSS, "rss_kib", mem.RSS,
		"kib_per_link", cli.Round(res.perLink, 1), "base_anon_kib", base.Anon, "anon_kib", mem.Anon, "anon_kib_per_link", cli.Round(res.perLinkAnon, 1),
		"idle_cpu_pct", cli.Round(cpu, 1))
	if !intros {
		return res, nil
	}
	large, err := pool.sequential(ctx, 50)
	if err != nil {
		return res, fmt.Errorf("introductions at %d links: %w", o.links, err)
	}
	p10, pN := percentile(small, 50), percentile(large, 50)
	pr.Event("relay-latency", "relay", name, "p50_ms_10_links", cli.Round(p10, 3), "p50_ms_n_links", cli.Round(pN, 3), "links", o.links, "ratio", cli.Round(pN/p10, 3))
	if o.clients > 0 {
		n, ms, errs, first, took, err := pool.concurrent(ctx, o.clients, o.rounds)
		if err != nil {
			return res, err
		}
		f := []any{"relay", name, "links", o.links, "clients", o.clients, "introductions", n,
			"per_s", cli.Round(float64(n)/took.Seconds(), 1), "p50_ms", cli.Round(percentile(ms, 50), 3), "p99_ms", cli.Round(percentile(ms, 99), 3), "errors", errs}
		if first != nil {
			f = append(f, "first_error", first.Error())
		}
		pr.Event("relay-throughput", f...)
	}
	return res, nil
}
