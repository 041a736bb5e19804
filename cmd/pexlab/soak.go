// pexlab soak pxp and pexlab soak bt: their flags, and what they print.

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
	"github.com/seed0021ed4d/pex/cmd/pexlab/internal/soak"
)

const soakAbout = "Every --interval it samples the process's anonymous memory (RssAnon of " +
	"/proc/PID/status), its goroutines (go_goroutines of its --metrics), its open file " +
	"descriptors (/proc/PID/fd), its links (%s) and, every --timers-every samples, its " +
	"live timers (the in-use count at time.newTimer in its heap profile, every allocation " +
	"recorded: the process runs with GODEBUG=memprofilerate=1; a profile that does not " +
	"come within a minute leaves that sample without a count, and a sample that fails " +
	"is left out, both counted in the summary). Over the second half of the run it fits each " +
	"metric's least-squares slope and fails (exit 1) when one grows: when the slope, " +
	"less four of its standard errors (widened for the samples' autocorrelation), is " +
	"over the metric's bound, a share of its level an hour (memory 20 %%, the others " +
	"10 %%) and never under a floor (1 MiB, 20 goroutines, fds or timers, 10 links " +
	"an hour). Each member stays --lifetime on average (half to one and a half of it), " +
	"leaves (a clean close, or a reset for a quarter of them) and a new one takes its " +
	"place. Members come from a pool of --addresses addresses, each alone in its /24, " +
	"the least recently used first, and those that listen listen at port 6881 of " +
	"theirs: peers come back where they were, and the node's tables by address fill " +
	"within the first half of the run (--addresses 0: a new address for every " +
	"member, and the tables fill toward their caps for hours). --misbehaving clients run at " +
	"once, one kind after another. With --out it writes the samples (CSV) and a plot " +
	"of each metric with its fit there. docs/operating.md gives the figures of a run."

var soakPXPCmd = &cli.Command{
	Name:    "soak pxp",
	Summary: "a public relay (pex node) under a churning population, checked for growth",
	About: "Runs `pex node` (the binary of --pex) as a public relay: TCP (--listen), " +
		"WebSocket (--ws) and the browser page (--http, WebSocket at /ws), for --duration " +
		"under a churning population from this process: --nodes Go nodes over TCP that " +
		"listen and meet each other by direct dials, and --clients WebSocket clients as " +
		"browsers (half load the page and its script first; their introductions are " +
		"relayed sessions the relay carries). Each member links to the relay, keeps --want " +
		"introductions (GetNewPeer through the relay), and writes a line every --data-every " +
		"on each link, which the relay echoes and members answer. The misbehaving clients " +
		"send garbage (TCP and WebSocket), half a hello, nothing, a flood of getpeers, " +
		"another network's hello, or a megabyte of lines they never read the echoes of. " +
		fmt.Sprintf(soakAbout, "pex_pxp_links"),
	Examples: []string{
		"pexlab soak pxp --pex /tmp/pex",
		"pexlab soak pxp --duration 10m --interval 2s --out soak-out --json",
	},
	Flags: func() *flag.FlagSet { return new(soakOpts).flagSet(soak.EnginePXP) },
}

var soakBTCmd = &cli.Command{
	Name:    "soak bt",
	Summary: "a BitTorrent swarm (pex bt swarm) under churning peers, checked for growth",
	About: "Runs `pex bt swarm` (the binary of --pex) on a torrent of its own, listening " +
		"on loopback, DHT, trackers and port mapping off, for --duration under a churning " +
		"population from this process: --nodes BitTorrent engines (bt/swarm, ut_pex or " +
		"AZMP) that listen, link to the swarm, learn each other from its PEX and dial each " +
		"other, and --clients peers on the wire that link, read its PEX, send one ut_pex " +
		"message of their own naming engines, and say they listen where nothing does. " +
		"The misbehaving peers send garbage, half a handshake, nothing, an opening of " +
		"Message Stream Encryption and nothing more, another torrent's handshake, a flood " +
		"of ut_pex messages, or a flood of messages. " +
		fmt.Sprintf(soakAbout, "pex_bt_connections"),
	Examples: []string{
		"pexlab soak bt --pex /tmp/pex",
		"pexlab soak bt --duration 10m --interval 2s --out soak-out --json",
	},
	Flags: func() *flag.FlagSet { return new(soakOpts).flagSet(soak.EngineBT) },
}

