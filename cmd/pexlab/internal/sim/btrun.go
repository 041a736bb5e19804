package sim

import (
	"context"
	"math"
	"net/netip"
	"time"
)

// BTPoint is the swarm at one protocol time: what its honest peers (all
// its peers, in a run without attackers) know of them and the links they
// hold, the announces the tracker answered so far, and the dials wasted.
type BTPoint struct {
	T         time.Duration // protocol time since the first join
	Mean, Min float64       // the share of the honest swarm honest peers know: mean, and the least any peer knows
	Announces int64
	// HonestConns and AttackerConns: the connections an honest peer has
	// open to honest peers and to attackers, mean (counted by the
	// simulator as they open and close: links, and the few connections
	// still in their handshakes).
	HonestConns, AttackerConns float64
	// Wasted: the honest peers' dials so far to addresses where nothing
	// listens or to victims; VictimDials: the connections the victims
	// took so far.
	Wasted, VictimDials int64
}

// LoadRow is the tracker-load figure for one share: the announces a
// tracker answered until every peer knew that share of the swarm, with
// PEX and without (-1: not within the run).
type LoadRow struct {
	Share            float64
	WithPEX, NoPEX   int64
	WithPEXT, NoPEXT time.Duration // when, in protocol time
}

// BTResult is what a BitTorrent run measured.
type BTResult struct {
	Config  BTConfig
	Wall    time.Duration
	PEX     []BTPoint // the swarm of real engines, PEX on (with attackers, when the run has them)
	Tracker []BTPoint // the same tracker, schedule and connection limit without PEX (not with attackers)
	Load    []LoadRow
	Conns   float64 // mean connections per (honest) peer at the end, PEX on
	// Attack compares the run with attackers and the same run without
	// them; nil without attackers.
	Attack *BTAttackResult `json:",omitempty"`
}

// Shares the tracker-load figure is given for.
var loadShares = []float64{0.5, 0.9, 0.99}

// RunBT runs the swarm cfg describes, then the tracker-only baseline; or,
// with attackers, the swarm with them and without them side by side
// (btattackrun.go).
func RunBT(ctx context.Context, cfg BTConfig) (*BTResult, error) {
	cfg.defaults()
	if cfg.Attack.Fraction > 0 {
		return runAttack(ctx, cfg)
	}
	run := &swarmRun{}
	if err := runSwarms(ctx, cfg, newAttackPlan(cfg), run); err != nil {
		return nil, err
	}
	res := &BTResult{Config: cfg, PEX: run.side.Points, Conns: run.side.Conns}
	cfg.Progress.say("baseline", "peers", cfg.Peers)
	res.Tracker = trackerOnly(cfg, res.PEX)
	res.Load = loadTable(res.PEX, res.Tracker)
	res.Wall = time.Since(run.w.clock.Start)
	return res, nil
}

// swarmRun is one world of a run: the plan's honest peers, with its
// attackers or without, and what it measured.
type swarmRun struct {
	attack bool
	label  string // the run field of its progress events ("" for a run with nothing to compare)
	w      *btWorld
	side   BTSide
	next   []time.Time // its members' next announces, by member id
}

func (r *swarmRun) say(cfg *BTConfig, phase string, f ...any) {
	if r.label != "" {
		f = append(f, "run", r.label)
	}
	cfg.Progress.say(phase, f...)
}

