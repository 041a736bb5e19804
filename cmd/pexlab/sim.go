package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/cmd/pexlab/internal/sim"
)

var simCmd = &cli.Command{
	Name:    "sim",
	Summary: "a PXP network of thousands of real nodes in one process",
	About: "Runs --nodes PXP nodes (real pxp engines) in this process over an in-memory network, " +
		"each with an address of its own /24. Nodes join at --join-rate through one of --seeds " +
		"bootstrap nodes (chained to each other), grow to --want peers with GetNewPeer (direct " +
		"dials to the addresses candidates advertise), keeping their seed link (unless " +
		"--drop-seed), as PXP nodes do: a seed holds every node. Then, with --churn, a share of the nodes is replaced every second for " +
		"--churn-for; with --kill, a share is killed at once and the survivors heal (topping up " +
		"through the peers they have left, joining again when they have none) for at most " +
		"--heal-for. It reports the time to reach --want, messages and bytes per node, the " +
		"overlay's in-degrees, clustering coefficient and path length against a random graph " +
		"of the same mean degree, and after the failure the share of survivors in the largest " +
		"component over time. With --attackers, that share of the nodes are attackers (real " +
		"engines with a hostile policy, in /24s of their own) joining among the honest ones; " +
		"once the joins have settled they attack for --attack-for as --attack says (hoard, " +
		"eclipse or churn), and it reports the attackers' share of the honest nodes' links, the " +
		"honest nodes eclipsed and the largest component of the honest overlay, over the run " +
		"and when the attack ended. With --out, it writes plots (SVG) and the tables there. It " +
		"exits 0 when every surviving (honest) node ends at --want. pexlab sim bt runs a " +
		"BitTorrent swarm.",
	Examples: []string{
		"pexlab sim --nodes 1000",
		"pexlab sim --nodes 10000 --want 8 --kill 0.5 --out sim-out",
		"pexlab sim --nodes 2000 --churn 0.02 --churn-for 20s --seeds 3 --json",
		"pexlab sim --nodes 2000 --attackers 0.2 --attack-prefixes 16 --out sim-out",
		"pexlab sim --nodes 2000 --attackers 0.2 --attack eclipse --attack-targets 10",
	},
	Flags: func() *flag.FlagSet { return new(simOpts).flagSet() },
}

type simOpts struct {
	cfg     sim.PXPConfig
	out     string
	json    bool
	metrics string
}

