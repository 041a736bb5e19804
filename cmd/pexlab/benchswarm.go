// pexlab bench swarm: its flags, its run step by step, and what it reports.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
	"github.com/seed0021ed4d/pex/lab/proc"
)

var benchSwarmCmd = &cli.Command{
	Name:    "bench swarm",
	Summary: "a BitTorrent swarm of many idle peers: memory, CPU and PEX, pex against libtorrent",
	About: "Starts `pex bt swarm` (this binary, or --pex) and, unless --no-libtorrent, a " +
		"python3-libtorrent seed, and connects --peers fake peers to each from this process: " +
		"each from an address of its own (127.x.y.z), through the BitTorrent and extended " +
		"handshakes (ut_pex, a listen port), then idle but for keep-alives; one target at a " +
		"time, each with the machine to itself. It reports each " +
		"target's memory per peer (its anonymous memory and its RSS with the peers less " +
		"before them, over the peers), its CPU over --idle while the peers sit there (or, with --churn, come and go), and the ut_pex messages the " +
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
	Name         string  `json:"name"`
	Peers        int     `json:"peers"`
	RSSBeforeKiB int     `json:"rss_before_kib"`
	RSSKiB       int     `json:"rss_kib"`
	KiBPerPeer   float64 `json:"kib_per_peer"` // of RSS
	// The target's own (anonymous) memory, before and with the peers, and
	// per peer: what the two targets are compared on.
	AnonBeforeKiB  int        `json:"anon_before_kib"`
	AnonKiB        int        `json:"anon_kib"`
	AnonKiBPerPeer float64    `json:"anon_kib_per_peer"`
	CPUPercent     float64    `json:"cpu_percent"`
	PEX            pexSummary `json:"pex"`
	Churned        int        `json:"churned,omitempty"` // peers replaced while measuring (--churn)
	// Disconnects are the target's own reasons for closing fake peers,
	// when it says (libtorrent).
	Disconnects map[string]any `json:"disconnects,omitempty"`
}

// benchSwarm is one run of pexlab bench swarm.
type benchSwarm struct {
	o      benchSwarmOpts
	pr     *cli.Printer
	ih     [20]byte     // the torrent's: libtorrent's, or made up (--no-libtorrent)
	px, lt *benchTarget // pex and libtorrent once started, else nil
}

// runBenchSwarm runs pexlab bench swarm: it checks the flags, starts the
// targets, measures each in turn, and sums up.
func runBenchSwarm(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	b := new(benchSwarm)
	if err := b.o.parse(args, stdout, stderr); err != nil {
		return err
	}
	raiseFileLimit()
	b.pr = cli.NewPrinter(stdout, b.o.json)
	dir, err := os.MkdirTemp("", "pex-bench-swarm")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer b.stopTargets() // before cancel, which would kill them
	if err := b.startTargets(ctx, dir); err != nil {
		return err
	}
	// One target at a time, each with the machine to itself.
	var results []swarmTargetResult
	for i, t := range b.targets() {
		r, err := b.measure(ctx, i, t)
		if err != nil {
			return err
		}
		results = append(results, r)
		b.reportTarget(r)
	}
	b.summarise(results)
	return nil
}

// parse parses and checks the flags, and finds the pex to measure.
func (o *benchSwarmOpts) parse(args []string, stdout, stderr io.Writer) error {
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
	c.HostPort("pex-metrics", o.pexMetrics)
	if err := c.Report(stderr); err != nil {
		return err
	}
	var err error
	o.pexBin, err = findPex(o.pexBin)
	return err
}