type soakOpts struct {
	cfg  soak.Config
	out  string
	json bool
}

func (o *soakOpts) flagSet(engine string) *flag.FlagSet {
	fs := flag.NewFlagSet("pexlab soak "+engine, flag.ContinueOnError)
	o.cfg.Engine = engine
	nodes, clients := soak.DefaultPXPNodes, soak.DefaultPXPClients
	nodesAre, clientsAre := "Go PXP nodes over TCP", "WebSocket clients (browsers)"
	if engine == soak.EngineBT {
		nodes, clients = soak.DefaultBTNodes, soak.DefaultBTClients
		nodesAre, clientsAre = "BitTorrent engines", "peers on the wire"
	}
	fs.DurationVar(&o.cfg.Duration, "duration", soak.DefaultDuration, "how long the population churns and the node is sampled, `D`")
	fs.DurationVar(&o.cfg.Interval, "interval", soak.DefaultInterval, "the time between two samples, `D`")
	fs.IntVar(&o.cfg.Nodes, "nodes", nodes, "`N` "+nodesAre+" at a time")
	fs.IntVar(&o.cfg.Clients, "clients", clients, "`N` "+clientsAre+" at a time")
	fs.DurationVar(&o.cfg.Lifetime, "lifetime", soak.DefaultLifetime, "a member's mean stay, `D`")
	fs.IntVar(&o.cfg.Addresses, "addresses", soak.DefaultAddresses, "members come from a pool of `N` addresses (0: a new one each)")
	fs.IntVar(&o.cfg.Misbehaving, "misbehaving", soak.DefaultMisbehaving, "`N` misbehaving clients at a time (0: none)")
	if engine == soak.EnginePXP {
		fs.IntVar(&o.cfg.Want, "want", soak.DefaultWant, "introductions each member keeps, `K`")
		fs.DurationVar(&o.cfg.DataEvery, "data-every", soak.DefaultDataEvery, "a line on each link every `D`")
	} else {
		fs.DurationVar(&o.cfg.DataEvery, "data-every", soak.DefaultDataEvery, "a keep-alive from each peer on the wire every `D`")
	}
	fs.IntVar(&o.cfg.TimersEvery, "timers-every", 0, "count timers every `K` samples (0: 5, or fewer to have 12 counts in the second half)")
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "`S` seeds the population's random choices")
	fs.StringVar(&o.cfg.Pex, "pex", "", "the pex `BINARY` to soak (default: pex beside pexlab, else on PATH)")
	fs.StringVar(&o.out, "out", "", "write the samples (CSV) and plots (SVG) under `DIR`")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

