package sim

import (
	"context"
	"time"
)

// BTAttackResult compares a swarm with attackers (btattacker.go) and the
// same swarm without them, run side by side in one process on one clock:
// the same honest peers joining at the same times, the same tracker and
// seed, the attackers' join slots left empty.
type BTAttackResult struct {
	Attack    BTAttack // its fields filled with the defaults
	Honest    int      // honest peers
	Attackers int
	Attacked  BTSide // the run with the attackers
	Baseline  BTSide // the run without them
}

// BTSide is what one run of the comparison measured of the honest peers,
// of the victims and of the attackers.
type BTSide struct {
	Points []BTPoint
	// Conns, HonestLinks and LinksToAttackers: the links an honest peer
	// held at the end (Swarm.Peers: past their handshakes), mean, to
	// anyone, to honest peers and to attackers.
	Conns, HonestLinks, LinksToAttackers float64
	// Dials counts the honest peers' dials by what they reached.
	Dials DialCounts
	// WastedMax is the most dials one honest peer wasted (to victims and
	// to addresses where nothing listens); DeadInFlightMax the most dials
	// to such addresses one honest peer had in flight at once.
	WastedMax, DeadInFlightMax int64
	// Victims: the connections each victim took, in all and by protocol
	// minute of the run.
	Victims []VictimLoad
	// PEXFromAttackers and TakenFromAttackers: the PEX messages honest
	// peers received from attackers, and the addresses they took of them
	// (at most the rule's 50 a message).
	PEXFromAttackers, TakenFromAttackers int64
	// AttackerPEX and AttackerNamed: the messages the attackers sent and
	// the addresses they named in them; LinksPerAttacker the mean links an
	// attacker held at the end, AttackerLinksEnded their links that ended.
	AttackerPEX, AttackerNamed int64
	LinksPerAttacker           float64
	AttackerLinksEnded         int64
	// FloodDisconnects: the links honest peers ended for sending too
	// often; EventsDropped: events the honest engines dropped, their
	// channels full (PEXFromAttackers and TakenFromAttackers count from
	// them; what peers know is read off their connections).
	FloodDisconnects, EventsDropped uint64
	// SampleGapMax is the longest protocol time between two samples,
	// planned a minute apart: far more says the simulation fell behind
	// its clock (the engines' work took longer than the scaled time it
	// stands for), and its figures are those of a slower network.
	SampleGapMax time.Duration
}

// DialCounts are dials by what they reached.
type DialCounts struct {
	Honest, Attacker, Victim, Dead int64
}

// Wasted is the dials to victims and to addresses where nothing listens.
func (d DialCounts) Wasted() int64 { return d.Victim + d.Dead }

// VictimLoad is one victim's connections: in all, and by protocol minute.
type VictimLoad struct {
	Dials     int64
	PerMinute []int64
}

// runAttack runs cfg's swarm without its attackers and with them, side
// by side.
func runAttack(ctx context.Context, cfg BTConfig) (*BTResult, error) {
	plan := newAttackPlan(cfg)
	base, att := &swarmRun{label: "unattacked"}, &swarmRun{attack: true, label: "attacked"}
	if err := runSwarms(ctx, cfg, plan, base, att); err != nil {
		return nil, err
	}
	ar := &BTAttackResult{Attack: cfg.Attack, Honest: plan.honest, Attackers: len(plan.attackers), Attacked: att.side, Baseline: base.side}
	return &BTResult{Config: cfg, PEX: att.side.Points, Conns: att.side.Conns, Attack: ar, Wall: time.Since(att.w.clock.Start)}, nil
}

// tally reads the run's counters into side, before the world closes.
func (w *btWorld) tally(side *BTSide) {
	w.mu.Lock()
	peers, attackers, victims := w.peers, w.attackers, w.victims
	w.mu.Unlock()
	// The world still runs while it is read: what is counted at the
	// receiving end (a victim's connections, an honest peer's messages
	// from attackers) is read before what is counted at the sending end
	// (the dials, the attackers' messages), which counts first, so that
	// a reading never shows more received than sent.
	for _, v := range victims {
		v.mu.Lock()
		side.Victims = append(side.Victims, VictimLoad{Dials: v.total.Load(), PerMinute: append([]int64(nil), v.perMi...)})
		v.mu.Unlock()
	}
	var total, honest, bad int
	for _, p := range peers {
		links := p.s.Peers()
		total += len(links)
		for _, c := range links {
			switch ip := c.Addr.Addr(); {
			case honestIP(ip):
				honest++
			case attackerIP(ip):
				bad++
			}
		}
		d := DialCounts{Honest: p.dials[kindHonest].Load(), Attacker: p.dials[kindAttacker].Load(),
			Victim: p.dials[kindVictim].Load(), Dead: p.dials[kindDead].Load()}
		side.Dials.Honest += d.Honest
		side.Dials.Attacker += d.Attacker
		side.Dials.Victim += d.Victim
		side.Dials.Dead += d.Dead
		side.WastedMax = max(side.WastedMax, d.Wasted())
		side.PEXFromAttackers += p.fromAtk.Load()
		side.TakenFromAttackers += p.takenAtk.Load()
		st := p.s.Stats()
		side.FloodDisconnects += st.FloodDisconnects
		side.EventsDropped += st.EventsDropped
	}
	if n := float64(len(peers)); n > 0 {
		side.Conns, side.HonestLinks, side.LinksToAttackers = float64(total)/n, float64(honest)/n, float64(bad)/n
	}
	side.DeadInFlightMax = w.deadMax.Load()
	for i := 1; i < len(side.Points); i++ {
		side.SampleGapMax = max(side.SampleGapMax, side.Points[i].T-side.Points[i-1].T)
	}
	links := 0
	for _, a := range attackers {
		side.AttackerPEX += a.sent.Load()
		side.AttackerNamed += a.named.Load()
		side.AttackerLinksEnded += a.ended.Load()
		links += a.conns()
	}
	if len(attackers) > 0 {
		side.LinksPerAttacker = float64(links) / float64(len(attackers))
	}
}

// Minutes is the protocol minutes the side's run lasted, from the first
// join to its last sample.
func (s *BTSide) Minutes() float64 {
	if len(s.Points) == 0 {
		return 0
	}
	return s.Points[len(s.Points)-1].T.Minutes()
}

// Last is the side's last sample.
func (s *BTSide) Last() BTPoint {
	if len(s.Points) == 0 {
		return BTPoint{}
	}
	return s.Points[len(s.Points)-1]
}

// VictimFigures sums up the victims' load: the most dials one victim
// took and the mean over victims, the most a minute one took over the
// run (its dials over the run's protocol minutes), and the most one took
// in one protocol minute.
func (s *BTSide) VictimFigures() (maxDials int64, mean, perMinuteMax float64, peakMinute int64) {
	var sum int64
	for _, v := range s.Victims {
		maxDials = max(maxDials, v.Dials)
		sum += v.Dials
		for _, n := range v.PerMinute {
			peakMinute = max(peakMinute, n)
		}
	}
	if len(s.Victims) > 0 {
		mean = float64(sum) / float64(len(s.Victims))
	}
	if m := s.Minutes(); m > 0 {
		perMinuteMax = float64(maxDials) / m
	}
	return maxDials, mean, perMinuteMax, peakMinute
}
