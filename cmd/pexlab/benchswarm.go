package main

import (
	"context"
	_ "embed"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/metainfo"
)

//go:embed lt_bench.py
var ltBenchScript []byte

var benchSwarmCmd = &cli.Command{
	Name:    "bench swarm",
	Summary: "a BitTorrent swarm of many idle peers: memory, CPU and PEX, pex against libtorrent",
	About: "Starts `pex bt swarm` (this binary, or --pex) and, unless --no-libtorrent, a " +
		"python3-libtorrent seed, and connects --peers fake peers to each from this process: " +
		"each from an address of its own (127.x.y.z), through the BitTorrent and extended " +
		"handshakes (ut_pex, a listen port), then idle but for keep-alives; one target at a " +
		"time, each with the machine to itself. It reports each " +
		"target's RSS per peer (its RSS with the peers less its RSS before them, over the " +
		"peers), its CPU over --idle while the peers sit there (or, with --churn, come and go), and the ut_pex messages the " +
		"fake peers received from it (count, mean size, most peers added, spacing), with " +
		"pex's figures over libtorrent's. libtorrent runs under /usr/bin/python3 with its " +
		"DHT, LSD, UPnP and NAT-PMP off. BENCHMARKS.md records the results.",
	Examples: []string{
		"pexlab bench swarm --peers 500",
		"pexlab bench swarm --peers 10000 --idle 90s --json",
	},
	Flags: func() *flag.FlagSet { return new(benchSwarmOpts).flagSet() },
}

type benchSwarmOpts struct {
	peers      int
	idle       time.Duration
	pexBin     string
	noLT       bool
	json       bool
	pexMetrics string
	churn      float64
}

