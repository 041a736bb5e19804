package sim

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/swarm"
)

// attackRun runs cfg in a synctest bubble, or, under the race detector
// (whose runtime aborts the simulator's synctest runs, see TestBTRun), on
// the real clock: what the tests assert is the mechanism, which holds at
// any pace, not figures a slow machine would change.
func attackRun(t *testing.T, cfg BTConfig) *BTResult {
	t.Helper()
	var res *BTResult
	run := func(t *testing.T) {
		var err error
		if res, err = RunBT(t.Context(), cfg); err != nil {
			t.Fatal(err)
		}
	}
	if raceOn {
		run(t)
	} else {
		synctest.Test(t, run)
	}
	if res == nil || res.Attack == nil {
		t.Fatal("no comparison")
	}
	return res
}

// A swarm with a tenth of its peers attackers, at the rate the swarm
// tolerates, and the same swarm without them. The attackers' PEX reaches
// honest peers (counted on both sides, at most the rule's 50 addresses
// taken a message); honest peers dial addresses where nothing listens
// and victims, within the swarm's rules (a slot a dial, each invented
// address dialed once, a victim's IP at most MaxDialsPerIP times a
// DialBackoff); the victims count what they take; and the run without
// attackers has the same honest peers and none of it.
func TestBTAttack(t *testing.T) {
	cfg := BTConfig{Peers: 200, MaxPeers: 30, Seed: 1, Duration: 8 * time.Minute,
		Attack: BTAttack{Fraction: 0.1, Prefixes: 4}}
	if raceOn {
		cfg.Peers, cfg.MaxPeers, cfg.Duration = 80, 16, 4*time.Minute
	}
	res := attackRun(t, cfg)
	a := res.Attack
	at, base := &a.Attacked, &a.Baseline
	t.Logf("attacked: %+v", at.Last())
	t.Logf("unattacked: %+v", base.Last())
	t.Logf("dials %+v / %+v; from attackers %d msgs (%d taken), attackers sent %d; floods %d; in flight %d; victims %+v",
		at.Dials, base.Dials, at.PEXFromAttackers, at.TakenFromAttackers, at.AttackerPEX, at.FloodDisconnects, at.DeadInFlightMax, at.Victims)

	if want := cfg.Attack.Attackers(cfg.Peers); a.Attackers != want || a.Honest != cfg.Peers-want {
		t.Fatalf("%d attackers and %d honest peers of %d", a.Attackers, a.Honest, cfg.Peers)
	}
	if len(at.Points) == 0 || len(base.Points) == 0 || &res.PEX[0] != &at.Points[0] {
		t.Fatalf("points: %d attacked, %d unattacked; the result's are not the attacked run's", len(at.Points), len(base.Points))
	}
	// The attackers' PEX is sent, received and counted.
	if at.AttackerPEX == 0 || at.PEXFromAttackers == 0 || at.PEXFromAttackers > at.AttackerPEX {
		t.Fatalf("attackers sent %d PEX messages, honest peers received %d", at.AttackerPEX, at.PEXFromAttackers)
	}
	if max := int64(pex.DefaultMaxTaken) * at.PEXFromAttackers; at.TakenFromAttackers == 0 || at.TakenFromAttackers > max {
		t.Fatalf("%d addresses taken from %d messages", at.TakenFromAttackers, at.PEXFromAttackers)
	}
	// Dials to addresses where nothing listens happen, each from an
	// address an attacker sent (invented addresses are fresh: each is
	// dialed once, and a message gives at most 50), each holding a slot
	// while it lasts.
	if max := int64(pex.DefaultMaxTaken) * at.AttackerPEX; at.Dials.Dead == 0 || at.Dials.Dead > max {
		t.Fatalf("%d dials to no listener, from %d messages", at.Dials.Dead, at.AttackerPEX)
	}
	if at.DeadInFlightMax < 1 || at.DeadInFlightMax > int64(cfg.MaxPeers) {
		t.Fatalf("a peer had %d dials to no listener in flight, more than its %d slots", at.DeadInFlightMax, cfg.MaxPeers)
	}
	// Victims are dialed and count it, within the dial policy's limit of
	// dials to one IP.
	var took int64
	for _, v := range at.Victims {
		took += v.Dials
	}
	if len(at.Victims) != DefaultVictims || took == 0 || took > at.Dials.Victim {
		t.Fatalf("victims took %d connections (%+v), honest peers dialed them %d times", took, at.Victims, at.Dials.Victim)
	}
	minutes := int64(at.Minutes()) + 1
	if limit := int64(a.Honest) * swarm.DefaultMaxDialsPerIP * (minutes + 1); func() bool {
		for _, v := range at.Victims {
			if v.Dials > limit {
				return true
			}
		}
		return false
	}() {
		t.Fatalf("a victim took more than %d connections (%d honest peers, %d dials a minute each): %+v", limit, a.Honest, swarm.DefaultMaxDialsPerIP, at.Victims)
	}
	if at.Dials.Wasted() != at.Dials.Dead+at.Dials.Victim || at.WastedMax == 0 || at.WastedMax > at.Dials.Wasted() {
		t.Fatalf("wasted %d, most one peer %d", at.Dials.Wasted(), at.WastedMax)
	}
	if last := at.Last(); last.Wasted > at.Dials.Wasted() {
		t.Fatalf("the last point counts %d dials wasted, the run %d", last.Wasted, at.Dials.Wasted())
	}
	// Honest peers hold links to attackers; honest knowledge stays a
	// share of the honest swarm.
	if l := at.Last(); l.AttackerConns <= 0 || l.Mean <= 0 || l.Mean > 1 || l.Min > l.Mean {
		t.Fatalf("attacked, at the end: %+v", l)
	}
	if at.LinksToAttackers <= 0 || at.HonestLinks+at.LinksToAttackers > float64(cfg.MaxPeers) || base.LinksToAttackers != 0 || base.HonestLinks <= 0 {
		t.Fatalf("links at the end, attacked: %.1f to honest peers, %.1f to attackers; unattacked: %.1f, %.1f",
			at.HonestLinks, at.LinksToAttackers, base.HonestLinks, base.LinksToAttackers)
	}
	// Without attackers: the same honest peers, nothing wasted, nobody
	// flooding.
	if base.Dials.Wasted() != 0 || base.Dials.Attacker != 0 || base.PEXFromAttackers != 0 || base.AttackerPEX != 0 || base.FloodDisconnects != 0 {
		t.Fatalf("unattacked: %+v", base)
	}
	if l := base.Last(); l.AttackerConns != 0 || l.VictimDials != 0 || l.Mean <= 0 || l.Mean > 1 {
		t.Fatalf("unattacked, at the end: %+v", l)
	}
}