// runSwarms runs the plan's honest peers, and its attackers in a run
// that attacks, on cfg's schedule, every run in a world of its own, side
// by side on one clock: peers join at JoinRate in the plan's order (an
// attacker's slot stays empty in a run without attackers), announce at
// join and every Interval, and the runs last Duration after the joins.
// The worlds share the machine, so that a run falling behind its clock
// (the engines' work taking longer than the protocol time it stands for)
// drags the others alike, and they join, sample and announce at the same
// times. A lone run with nothing to compare stops early once every peer
// knows the last of loadShares.
func runSwarms(ctx context.Context, cfg BTConfig, plan *attackPlan, runs ...*swarmRun) error {
	start := time.Now()
	for _, r := range runs {
		r.w = newBTWorld(cfg, plan, r.attack, start)
		defer r.w.close()
		r.next = make([]time.Time, cfg.Peers)
		if len(plan.victims) > 0 {
			if err := r.w.startVictims(); err != nil {
				return err
			}
		}
	}
	tick := time.Duration(float64(time.Second) / cfg.JoinRate)
	sampleEvery := cfg.real(time.Minute)
	nextSample := start
	sample := func() {
		for _, r := range runs {
			p := r.w.sample(time.Duration(float64(time.Since(start)) * cfg.Scale))
			r.side.Points = append(r.side.Points, p)
			r.say(&cfg, "progress", "protocol_s", p.T.Truncate(time.Second).Seconds(), "protocol_minutes", math.Round(p.T.Truncate(time.Second).Minutes()*1e3)/1e3,
				"peers", len(r.w.peers), "known_mean", math.Round(p.Mean*1e4)/1e4, "known_least", math.Round(p.Min*1e4)/1e4, "announces", p.Announces)
		}
	}
	reannounce := func(now time.Time) {
		for _, r := range runs {
			for id, next := range r.next {
				if !next.IsZero() && now.After(next) {
					r.w.learnMember(id, r.w.announce(id))
					r.next[id] = now.Add(cfg.real(cfg.Interval))
				}
			}
		}
	}
	for _, r := range runs {
		r.say(&cfg, "joining", "peers", cfg.Peers)
	}
	for k := range cfg.Peers {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		for _, r := range runs {
			if err := r.join(k); err != nil {
				return err
			}
		}
		if now := time.Now(); now.After(nextSample) {
			sample()
			nextSample = now.Add(sampleEvery)
			reannounce(now)
		}
		sleepCtx(ctx, time.Until(start.Add(time.Duration(k+1)*tick)))
	}
	elapsed := math.Round(time.Since(start).Seconds()*1e3) / 1e3
	for _, r := range runs {
		r.say(&cfg, "joined", "peers", cfg.Peers, "elapsed_s", elapsed, "seconds", elapsed)
	}
	end := time.Now().Add(cfg.real(cfg.Duration))
	early := len(runs) == 1 && runs[0].label == ""
	for time.Now().Before(end) && ctx.Err() == nil {
		sleepCtx(ctx, time.Until(nextSample))
		now := time.Now()
		reannounce(now)
		sample()
		nextSample = nextSample.Add(sampleEvery)
		pts := runs[0].side.Points
		if early && pts[len(pts)-1].Min >= loadShares[len(loadShares)-1] && len(pts) > 5 {
			break // every peer knows the last share: the figure is complete
		}
	}
	for _, r := range runs {
		r.w.tally(&r.side)
	}
	return nil
}

// join brings up join slot k's member in r's world: an honest peer, or an
// attacker in a run that attacks, which announces and dials what the
// tracker names.
func (r *swarmRun) join(k int) error {
	w, plan := r.w, r.w.plan
	id := plan.index[k]
	switch {
	case !plan.attacker[k]:
		p, err := w.start(id)
		if err != nil {
			return err
		}
		p.know.add(id)
	case r.attack:
		if _, err := w.startAttacker(id); err != nil {
			return err
		}
		id += plan.honest
	default:
		return nil
	}
	w.learnMember(id, w.announce(id))
	r.next[id] = time.Now().Add(w.cfg.real(w.cfg.Interval))
	return nil
}

// learnMember hands member id the tracker's answer, on a goroutine of its
// own: a busy swarm's lock may keep AddPeer waiting, and the joins, the
// samples and the other announces keep their schedule meanwhile.
func (w *btWorld) learnMember(id int, from []int) {
	w.mu.Lock()
	var p *btPeer
	var a *btAttacker
	if id < w.plan.honest {
		p = w.peers[id]
	} else {
		a = w.attackers[id-w.plan.honest]
	}
	w.mu.Unlock()
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if p != nil {
			w.learn(p, from)
			return
		}
		addrs := make([]netip.AddrPort, len(from))
		for i, j := range from {
			addrs[i] = w.memberAddr(j)
		}
		a.learn(addrs)
	}()
}

// sample reads every joined honest peer's knowledge and connections, and
// the dials wasted so far. It reads the simulator's own counters, not
// Swarm.Peers, which waits for each swarm's lock: under load, a sample
// of 1,000 swarms that way took seconds, while the joins waited.
func (w *btWorld) sample(t time.Duration) BTPoint {
	w.mu.Lock()
	peers, victims := w.peers, w.victims
	w.mu.Unlock()
	pt := BTPoint{T: t, Announces: w.announces.Load(), Min: 1}
	// The victims' side first, then the dials that reach them (counted
	// before they connect), so that a point never shows a victim taking
	// more than was dialed.
	for _, v := range victims {
		pt.VictimDials += v.total.Load()
	}
	for _, p := range peers {
		f := float64(p.know.count()) / float64(w.plan.honest)
		pt.Mean += f
		pt.Min = min(pt.Min, f)
		pt.HonestConns += float64(p.open[kindHonest].Load())
		pt.AttackerConns += float64(p.open[kindAttacker].Load())
		pt.Wasted += p.dials[kindVictim].Load() + p.dials[kindDead].Load()
	}
	if n := float64(len(peers)); n > 0 {
		pt.Mean /= n
		pt.HonestConns /= n
		pt.AttackerConns /= n
	}
	return pt
}
