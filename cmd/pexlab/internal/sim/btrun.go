package sim

import (
	"context"
	"math"
	"math/rand/v2"
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
	// HonestConns and AttackerConns: the links an honest peer holds to
	// honest peers and to attackers, mean.
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
// with attackers, the swarm without them and then with them
// (btattackrun.go).
func RunBT(ctx context.Context, cfg BTConfig) (*BTResult, error) {
	cfg.defaults()
	if cfg.Attack.Fraction > 0 {
		return runAttack(ctx, cfg)
	}
	start := time.Now()
	run, err := runSwarm(ctx, cfg, newAttackPlan(cfg), false, "")
	if err != nil {
		return nil, err
	}
	res := &BTResult{Config: cfg, PEX: run.Points, Conns: run.Conns}
	cfg.Progress.say("baseline", "peers", cfg.Peers)
	res.Tracker = trackerOnly(cfg, res.PEX)
	res.Load = loadTable(res.PEX, res.Tracker)
	res.Wall = time.Since(start)
	return res, nil
}

// runSwarm runs the honest peers of plan, and its attackers when attack
// is set, on cfg's schedule: peers join at JoinRate in the plan's order
// (an attacker's slot stays empty in a run without attackers), announce at
// join and every Interval, and the run lasts Duration after the joins;
// run names it in the progress events ("" for a run with no attack to
// compare). Without an attack to compare, it stops early once every peer
// knows the last of loadShares.
func runSwarm(ctx context.Context, cfg BTConfig, plan *attackPlan, attack bool, run string) (*BTSide, error) {
	w := newBTWorld(cfg, plan, attack)
	start := w.clock.Start
	defer w.close()
	say := func(phase string, f ...any) {
		if run != "" {
			f = append(f, "run", run)
		}
		cfg.Progress.say(phase, f...)
	}
	if len(plan.victims) > 0 {
		if err := w.startVictims(); err != nil {
			return nil, err
		}
	}
	side := &BTSide{}
	tick := time.Duration(float64(time.Second) / cfg.JoinRate)
	nextAnnounce := make([]time.Time, cfg.Peers) // by member id
	sampleEvery := cfg.real(time.Minute)
	nextSample := start
	sample := func() {
		p := w.sample(time.Duration(float64(time.Since(start)) * cfg.Scale))
		side.Points = append(side.Points, p)
		say("progress", "protocol_s", p.T.Truncate(time.Second).Seconds(), "protocol_minutes", math.Round(p.T.Truncate(time.Second).Minutes()*1e3)/1e3, "peers", len(w.peers),
			"known_mean", math.Round(p.Mean*1e4)/1e4, "known_least", math.Round(p.Min*1e4)/1e4, "announces", p.Announces)
	}
	reannounce := func(now time.Time) {
		for id, next := range nextAnnounce {
			if !next.IsZero() && now.After(next) {
				w.learnMember(id, w.announce(id))
				nextAnnounce[id] = now.Add(cfg.real(cfg.Interval))
			}
		}
	}
	say("joining", "peers", cfg.Peers)
	for k := range cfg.Peers {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		id := plan.index[k]
		if plan.attacker[k] {
			id += plan.honest
		}
		switch {
		case !plan.attacker[k]:
			p, err := w.start(id)
			if err != nil {
				return nil, err
			}
			p.know.add(id)
		case attack:
			if _, err := w.startAttacker(plan.index[k]); err != nil {
				return nil, err
			}
		}
		if !plan.attacker[k] || attack {
			w.learnMember(id, w.announce(id))
			nextAnnounce[id] = time.Now().Add(cfg.real(cfg.Interval))
		}
		if now := time.Now(); now.After(nextSample) {
			sample()
			nextSample = now.Add(sampleEvery)
			reannounce(now)
		}
		sleepCtx(ctx, time.Until(start.Add(time.Duration(k+1)*tick)))
	}
	say("joined", "peers", cfg.Peers, "elapsed_s", math.Round(time.Since(start).Seconds()*1e3)/1e3, "seconds", math.Round(time.Since(start).Seconds()*1e3)/1e3)
	end := time.Now().Add(cfg.real(cfg.Duration))
	for time.Now().Before(end) && ctx.Err() == nil {
		sleepCtx(ctx, time.Until(nextSample))
		now := time.Now()
		reannounce(now)
		sample()
		nextSample = nextSample.Add(sampleEvery)
		if last := side.Points[len(side.Points)-1]; run == "" && last.Min >= loadShares[len(loadShares)-1] && len(side.Points) > 5 {
			break // every peer knows the last share: the figure is complete
		}
	}
	w.tally(side)
	return side, nil
}

// learnMember hands member id the tracker's answer.
func (w *btWorld) learnMember(id int, from []int) {
	if id < w.plan.honest {
		w.learn(w.peers[id], from)
		return
	}
	addrs := make([]netip.AddrPort, len(from))
	for i, j := range from {
		addrs[i] = w.memberAddr(j)
	}
	w.attackers[id-w.plan.honest].learn(addrs)
}

// sample reads every joined honest peer's knowledge and links, and the
// dials wasted so far.
func (w *btWorld) sample(t time.Duration) BTPoint {
	w.mu.Lock()
	peers, victims := w.peers, w.victims
	w.mu.Unlock()
	pt := BTPoint{T: t, Announces: w.announces.Load(), Min: 1}
	for _, p := range peers {
		f := float64(p.know.count()) / float64(w.plan.honest)
		pt.Mean += f
		pt.Min = min(pt.Min, f)
		for _, c := range p.s.Peers() {
			switch ip := c.Addr.Addr(); {
			case honestIP(ip):
				pt.HonestConns++
			case attackerIP(ip):
				pt.AttackerConns++
			}
		}
		pt.Wasted += p.dials[kindVictim].Load() + p.dials[kindDead].Load()
	}
	if n := float64(len(peers)); n > 0 {
		pt.Mean /= n
		pt.HonestConns /= n
		pt.AttackerConns /= n
	}
	for _, v := range victims {
		pt.VictimDials += v.total.Load()
	}
	return pt
}

// trackerOnly is the same swarm without PEX, computed rather than run:
// peers join in the same order and at the same rate, announce at join
// and every Interval, and dial what the tracker names while both ends
// have a free connection; a peer knows whom the tracker named and who
// dialed it. It runs until every peer knows the largest share of
// loadShares, sampling at the times the PEX run sampled and every minute
// after.
func trackerOnly(cfg BTConfig, pexPoints []BTPoint) []BTPoint {
	n := cfg.Peers
	rng := rand.New(rand.NewPCG(cfg.Seed+1, cfg.Seed^0xda3e39cb94b95bdb))
	know := make([]knowledge, n)
	conns := make([]map[int]bool, n)
	joinAt := func(i int) time.Duration {
		return time.Duration(float64(i) / cfg.JoinRate * cfg.Scale * float64(time.Second))
	}
	var joined []int
	var announces int64
	next := make([]time.Duration, n)
	announce := func(i int) {
		announces++
		var got []int
		if len(joined) <= cfg.TrackerPeers+1 {
			got = append(got, joined...)
		} else {
			seen := map[int]bool{}
			for len(got) < cfg.TrackerPeers {
				j := joined[rng.IntN(len(joined))]
				if j != i && !seen[j] {
					seen[j] = true
					got = append(got, j)
				}
			}
		}
		for _, j := range got {
			know[i].add(j)
			if len(conns[i]) < cfg.MaxPeers && len(conns[j]) < cfg.MaxPeers && !conns[i][j] {
				conns[i][j], conns[j][i] = true, true
				know[j].add(i)
			}
		}
	}
	var out []BTPoint
	sampleAt := func(t time.Duration) {
		pt := BTPoint{T: t, Announces: announces, Min: 1}
		for _, i := range joined {
			f := float64(know[i].count()) / float64(n)
			pt.Mean += f
			pt.Min = min(pt.Min, f)
		}
		if len(joined) > 0 {
			pt.Mean /= float64(len(joined))
		}
		out = append(out, pt)
	}
	var times []time.Duration
	for _, p := range pexPoints {
		times = append(times, p.T)
	}
	t, k, s := time.Duration(0), 0, 0
	step := time.Second // protocol time
	for {
		for k < n && joinAt(k) <= t {
			know[k] = make(knowledge, (n+63)/64)
			conns[k] = map[int]bool{}
			know[k].add(k)
			announce(k)
			joined = append(joined, k)
			next[k] = t + cfg.Interval
			k++
		}
		for _, i := range joined {
			if t >= next[i] {
				announce(i)
				next[i] = t + cfg.Interval
			}
		}
		due := s >= len(times) || t >= times[s]
		if due {
			sampleAt(t)
			s++
			if k == n && out[len(out)-1].Min >= loadShares[len(loadShares)-1] {
				return out
			}
		}
		if t > 2000*cfg.Interval { // bounded: far past any figure worth giving
			return out
		}
		if k == n && s >= len(times) {
			step = cfg.Interval // only announces remain, one a peer an interval
		}
		t += step
	}
}

// loadTable finds, for each share, the first point where every peer knew
// it.
func loadTable(withPEX, noPEX []BTPoint) []LoadRow {
	first := func(pts []BTPoint, share float64) (int64, time.Duration) {
		for _, p := range pts {
			if p.Min >= share {
				return p.Announces, p.T
			}
		}
		return -1, 0
	}
	var rows []LoadRow
	for _, s := range loadShares {
		r := LoadRow{Share: s}
		r.WithPEX, r.WithPEXT = first(withPEX, s)
		r.NoPEX, r.NoPEXT = first(noPEX, s)
		rows = append(rows, r)
	}
	return rows
}
