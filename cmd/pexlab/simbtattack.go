package main

import (
	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/cmd/pexlab/internal/sim"
)

// checkAttack checks the attack's flags and fills the config's DeadWait.
func (o *simBTOpts) checkAttack(c *cli.Checks) {
	a := &o.cfg.Attack
	if a.Fraction < 0 || a.Fraction >= 1 {
		c.Fail("attackers", "must be 0 to less than 1 (got %v)", a.Fraction)
	} else if n := a.Attackers(o.cfg.Peers); a.Fraction > 0 && (n < 1 || o.cfg.Peers-n < 10) {
		c.Fail("attackers", "must make at least one attacker and leave at least 10 honest peers (got %d attackers of %d)", n, o.cfg.Peers)
	}
	if a.Prefixes < 1 || a.Prefixes > sim.MaxAttackPrefixes {
		c.Fail("attack-prefixes", "must be 1 to %d (got %d)", sim.MaxAttackPrefixes, a.Prefixes)
	}
	if a.Links < 0 {
		c.Fail("attacker-links", "must not be negative (got %d)", a.Links)
	}
	if a.Rate <= 0 || a.Rate > 600 {
		c.Fail("attack-rate", "must be above 0 and at most 600 (got %v)", a.Rate)
	}
	if a.Added < 1 || a.Added > 5000 {
		c.Fail("attack-added", "must be 1 to 5000 (got %d)", a.Added)
	}
	if a.Victims < 1 || a.Victims > 50 {
		c.Fail("victims", "must be 1 to 50 (got %d)", a.Victims)
	}
	if a.VictimPorts < 1 || a.VictimPorts > 10000 {
		c.Fail("victim-ports", "must be 1 to 10000 (got %d)", a.VictimPorts)
	}
	c.NonNegativeDuration("dead-wait", o.deadWait)
	a.DeadWait = o.deadWait
	if o.deadWait == 0 {
		a.DeadWait = -1 // refused at once
	}
}

// btAttackSummary is the summary's fields of a run with attackers, beside
// the same run without them (baseline_...).
func btAttackSummary(r *sim.BTResult) []any {
	a := r.Attack
	at, base := &a.Attacked, &a.Baseline
	la, lb := at.Last(), base.Last()
	h := float64(a.Honest)
	vMax, vMean, vPerMin, vPeak := at.VictimFigures()
	bMax, _, _, _ := base.VictimFigures()
	return []any{
		"honest_peers", a.Honest, "attackers", a.Attackers, "attack_prefixes", a.Attack.Prefixes,
		"honest_known_share", cli.Round(la.Mean, 4), "honest_known_least_share", cli.Round(la.Min, 4),
		"baseline_honest_known_share", cli.Round(lb.Mean, 4), "baseline_honest_known_least_share", cli.Round(lb.Min, 4),
		"honest_conns_per_peer", cli.Round(at.HonestLinks, 3), "attacker_conns_per_peer", cli.Round(at.LinksToAttackers, 3),
		"baseline_honest_conns_per_peer", cli.Round(base.HonestLinks, 3),
		"dials_honest", at.Dials.Honest, "dials_attackers", at.Dials.Attacker,
		"dials_wasted", at.Dials.Wasted(), "dials_wasted_per_peer", cli.Round(float64(at.Dials.Wasted())/h, 3), "dials_wasted_max", at.WastedMax,
		"dials_no_listener", at.Dials.Dead, "dials_no_listener_in_flight_max", at.DeadInFlightMax, "dials_victims", at.Dials.Victim,
		"baseline_dials_wasted", base.Dials.Wasted(),
		"dials_per_victim_max", vMax, "dials_per_victim_mean", cli.Round(vMean, 3),
		"dials_per_victim_per_minute_max", cli.Round(vPerMin, 3), "dials_per_victim_peak_minute", vPeak,
		"baseline_dials_per_victim_max", bMax,
		"attacker_pex_sent", at.AttackerPEX, "attacker_pex_received", at.PEXFromAttackers, "attacker_addrs_taken", at.TakenFromAttackers,
		"links_per_attacker", cli.Round(at.LinksPerAttacker, 3), "flood_disconnects", at.FloodDisconnects, "baseline_flood_disconnects", base.FloodDisconnects,
		"events_dropped", at.EventsDropped, "baseline_events_dropped", base.EventsDropped,
		"sample_gap_max_s", cli.Seconds(at.SampleGapMax), "baseline_sample_gap_max_s", cli.Seconds(base.SampleGapMax),
	}
}