// measure measures target i, t: its fake peers connect, settle, sit idle
// while it is measured, and go.
func (b *benchSwarm) measure(ctx context.Context, i int, t *benchTarget) (swarmTargetResult, error) {
	b.connectFakes(ctx, i, t)
	defer t.fakes.close()
	r := swarmTargetResult{Name: t.name, RSSBeforeKiB: t.memBefore.RSS, AnonBeforeKiB: t.memBefore.Anon}
	var err error
	if r.CPUPercent, err = b.measureIdle(ctx, t); err != nil {
		return r, fmt.Errorf("%s: %w", t.name, err)
	}
	r.Churned = t.fakes.churnedCount()
	mem, err := proc.ReadMemory(t.cmd.Process.Pid)
	if err != nil {
		return r, fmt.Errorf("%s: %w", t.name, err)
	}
	r.RSSKiB, r.AnonKiB = mem.RSS, mem.Anon
	r.Peers = t.fakes.alive()
	if r.Peers > 0 {
		r.KiBPerPeer = cli.Round1(float64(r.RSSKiB-r.RSSBeforeKiB) / float64(r.Peers))
		r.AnonKiBPerPeer = cli.Round1(float64(r.AnonKiB-r.AnonBeforeKiB) / float64(r.Peers))
	}
	r.CPUPercent = float64(int(r.CPUPercent*100+0.5)) / 100
	r.PEX = t.fakes.summary(r.Peers)
	if st, ok := t.last.Load().(map[string]any); ok {
		r.Disconnects, _ = st["disconnects"].(map[string]any)
	}
	return r, nil
}

// connectFakes notes t's memory, connects --peers fake peers to it (from
// addresses of their own, a block a target) and lets them settle.
func (b *benchSwarm) connectFakes(ctx context.Context, i int, t *benchTarget) {
	t.memBefore, _ = proc.ReadMemory(t.cmd.Process.Pid)
	t.fakes = &fakePeers{ih: b.ih, target: t.addr, block: byte(10 + 10*i)}
	start := time.Now()
	// Fewer dials at once than the targets' handshake budgets (pex's
	// is 128), so that none is ended to make room for another.
	up := t.fakes.connect(ctx, b.o.peers, 64)
	b.pr.Event("connected", "target", t.name, "peers", up, "s", cli.Round1(time.Since(start).Seconds()))
	time.Sleep(5 * time.Second)
}

// measureIdle measures t's CPU over --idle while its fake peers sit there
// or, with --churn, come and go.
func (b *benchSwarm) measureIdle(ctx context.Context, t *benchTarget) (float64, error) {
	cctx, stopChurn := context.WithCancel(ctx)
	churned := make(chan struct{})
	go func() {
		defer close(churned)
		t.fakes.churn(cctx, b.o.churn*float64(b.o.peers), b.o.peers)
	}()
	cpu, err := idleCPU(t.cmd.Process.Pid, b.o.idle)
	stopChurn()
	<-churned
	return cpu, err
}

// reportTarget prints what was measured of one target.
func (b *benchSwarm) reportTarget(r swarmTargetResult) {
	tf := []any{"name", r.Name, "peers", r.Peers, "anon_kib", r.AnonKiB, "anon_kib_per_peer", r.AnonKiBPerPeer, "rss_kib", r.RSSKiB, "kib_per_peer", r.KiBPerPeer, "cpu_percent", r.CPUPercent,
		"pex_messages", r.PEX.Messages, "pex_mean_bytes", cli.Round1(r.PEX.MeanBytes), "pex_max_added", r.PEX.MaxAdded,
		"pex_min_spacing_s", cli.Round(r.PEX.MinSpacingS, 3), "pex_median_spacing_s", cli.Round(r.PEX.MedianSpacingS, 3), "churned", r.Churned}
	if len(r.Disconnects) > 0 {
		tf = append(tf, "disconnects", r.Disconnects)
	}
	b.pr.Event("target", tf...)
}

// summarise prints the summary: pex's figures over libtorrent's.
func (b *benchSwarm) summarise(results []swarmTargetResult) {
	f := []any{"peers", b.o.peers, "idle_s", cli.Seconds(b.o.idle), "churn", b.o.churn}
	if b.o.json { // the target lines say it all in text
		f = append(f, "targets", results)
	}
	if len(results) == 2 && results[1].KiBPerPeer > 0 {
		if results[1].AnonKiBPerPeer > 0 {
			f = append(f, "anon_ratio", cli.Round1(results[0].AnonKiBPerPeer/results[1].AnonKiBPerPeer))
		}
		f = append(f, "rss_ratio", cli.Round1(results[0].KiBPerPeer/results[1].KiBPerPeer))
		if results[1].CPUPercent > 0 {
			f = append(f, "cpu_ratio", cli.Round1(results[0].CPUPercent/results[1].CPUPercent))
		}
	}
	b.pr.Event("summary", f...)
}