func (o *simOpts) flagSet() *flag.FlagSet {
	fs := flag.NewFlagSet("pexlab sim", flag.ContinueOnError)
	fs.IntVar(&o.cfg.Nodes, "nodes", 1000, "`N` nodes besides the seeds (at least 10)")
	fs.IntVar(&o.cfg.Want, "want", 8, "`K` peers each node grows to")
	fs.IntVar(&o.cfg.Own, "own", 0, "of --want, the `K` links a node opens itself, whatever others open to it (0: all of --want; negative: none, incoming links count alike)")
	fs.IntVar(&o.cfg.Seeds, "seeds", 1, "`S` bootstrap nodes; a node joins through one at random")
	fs.BoolVar(&o.cfg.DropSeed, "drop-seed", false, "close the link to the seed after reaching --want (a seed then knows only nodes still joining)")
	fs.Float64Var(&o.cfg.JoinRate, "join-rate", 2000, "nodes starting to join a second, `R`")
	fs.IntVar(&o.cfg.MaxPeers, "max-peers", 64, "each node's link limit, `M`")
	fs.Float64Var(&o.cfg.Churn, "churn", 0, "replace this share of the nodes a second, `RATE`, during --churn-for (0: no churn)")
	fs.DurationVar(&o.cfg.ChurnFor, "churn-for", 10*time.Second, "how long the churn lasts, `D`")
	fs.Float64Var(&o.cfg.Kill, "kill", 0, "kill this share of the nodes at once, `FRACTION`, after the joins (0: none)")
	fs.DurationVar(&o.cfg.HealFor, "heal-for", time.Minute, "the longest the survivors are given to heal, `D`")
	fs.Uint64Var(&o.cfg.Seed, "seed", 1, "`S` seeds the run's own random choices (the engines draw their own)")
	a := &o.cfg.Attack
	fs.Float64Var(&a.Fraction, "attackers", 0, "make this share of --nodes attackers, `FRACTION` (0.2 of 10000: 2000 attackers, 8000 honest nodes; 0: none)")
	fs.StringVar(&a.Strategy, "attack", sim.AttackHoard, "what the attackers do, `STRATEGY`: "+strings.Join(sim.AttackStrategies, ", "))
	fs.IntVar(&a.Prefixes, "attack-prefixes", 0, "spread the attackers over `P` /24s of their own (0: one each)")
	fs.IntVar(&a.Targets, "attack-targets", 10, "`N` honest nodes the eclipse attack aims at")
	fs.IntVar(&a.Links, "attack-links", 0, "the most links, `L`, one hoard or churn attacker opens to honest nodes (0: --max-peers)")
	fs.DurationVar(&a.Lifetime, "attack-lifetime", 5*time.Second, "a churn attacker's mean stay once the attack starts, `D`")
	fs.DurationVar(&a.For, "attack-for", 30*time.Second, "how long the attack runs once the joins have settled, `D`")
	fs.StringVar(&o.out, "out", "", "write plots and tables under `DIR`")
	fs.StringVar(&o.metrics, "metrics", "", "serve profiles at /debug/pprof/ on `HOST:PORT`")
	fs.BoolVar(&o.json, "json", false, "print one JSON object a line")
	return fs
}

func runSim(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "bt" {
		return runSimBT(ctx, args[1:], stdout, stderr)
	}
	var o simOpts
	fs := o.flagSet()
	if err := simCmd.ParseFlags(fs, args, stdout, stderr); err != nil {
		return err
	}
	c := cli.Checks{Cmd: "pexlab sim"}
	c.NoArgs(fs.Args())
	if o.cfg.Nodes < 10 {
		c.Fail("nodes", "must be at least 10 (got %d)", o.cfg.Nodes)
	}
	if o.cfg.Want < 1 || o.cfg.Want >= o.cfg.Nodes {
		c.Fail("want", "must be 1 to --nodes - 1 (got %d)", o.cfg.Want)
	}
	if o.cfg.Seeds < 1 {
		c.Fail("seeds", "must be at least 1 (got %d)", o.cfg.Seeds)
	}
	if o.cfg.MaxPeers <= o.cfg.Want {
		c.Fail("max-peers", "must exceed --want (got %d)", o.cfg.MaxPeers)
	}
	if o.cfg.JoinRate <= 0 {
		c.Fail("join-rate", "must be positive")
	}
	if o.cfg.Churn < 0 || o.cfg.Churn > 1 {
		c.Fail("churn", "must be 0 to 1 (got %v)", o.cfg.Churn)
	}
	if o.cfg.Kill < 0 || o.cfg.Kill >= 1 {
		c.Fail("kill", "must be 0 to less than 1 (got %v)", o.cfg.Kill)
	}
	o.checkAttack(&c, fs)
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
	if o.cfg.Attack.Fraction == 0 {
		o.cfg.Attack = sim.AttackConfig{} // no attackers: nothing of them in the result
	}
	res, err := sim.RunPXP(ctx, o.cfg)
	if err != nil {
		return err
	}
	// The files first: with --json the summary is the last line.
	if err := writeSim(pr, o.out, func() ([]string, error) { return sim.WritePXP(o.out, res) }); err != nil {
		return err
	}
	pr.Event("summary", simSummary(res)...)
	if !o.json {
		pr.Text("\n%s", sim.PXPTable(res))
	}
	if res.AtTarget != res.Alive {
		return fmt.Errorf("%d of %d surviving nodes ended below --want: %s", res.Alive-res.AtTarget, res.Alive, belowWhy(res.Below))
	}
	if ctx.Err() != nil {
		return errors.New("interrupted")
	}
	return nil
}

