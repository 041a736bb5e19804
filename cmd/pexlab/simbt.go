package main

import (
	"context"
	"flag"
	"io"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/cmd/pexlab/internal/sim"
)

var simBTCmd = &cli.Command{
	Name:    "sim bt",
	Summary: "a BitTorrent swarm of thousands of real peers in one process",
	About: "Runs --peers BitTorrent peers (real bt/swarm engines, ut_pex) in one swarm in this " +
		"process over an in-memory network, with a tracker in the process that answers each " +
		"announce with --tracker-peers random peers. Peers join at --join-rate, announce at join " +
		"and every --interval, dial what they learn up to --max-peers connections, and exchange " +
		"peers by PEX. Protocol timers run --scale times faster than real time (BEP 11's minute " +
		"is a second at the default 60); times are reported in protocol time. It reports the " +
		"share of the swarm the peers know over time (mean, and the least any peer knows), " +
		"then computes the same swarm without PEX (the same tracker, schedule and connection " +
		"limit), and the tracker-load figure: the announces a tracker answers until every " +
		"peer knows 50, 90 and 99 % of the swarm, with PEX and without. With --out, it writes " +
		"plots (SVG) and the tables there. With --attackers, that share of the peers attack: " +
		"peers in /24s of their own (--attack-prefixes) that speak BitTorrent and ut_pex on the " +
		"wire, hold links as a peer does (--attacker-links), and send on every link " +
		"--attack-rate PEX messages a protocol minute of --attack-added addresses each: the " +
		"--victims (hosts that are no BitTorrent peers, which count the connections they take, " +
		"each named at one of --victim-ports ports), up to ten other attackers, and addresses " +
		"where nothing listens (a dial there times out after --dead-wait). The run is " +
		"compared with the same one without the attackers, run beside it in this process on " +
		"the same clock (the same honest peers joining at the same times, the same tracker): " +
		"the honest peers' knowledge of the " +
		"honest swarm and their links to it over time, their dials wasted on victims and on " +
		"addresses where nothing listens, and the dials each victim takes; no tracker-only " +
		"figure is computed. Attackers send many messages: a lower --scale keeps the " +
		"simulation on its clock (sample_gap_max_s in the summary says how far it fell behind).",
	Examples: []string{
		"pexlab sim bt --peers 1000",
		"pexlab sim bt --peers 10000 --duration 40m --out sim-out",
		"pexlab sim bt --peers 1000 --attackers 0.1 --attack-prefixes 16 --scale 10 --out sim-out",
	},
	Flags: func() *flag.FlagSet { return new(simBTOpts).flagSet() },
}

type simBTOpts struct {
	cfg      sim.BTConfig
	deadWait time.Duration
	out      string
	json     bool
	metrics  string
}