// Attackers sending five times what the swarm tolerates (30 messages a
// minute, the rule ends a link at the 7th within 60 s) and 200
// addresses a message: the links are ended for flooding, and no message
// gives more than the rule's 50 addresses.
func TestBTAttackFlood(t *testing.T) {
	cfg := BTConfig{Peers: 100, MaxPeers: 20, Seed: 2, Duration: 4 * time.Minute,
		Attack: BTAttack{Fraction: 0.1, Rate: 30, Added: 200}}
	if raceOn {
		cfg.Peers, cfg.Duration = 60, 3*time.Minute
	}
	res := attackRun(t, cfg)
	at := &res.Attack.Attacked
	t.Logf("floods %d, attackers sent %d (%d addresses), honest received %d (%d taken), links ended %d",
		at.FloodDisconnects, at.AttackerPEX, at.AttackerNamed, at.PEXFromAttackers, at.TakenFromAttackers, at.AttackerLinksEnded)
	if at.FloodDisconnects == 0 || at.AttackerLinksEnded == 0 {
		t.Fatalf("no link ended for flooding: %d floods, %d links ended", at.FloodDisconnects, at.AttackerLinksEnded)
	}
	if at.AttackerNamed != 200*at.AttackerPEX || at.TakenFromAttackers > int64(pex.DefaultMaxTaken)*at.PEXFromAttackers {
		t.Fatalf("attackers named %d in %d messages; honest peers took %d of %d", at.AttackerNamed, at.AttackerPEX, at.TakenFromAttackers, at.PEXFromAttackers)
	}
}

// The attackers' and victims' addresses: each attacker has its own, in
// its prefix of the attackers' space; invented addresses are there too
// but on no attacker's port; none is an honest peer's.
func TestAttackPlanAddrs(t *testing.T) {
	cfg := BTConfig{Peers: 3000, Seed: 1, Attack: BTAttack{Fraction: 0.33, Prefixes: 3}}
	cfg.defaults()
	pl := newAttackPlan(cfg)
	if len(pl.attackers) != 990 || pl.honest != 2010 {
		t.Fatalf("%d attackers, %d honest", len(pl.attackers), pl.honest)
	}
	seen := map[netip.AddrPort]bool{}
	prefixes := map[netip.Prefix]bool{}
	for _, a := range pl.attackers {
		if seen[a] || !attackerIP(a.Addr()) || honestIP(a.Addr()) {
			t.Fatalf("attacker at %v", a)
		}
		seen[a] = true
		p, _ := a.Addr().Prefix(24)
		prefixes[p] = true
	}
	if len(prefixes) != 3 {
		t.Fatalf("attackers over %d prefixes: %v", len(prefixes), prefixes)
	}
	w := newBTWorld(cfg, pl, true, time.Now())
	for range 1000 {
		a := inventedAddr(w.rng, 3)
		p, _ := a.Addr().Prefix(24)
		if w.kindOf(a) != kindDead || !prefixes[p] {
			t.Fatalf("invented %v is kind %d", a, w.kindOf(a))
		}
	}
	if w.kindOf(nodeAddr(5, 6881)) != kindHonest || w.kindOf(pl.attackers[7]) != kindAttacker ||
		w.kindOf(netip.AddrPortFrom(victimAddr(1), victimPort(3))) != kindVictim {
		t.Fatal("kinds")
	}
}