// simOutput is the printer both simulations report through, their
// progress printed as events, with --metrics served until stop.
func simOutput(stdout io.Writer, json bool, metrics string) (pr *cli.Printer, progress sim.Progress, stop func(), err error) {
	pr = cli.NewPrinter(stdout, json)
	stop = func() {}
	if metrics != "" {
		if stop, err = cli.ServeMetrics(context.Background(), metrics, pr); err != nil {
			return nil, nil, nil, err
		}
	}
	return pr, func(phase string, fields ...any) { pr.Event(phase, fields...) }, stop, nil
}

// writeSim writes a run's plots and tables under dir (none when dir is
// empty) and says which.
func writeSim(pr *cli.Printer, dir string, write func() ([]string, error)) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	files, err := write()
	if err != nil {
		return err
	}
	pr.Event("written", "files", files)
	return nil
}

// simSummary is the summary event's fields.
func simSummary(r *sim.PXPResult) []any {
	o := r.Overlay
	f := []any{"nodes", r.Config.Nodes, "want", r.Config.Want, "own", r.Config.Own, "wall_s", cli.Seconds(r.Wall), "join_wall_s", cli.Seconds(r.JoinWall),
		"join_p50_ms", cli.Round(sim.Percentile(r.JoinMS, 50), 3), "join_p99_ms", cli.Round(sim.Percentile(r.JoinMS, 99), 3), "failed", r.Failed,
		"msgs_per_node", cli.Round(r.MsgsPerNode, 3), "bytes_per_node", cli.Round(r.BytesPerNode, 3),
		"mean_degree", cli.Round(o.MeanDegree, 3), "clustering", cli.Round(o.Clustering, 4), "random_clustering", cli.Round(o.RandClustering, 4),
		"path_length", cli.Round(o.PathLength, 3), "random_path_length", cli.Round(o.RandPathLength, 3), "largest", o.Largest,
		"alive", r.Alive, "at_target", r.AtTarget}
	if len(r.FailedWhy) > 0 {
		f = append(f, "failed_why", r.FailedWhy) // the nodes that never reached --want, by their last GetNewPeer failure
	}
	if len(r.Below) > 0 {
		f = append(f, "below", r.Below) // live nodes below --want at the end, by their last GetNewPeer failure
	}
	if a := r.Attack; a != nil {
		f = append(f, attackSummary(a)...)
	}
	if k := r.Kill; k != nil {
		f = append(f, "killed", k.Killed, "largest_after_kill_share", cli.Round(k.LargestAfter, 4), "largest_after_kill", cli.Round(k.LargestAfter, 4),
			"at_target_after_kill_share", cli.Round(k.AtTargetAfter, 4), "at_target_after_kill", cli.Round(k.AtTargetAfter, 4), "healed_s", cli.Seconds(k.Healed), "healed_links_s", cli.Seconds(k.HealedLinks),
			"kill_s", cli.Seconds(k.KillTook), "heal_introductions", k.Introductions, "heal_introductions_failed", k.IntroductionsFailed)
	}
	return f
}