func (o *simBTOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pexlab sim bt", flag.ContinueOnError)
	fs.IntVar(&o.cfg.Peers, "peers", 1000, "`N` peers in the swarm, attackers included (at least 10)")
	fs.IntVar(&o.cfg.MaxPeers, "max-peers", 50, "each peer's connection limit, `M`")
	fs.IntVar(&o.cfg.TrackerPeers, "tracker-peers", 50, "peers the tracker returns an announce, `K`")
	fs.DurationVar(&o.cfg.Interval, "interval", 30*time.Minute, "the tracker's announce interval, protocol time, `D`")
	fs.DurationVar(&o.cfg.Duration, "duration", 30*time.Minute, "how long the swarm runs after the joins, protocol time, `D` (without --attackers, it stops early once every peer knows 99 %)")
	fs.Float64Var(&o.cfg.JoinRate, "join-rate", 2000, "peers joining a real second, `R`")
	fs.Float64Var(&o.cfg.Scale, "scale", 60, "protocol seconds a real second, `X`")
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "`S` seeds the tracker's, the baseline's and the attackers' random choices")
	fs.Float64Var(&o.cfg.Attack.Fraction, "attackers", 0, "this share of the peers, `FRACTION`, attack: they send PEX full of addresses where nothing listens, of victims and of each other; the run is compared with the same one without them (0: no attack)")
	fs.IntVar(&o.cfg.Attack.Prefixes, "attack-prefixes", 1, "the attackers and the addresses they invent are spread over `P` /24s of their own")
	fs.Float64Var(&o.cfg.Attack.Rate, "attack-rate", sim.DefaultAttackRate, "PEX messages an attacker sends a link a protocol minute, `N` (the swarm ends a link at the 7th within 60 s)")
	fs.IntVar(&o.cfg.Attack.Links, "attacker-links", 0, "the most links an attacker holds, `M`, those it dials (up to --max-peers) and those dialed to it (0: --max-peers, as an honest peer)")
	fs.IntVar(&o.cfg.Attack.Added, "attack-added", sim.DefaultAttackAdded, "addresses an attacker's PEX message names, `K` (a receiver takes 50)")
	fs.IntVar(&o.cfg.Attack.Victims, "victims", sim.DefaultVictims, "`V` hosts that are no BitTorrent peers, named in every attacker's message")
	fs.IntVar(&o.cfg.Attack.VictimPorts, "victim-ports", 1, "the ports each victim is named at, `K`, one drawn a message (80, then 8001 and up)")
	fs.DurationVar(&o.deadWait, "dead-wait", sim.DefaultDeadWait, "how long a dial to an address where nothing listens lasts before it times out, protocol time, `D` (0: refused at once)")
	fs.StringVar(&o.out, "out", "", "write plots and tables under `DIR`")
	fs.StringVar(&o.metrics, "metrics", "", "serve profiles at /debug/pprof/ on `HOST:PORT`")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

func runSimBT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o simBTOpts
	fs := o.flagSet()
	if err := simBTCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pexlab sim bt"}
	c.NoArgs(fs.Args())
	if o.cfg.Peers < 10 {
		c.Fail("peers", "must be at least 10 (got %d)", o.cfg.Peers)
	}
	if o.cfg.MaxPeers < 2 {
		c.Fail("max-peers", "must be at least 2 (got %d)", o.cfg.MaxPeers)
	}
	if o.cfg.TrackerPeers < 1 {
		c.Fail("tracker-peers", "must be at least 1 (got %d)", o.cfg.TrackerPeers)
	}
	c.NonNegativeDuration("interval", o.cfg.Interval)
	c.NonNegativeDuration("duration", o.cfg.Duration)
	if o.cfg.Scale < 1 || o.cfg.JoinRate <= 0 {
		c.Fail("scale", "--scale must be at least 1 and --join-rate positive")
	}
	o.checkAttack(&c)
	c.HostPort("metrics", o.metrics)
	if c.OK() {
		c.OutputDir("out", o.out, 0o755)
	}
	if err := c.Report(stderr); err != nil {
		return err
	}
	pr, progress, stop, err := simOutput(stdout, o.json, o.metrics)
	if err != nil {
		return err
	}
	defer stop()
	o.cfg.Progress = progress
	res, err := sim.RunBT(ctx, o.cfg)
	if err != nil {
		return err
	}
	last := res.PEX[len(res.PEX)-1]
	f := []any{"peers", o.cfg.Peers, "wall_s", cli.Seconds(res.Wall), "protocol_s", cli.Seconds(last.T), "protocol_minutes", cli.Round(last.T.Minutes(), 3),
		"known_mean", cli.Round(last.Mean, 4), "known_least", cli.Round(last.Min, 4), "announces", last.Announces, "conns_per_peer", cli.Round(res.Conns, 3)}
	for _, l := range res.Load {
		key := "load_" + map[float64]string{0.5: "50", 0.9: "90", 0.99: "99"}[l.Share]
		f = append(f, key+"_with_pex", l.WithPEX, key+"_tracker_only", l.NoPEX)
	}
	write, table := sim.WriteBT, sim.BTTable
	if res.Attack != nil {
		f = append(f, btAttackSummary(res)...)
		write, table = sim.WriteBTAttack, sim.BTAttackTable
	}
	if err := writeSim(pr, o.out, func() ([]string, error) { return write(o.out, res) }); err != nil {
		return err
	}
	pr.Event("summary", f...)
	if !o.json {
		pr.Text("\n%s", table(res))
	}
	return ctx.Err()
}