// runSoak runs pexlab soak pxp or pexlab soak bt.
func runSoak(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		prog.WriteGroup(stdout, "soak")
		return flag.ErrHelp
	}
	if len(args) == 0 || (args[0] != soak.EnginePXP && args[0] != soak.EngineBT) {
		fmt.Fprintf(stderr, "pexlab soak: the soaks are %s\n", prog.GroupNames("soak"))
		fmt.Fprintln(stderr, "Run \"pexlab help soak\" for each one's synopsis, \"pexlab soak NAME -h\" for its flags and examples.")
		return cli.ErrUsage
	}
	cmd := soakPXPCmd
	if args[0] == soak.EngineBT {
		cmd = soakBTCmd
	}
	var o soakOpts
	fs := o.flagSet(args[0])
	if err := cmd.ParseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pexlab " + cmd.Name}
	c.NoArgs(fs.Args())
	if o.cfg.Nodes < 0 || o.cfg.Clients < 0 || o.cfg.Nodes+o.cfg.Clients < 2 {
		c.Fail("nodes", "--nodes and --clients must not be negative, and make two members at least (got %d and %d)", o.cfg.Nodes, o.cfg.Clients)
	}
	if o.cfg.Interval < 100*time.Millisecond {
		c.Fail("interval", "must be at least 100ms (got %v)", o.cfg.Interval)
	} else if o.cfg.Duration < 2*soak.MinSamples*o.cfg.Interval {
		c.Fail("duration", "must be at least %d intervals, for %d samples in its second half (got %v)", 2*soak.MinSamples, soak.MinSamples, o.cfg.Duration)
	}
	if o.cfg.Lifetime < time.Second {
		c.Fail("lifetime", "must be at least 1s (got %v)", o.cfg.Lifetime)
	}
	c.NonNegative("misbehaving", int64(o.cfg.Misbehaving))
	c.NonNegative("timers-every", int64(o.cfg.TimersEvery))
	if o.cfg.Addresses < 0 || o.cfg.Addresses > 0 && o.cfg.Addresses < o.cfg.Nodes+o.cfg.Clients {
		c.Fail("addresses", "must be 0 or at least --nodes plus --clients, %d (got %d)", o.cfg.Nodes+o.cfg.Clients, o.cfg.Addresses)
	}
	c.NonNegative("want", int64(o.cfg.Want))
	c.NonNegativeDuration("data-every", o.cfg.DataEvery)
	if c.OK() {
		c.OutputDir("out", o.out, 0o755)
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	if o.cfg.Misbehaving == 0 {
		o.cfg.Misbehaving = -1 // none, not the default
	}
	if o.cfg.Addresses == 0 {
		o.cfg.Addresses = -1 // fresh addresses, not the default
	}
	var err error
	if o.cfg.Pex, err = findPex(o.cfg.Pex); err != nil {
		return err
	}
	raiseFileLimit()
	pr := cli.NewPrinter(stdout, o.json)
	o.cfg.Progress = func(s soak.Sample) {
		pr.Event("sample", append([]any{"t_s", cli.Seconds(s.T)}, sampleFields(s)...)...)
	}
	res, err := soak.Run(ctx, o.cfg)
	if err != nil {
		return err
	}
	for _, tr := range res.Trends {
		pr.Event("trend", "metric", tr.Metric, "samples", tr.N, "level", cli.Round(tr.Level, 1), "first", tr.First, "last", tr.Last,
			"slope_per_h", cli.Round(tr.Slope, 1), "se_per_h", cli.Round(tr.SE, 1), "bound_per_h", cli.Round(tr.Bound, 1),
			"leak_per_departure", cli.Round(soak.LeakPerDeparture(&res.Config, tr), 4),
			"caught_per_departure", cli.Round(soak.CaughtPerDeparture(&res.Config, tr), 4), "grows", tr.Grows)
	}
	pr.Event("drained", append([]any{"after_s", cli.Seconds(soak.DrainWait)}, sampleFields(res.Drained)...)...)
	if err := writeSim(pr, o.out, func() ([]string, error) { return soak.Write(o.out, res) }); err != nil {
		return err
	}
	p := res.Samples[len(res.Samples)-1].Pop
	grows := res.Grows
	if grows == nil {
		grows = []string{}
	}
	pr.Event("summary", "engine", res.Config.Engine, "duration_s", cli.Seconds(res.Config.Duration), "interval_s", cli.Seconds(res.Config.Interval),
		"samples", len(res.Samples), "nodes", res.Config.Nodes, "clients", res.Config.Clients, "addresses", max(res.Config.Addresses, 0), "misbehaving", max(res.Config.Misbehaving, 0),
		"lifetime_s", cli.Seconds(res.Config.Lifetime), "departures_per_h", cli.Round(res.Config.DeparturesPerHour(), 1),
		"joined", p.Joined, "left", p.Left, "join_failed", p.JoinFailed, "intros", p.Intros, "intro_failed", p.IntroFailed,
		"lines", p.Lines, "misbehaved", p.Misbehaved, "cut_off", p.CutOff, "timers_every", res.Config.TimersEvery,
		"samples_missed", res.Missed, "timer_counts_missed", res.TimersMissed, "last_miss", res.LastMiss, "grown", grows, "wall_s", cli.Seconds(res.Wall))
	if !o.json {
		for _, tr := range res.Trends {
			pr.Text("%s", tr)
		}
	}
	if len(res.Grows) > 0 {
		return fmt.Errorf("the node's %s grew over the second half of the run", strings.Join(res.Grows, ", "))
	}
	return nil
}

// sampleFields are a sample's metrics and the population's size, as
// event fields.
func sampleFields(s soak.Sample) []any {
	f := []any{"anon_kib", s.AnonKiB, "rss_kib", s.RSSKiB, "heap_kib", s.HeapKiB, "stack_kib", s.StackKiB, "prof_kib", s.ProfKiB, "goroutines", s.Goroutines, "fds", s.FDs, "links", s.Links}
	if s.Timers != soak.NoCount {
		f = append(f, "timers", s.Timers)
	}
	return append(f, "members", s.Pop.Joined-s.Pop.Left, "departed", s.Pop.Left, "misbehaved", s.Pop.Misbehaved)
}