// checkAttack refuses attack flags that do not hold together.
func (o *simOpts) checkAttack(c *cli.Checks, fs *flag.FlagSet) {
	a := o.cfg.Attack
	why := "the attack flags shape the attackers --attackers adds"
	var rules []cli.Rule
	for _, f := range []string{"attack", "attack-prefixes", "attack-targets", "attack-links", "attack-lifetime", "attack-for"} {
		rules = append(rules, cli.Rule{If: f, Needs: []string{"attackers"}, Why: why})
	}
	c.Rules(cli.Given(fs), rules)
	if a.Fraction < 0 || a.Fraction >= 1 {
		c.Fail("attackers", "must be 0 to less than 1 (got %v)", a.Fraction)
	}
	if !slices.Contains(sim.AttackStrategies, a.Strategy) {
		c.Fail("attack", "must be one of %s (got %q)", strings.Join(sim.AttackStrategies, ", "), a.Strategy)
	}
	attackers := a.Attackers(o.cfg.Nodes)
	if a.Fraction > 0 && o.cfg.Nodes-attackers <= o.cfg.Want {
		c.Fail("attackers", "leaves %d honest nodes, too few for --want %d", o.cfg.Nodes-attackers, o.cfg.Want)
	}
	if a.Prefixes < 0 || (a.Fraction > 0 && a.Prefixes > attackers) {
		c.Fail("attack-prefixes", "must be 0 to the number of attackers, %d (got %d)", attackers, a.Prefixes)
	}
	if a.Targets < 1 {
		c.Fail("attack-targets", "must be at least 1 (got %d)", a.Targets)
	}
	c.NonNegative("attack-links", int64(a.Links))
	if a.Lifetime <= 0 {
		c.Fail("attack-lifetime", "must be positive (got %v)", a.Lifetime)
	}
	if a.For <= 0 {
		c.Fail("attack-for", "must be positive (got %v)", a.For)
	}
}

// attackSummary is the summary's fields of an attack: the figures when
// it ended, then over it.
func attackSummary(a *sim.AttackResult) []any {
	e := a.End
	f := []any{"attack", a.Config.Strategy, "attackers", a.Attackers, "honest", a.Honest, "attack_prefixes", a.Config.Prefixes,
		"attack_link_share_mean", cli.Round(e.ShareMean, 4), "attack_link_share_p99", cli.Round(e.ShareP99, 4), "attack_link_share_max", cli.Round(e.ShareMax, 4),
		"attack_out_link_share_mean", cli.Round(e.OutShareMean, 4), "eclipsed", e.Eclipsed, "honest_largest", e.HonestLargest, "honest_isolated", e.Isolated, "honest_no_honest_in", e.NoHonestIn, "attack_out_link_share_no_honest_in", cli.Round(e.OutShareNoHonestIn, 4),
		"honest_at_want", e.AtWant, "honest_at_want_honest", e.AtWantHonest,
		"attack_links_in", e.LinksIn, "attack_links_out", e.LinksOut,
		"intros", a.Intros, "intros_to_attacker", a.IntrosToAttacker, "intros_named_by_attacker", a.IntrosNamed,
		"attack_link_share_mean_peak", cli.Round(a.PeakShareMean, 4), "attack_link_share_p99_peak", cli.Round(a.PeakShareP99, 4),
		"eclipsed_peak", a.PeakEclipsed, "honest_largest_low", a.LowLargest, "eclipsed_nodes", eclipsedNodes(a.EclipsedNodes)}
	if a.Config.Strategy == sim.AttackEclipse {
		f = append(f, "eclipse_targets", len(a.Targets), "targets_min_honest", a.TargetsMinHonest)
	}
	if a.Config.Strategy == sim.AttackChurn {
		f = append(f, "attackers_joined", a.Joined, "attackers_left", a.Left)
	}
	return f
}

// eclipsedNodes is the summary's eclipsed_nodes: an empty list, not
// null, when none was.
func eclipsedNodes(e []sim.EclipsedFigures) []sim.EclipsedFigures {
	if e == nil {
		return []sim.EclipsedFigures{}
	}
	return e
}

// belowWhy says why nodes ended below --want: each last GetNewPeer
// failure (and the peers such a node had) with how many nodes it left
// there, the most common first.
func belowWhy(below map[string]int) string {
	whys := slices.Collect(maps.Keys(below))
	slices.SortFunc(whys, func(a, b string) int { return cmp.Or(below[b]-below[a], strings.Compare(a, b)) })
	parts := make([]string, len(whys))
	for i, w := range whys {
		parts[i] = fmt.Sprintf("%d: %s", below[w], w)
	}
	return strings.Join(parts, "; ")
}
