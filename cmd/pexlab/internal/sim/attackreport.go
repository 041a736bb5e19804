package sim

import (
	"fmt"
	"path/filepath"
	"strings"
)

// The attack's lines of the table and its plots (attack.go).

// attackTable writes an attack's figures as lines of PXPTable.
func attackTable(b *strings.Builder, a *AttackResult, want int) {
	e := a.End
	fmt.Fprintf(b, "  attackers         %d %s among %d honest nodes, attacking for %.0f s (from %.1f s)\n",
		a.Attackers, a.Config, a.Honest, (a.Stop - a.Start).Seconds(), a.Start.Seconds())
	fmt.Fprintf(b, "  attackers' share  of honest nodes' links when it ended: mean %.1f %%, p99 %.1f %%, max %.1f %% (over the attack: mean up to %.1f %%, p99 up to %.1f %%)\n",
		100*e.ShareMean, 100*e.ShareP99, 100*e.ShareMax, 100*a.PeakShareMean, 100*a.PeakShareP99)
	fmt.Fprintf(b, "  honest nodes      %d eclipsed (at most %d), %d isolated; largest honest component %d of %d (at least %d)\n",
		e.Eclipsed, a.PeakEclipsed, e.Isolated, e.HonestLargest, e.Honest, a.LowLargest)
	fmt.Fprintf(b, "  at want %-9d %d honest nodes with %d links or more, %d with %d to honest nodes\n", want, e.AtWant, want, e.AtWantHonest, want)
	fmt.Fprintf(b, "  attacker links    %d opened by the attackers, %d by honest nodes (attackers' share of the links an honest node opened: mean %.1f %%)\n",
		e.LinksIn, e.LinksOut, 100*e.OutShareMean)
	fmt.Fprintf(b, "  introductions     %d by honest nodes, %d ended at an attacker (%d named by an attacker's answer)\n",
		a.Intros, a.IntrosToAttacker, a.IntrosNamed)
	for _, n := range a.EclipsedNodes {
		fmt.Fprintf(b, "  eclipsed node %-4d joined at %.1f s; %d links it opened (introduced by %d seed, %d honest, %d attacker relays, %d by none), %d opened to it\n",
			n.Node, n.JoinedS, n.Out, n.BySeed, n.ByHonest, n.ByAttacker, n.Unnamed, n.In)
	}
	if len(a.Targets) > 0 {
		var each []string
		for _, t := range a.Targets {
			each = append(each, fmt.Sprintf("%d", t.MinHonest))
		}
		fmt.Fprintf(b, "  eclipse targets   %d; fewest honest links any held %d (each: %s)\n", len(a.Targets), a.TargetsMinHonest, strings.Join(each, " "))
	}
	if a.Config.Strategy == AttackChurn {
		fmt.Fprintf(b, "  attacker churn    %d joined, %d left during the attack\n", a.Joined, a.Left)
	}
}

// writeAttack draws an attack's plots under dir.
func writeAttack(dir string, a *AttackResult, add func(string, error) error) error {
	name := filepath.Join(dir, "pxp-attack-share.svg")
	if err := add(name, plotAttackShare(name, a)); err != nil {
		return err
	}
	name = filepath.Join(dir, "pxp-attack-honest.svg")
	if err := add(name, plotAttackHonest(name, a)); err != nil {
		return err
	}
	if len(a.Targets) > 0 {
		name = filepath.Join(dir, "pxp-attack-targets.svg")
		return add(name, plotAttackTargets(name, a))
	}
	return nil
}

// plotAttackShare draws the attackers' share of the honest nodes' links
// over the run: mean, p99 and max.
func plotAttackShare(file string, a *AttackResult) error {
	mean, p99, most := series{name: "mean"}, series{name: "p99"}, series{name: "max"}
	for _, p := range a.Series {
		x := p.T.Seconds()
		mean.x, mean.y = append(mean.x, x), append(mean.y, p.ShareMean)
		p99.x, p99.y = append(p99.x, x), append(p99.y, p.ShareP99)
		most.x, most.y = append(most.x, x), append(most.y, p.ShareMax)
	}
	title := fmt.Sprintf("Attackers' share of honest nodes' links (%d %s, attack %.0f-%.0f s)", a.Attackers, a.Config, a.Start.Seconds(), a.Stop.Seconds())
	return plotXY(file, title, "seconds since the first join", "share of an honest node's links", unitRange(), true, mean, p99, most)
}

// plotAttackHonest draws the honest nodes' state over the run: shares
// of them eclipsed, in the largest honest component, and at Want
// counting honest links only.
func plotAttackHonest(file string, a *AttackResult) error {
	ecl, largest, at := series{name: "eclipsed"}, series{name: "in the largest honest component"}, series{name: "at want with honest links"}
	for _, p := range a.Series {
		x, n := p.T.Seconds(), float64(max(p.Honest, 1))
		ecl.x, ecl.y = append(ecl.x, x), append(ecl.y, float64(p.Eclipsed)/n)
		largest.x, largest.y = append(largest.x, x), append(largest.y, float64(p.HonestLargest)/n)
		at.x, at.y = append(at.x, x), append(at.y, float64(p.AtWantHonest)/n)
	}
	title := fmt.Sprintf("Honest nodes under attack (%d %s)", a.Attackers, a.Config)
	return plotXY(file, title, "seconds since the first join", "share of live honest nodes", unitRange(), true, ecl, largest, at)
}

// plotAttackTargets draws the fewest honest links an eclipse target at
// Want held, over the run.
func plotAttackTargets(file string, a *AttackResult) error {
	s := series{name: "fewest honest links of a target"}
	for _, p := range a.Series {
		if p.TargetsMinHonest >= 0 {
			s.x, s.y = append(s.x, p.T.Seconds()), append(s.y, float64(p.TargetsMinHonest))
		}
	}
	title := fmt.Sprintf("Eclipse targets' honest links (%d targets, %d attackers)", len(a.Targets), a.Attackers)
	return plotXY(file, title, "seconds since the first join", "links to honest nodes", nil, false, s)
}