func (o *benchSwarmOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pexlab bench swarm", flag.ContinueOnError)
	fs.IntVar(&o.peers, "peers", 500, "`N` fake peers connected to each target (1 to 60,000)")
	fs.DurationVar(&o.idle, "idle", 70*time.Second, "how long CPU and PEX are measured once every peer is connected, `D`")
	fs.StringVar(&o.pexBin, "pex", "", "the pex `BINARY` to measure (default: pex beside pexlab, else on PATH)")
	fs.BoolVar(&o.noLT, "no-libtorrent", false, "measure pex only")
	fs.Float64Var(&o.churn, "churn", 0, "while measuring, replace this `FRACTION` of the peers a minute (0.1: a tenth leave and as many new ones join)")
	fs.StringVar(&o.pexMetrics, "pex-metrics", "", "have the measured pex serve its metrics and profiles (/debug/pprof/) on `HOST:PORT`")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

// swarmTargetResult is what pexlab bench swarm measured of one target.
type swarmTargetResult struct {
	Name         string     `json:"name"`
	Peers        int        `json:"peers"`
	RSSBeforeKiB int        `json:"rss_before_kib"`
	RSSKiB       int        `json:"rss_kib"`
	KiBPerPeer   float64    `json:"kib_per_peer"`
	CPUPercent   float64    `json:"cpu_percent"`
	PEX          pexSummary `json:"pex"`
	Churned      int        `json:"churned,omitempty"` // peers replaced while measuring (--churn)
	// Disconnects are the target's own reasons for closing fake peers,
	// when it says (libtorrent).
	Disconnects map[string]any `json:"disconnects,omitempty"`
}

func runBenchSwarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o benchSwarmOpts
	fs := o.flagSet()
	if err := benchSwarmCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pexlab bench swarm"}
	c.NoArgs(fs.Args())
	if o.peers < 1 || o.peers > 60000 {
		c.Fail("peers", "must be 1 to 60,000 (got %d)", o.peers)
	}
	if o.churn < 0 || o.churn > 10 {
		c.Fail("churn", "must be 0 to 10 (got %v)", o.churn)
	}
	if o.idle < time.Second {
		c.Fail("idle", "must be at least 1s (got %v)", o.idle)
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	var err error
	if o.pexBin, err = findPex(o.pexBin); err != nil {
		return err
	}
	raiseFileLimit()
	pr := cli.NewPrinter(stdout, o.json)
	dir, err := os.MkdirTemp("", "pex-bench-swarm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	// libtorrent makes the torrent; pex joins its infohash.
	var ih [20]byte
	var lt *benchTarget
	if !o.noLT {
		script := filepath.Join(dir, "lt_bench.py")
		if err := os.WriteFile(script, ltBenchScript, 0o644); err != nil {
			return err
		}
		lt, err = startBenchTarget(ctx, "libtorrent", exec.CommandContext(ctx, "/usr/bin/python3", script, "--listen", "127.0.0.1:0",
			"--dir", dir, "--peers", strconv.Itoa(o.peers)), "ready")
		if err != nil {
			return fmt.Errorf("libtorrent: %w", err)
		}
		defer lt.stop()
		if ih, err = metainfo.ParseInfoHash(lt.ready["infohash"].(string)); err != nil {
			return err
		}
		lt.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(lt.ready["port"].(float64)))
	} else {
		copy(ih[:], "pexlab bench swarm ....")
	}
	pexArgs := []string{"bt", "swarm", "--infohash", hex.EncodeToString(ih[:]),
		"--listen", "127.0.0.1:0", "--max-peers", strconv.Itoa(o.peers + 100), "--no-dht", "--no-portmap", "--no-trackers", "--json"}
	if o.pexMetrics != "" {
		pexArgs = append(pexArgs, "--metrics", o.pexMetrics)
	}
	px, err := startBenchTarget(ctx, "pex", exec.CommandContext(ctx, o.pexBin, pexArgs...), "listening")
	if err != nil {
		return fmt.Errorf("pex: %w", err)
	}
	defer px.stop()
	px.addr = netip.MustParseAddrPort(px.ready["addr"].(string))

	targets := []*benchTarget{px}
	if lt != nil {
		targets = append(targets, lt)
	}
	// One target at a time, each with the machine to itself: its fake
	// peers connect, settle, sit idle while it is measured, and go.
	var results []swarmTargetResult
	for i, t := range targets {
		t.rssBefore, _ = procRSS(t.cmd.Process.Pid)
		t.fakes = &fakePeers{ih: ih, target: t.addr, block: byte(10 + 10*i)}
		start := time.Now()
		// Fewer dials at once than the targets' handshake budgets (pex's
		// is 128), so that none is ended to make room for another.
		up := t.fakes.connect(ctx, o.peers, 64)
		pr.Event("connected", "target", t.name, "peers", up, "s", cli.Round1(time.Since(start).Seconds()))
		time.Sleep(5 * time.Second)
		r := swarmTargetResult{Name: t.name, RSSBeforeKiB: t.rssBefore}
		cctx, stopChurn := context.WithCancel(ctx)
		churned := make(chan struct{})
		go func() {
			defer close(churned)
			t.fakes.churn(cctx, o.churn*float64(o.peers), o.peers)
		}()
		r.CPUPercent, err = idleCPU(t.cmd.Process.Pid, o.idle)
		stopChurn()
		<-churned
		if err != nil {
			t.fakes.close()
			return fmt.Errorf("%s: %w", t.name, err)
		}
		r.Churned = t.fakes.churnedCount()
		r.RSSKiB, _ = procRSS(t.cmd.Process.Pid)
		r.Peers = t.fakes.alive()
		if r.Peers > 0 {
			r.KiBPerPeer = cli.Round1(float64(r.RSSKiB-r.RSSBeforeKiB) / float64(r.Peers))
		}
		r.CPUPercent = float64(int(r.CPUPercent*100+0.5)) / 100
		r.PEX = t.fakes.summary(r.Peers)
		if st, ok := t.last.Load().(map[string]any); ok {
			r.Disconnects, _ = st["disconnects"].(map[string]any)
		}
		t.fakes.close()
		results = append(results, r)
		tf := []any{"name", r.Name, "peers", r.Peers, "rss_kib", r.RSSKiB, "kib_per_peer", r.KiBPerPeer, "cpu_percent", r.CPUPercent,
			"pex_messages", r.PEX.Messages, "pex_mean_bytes", cli.Round1(r.PEX.MeanBytes), "pex_max_added", r.PEX.MaxAdded,
			"pex_min_spacing_s", r.PEX.MinSpacingS, "pex_median_spacing_s", r.PEX.MedianSpacingS, "churned", r.Churned}
		if len(r.Disconnects) > 0 {
			tf = append(tf, "disconnects", r.Disconnects)
		}
		pr.Event("target", tf...)
	}
	f := []any{"peers", o.peers, "idle_s", o.idle.Seconds(), "churn", o.churn}
	if o.json { // the target lines say it all in text
		f = append(f, "targets", results)
	}
	if len(results) == 2 && results[1].KiBPerPeer > 0 {
		f = append(f, "rss_ratio", cli.Round1(results[0].KiBPerPeer/results[1].KiBPerPeer))
		if results[1].CPUPercent > 0 {
			f = append(f, "cpu_ratio", cli.Round1(results[0].CPUPercent/results[1].CPUPercent))
		}
	}
	pr.Event("summary", f...)
	return nil
}

// benchTarget is a process whose peers the bench fakes.
type benchTarget struct {
	name      string
	cmd       *exec.Cmd
	ready     map[string]any
	addr      netip.AddrPort
	rssBefore int
	fakes     *fakePeers
	done      chan struct{}
	last      atomic.Value // its last status event (libtorrent's say why peers left)
}

// startBenchTarget starts cmd and waits for its event ready; its later
// output is read and dropped.
func startBenchTarget(ctx context.Context, name string, cmd *exec.Cmd, ready string) (*benchTarget, error) {
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &benchTarget{name: name, cmd: cmd, done: make(chan struct{})}
	events := jsonLines(out)
	var ev map[string]any
	for ev == nil || ev["transport"] != nil { // pex's --metrics listens too
		if ev, err = waitFor(events, ready, 60*time.Second); err != nil {
			t.stop()
			return nil, err
		}
	}
	t.ready = ev
	go func() {
		defer close(t.done)
		for ev := range events {
			if ev["event"] == "status" {
				t.last.Store(ev)
			}
		}
	}()
	return t, nil
}

func (t *benchTarget) stop() {
	t.cmd.Process.Signal(os.Interrupt)
	tm := time.AfterFunc(10*time.Second, func() { t.cmd.Process.Kill() })
	t.cmd.Wait()
	tm.Stop()
}

// raiseFileLimit lifts this process's open-file limit to its hard limit
// (the targets inherit it): every fake peer is a socket here and one at
// the target.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil {
		return
	}
	want := l
	want.Cur, want.Max = max(l.Max, 1<<17), max(l.Max, 1<<17) // raising the hard limit needs root
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want) != nil && l.Cur < l.Max {
		l.Cur = l.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
