package sim

import (
	"context"
	"slices"
	"sync"
	"time"
)

// What the attackers achieve, measured on the honest nodes (attack.go).
// A node's links are its overlay links, as for Want: to live nodes,
// seeds aside.

// AttackPoint is the honest nodes' state at one moment of a run.
type AttackPoint struct {
	T         time.Duration // since the first join
	Honest    int           // live honest nodes
	Attackers int           // live attackers
	// ShareMean, ShareP99 and ShareMax are the attackers' share of an
	// honest node's links, over the honest nodes that have any.
	ShareMean, ShareP99, ShareMax float64
	// OutShareMean is the attackers' share of the links an honest node
	// opened itself, the mean over the honest nodes that opened any.
	OutShareMean float64
	Eclipsed     int // honest nodes with links, every one to an attacker
	Isolated     int // honest nodes with no link
	// NoHonestIn counts the honest nodes with links of which no honest
	// node opened one: those hang on the links they opened themselves
	// (the late joiners, mostly: honest nodes open links while they
	// grow, so to the nodes already there).
	NoHonestIn int
	// OutShareNoHonestIn is OutShareMean over those nodes alone.
	OutShareNoHonestIn float64
	HonestLargest      int // the largest component of the overlay of honest nodes and their links to each other
	AtWant             int // honest nodes with Want links or more, as they count (attackers too)
	AtWantHonest       int // honest nodes with Want links or more to honest nodes
	// LinksIn and LinksOut are the honest nodes' links to attackers:
	// those the attackers opened, and those the honest nodes opened
	// (introductions).
	LinksIn, LinksOut int
	// TargetsMinHonest is, for eclipse, the fewest links to honest nodes
	// a target that has reached Want holds (-1: none has yet).
	TargetsMinHonest int
}

// TargetFigures are one eclipse target's.
type TargetFigures struct {
	Node      int // its index in the run
	MinHonest int // the fewest honest links it held, sampled, from reaching Want to the attack's end (-1: it never reached Want)
	EndHonest int // its links to honest nodes when the attack ended
	EndLinks  int // its links then
}

// AttackResult is what the attackers achieved.
type AttackResult struct {
	Config    AttackConfig
	Attackers int // attackers among the joins
	Honest    int // honest nodes among them
	// Start and Stop bound the attack phase, since the first join; the
	// attackers' behaviour ran from their joins to Stop.
	Start, Stop time.Duration
	End         AttackPoint   // when the attack ended: the run's figures
	Series      []AttackPoint // from the first join to the run's end, one a second
	// The extremes over the attack phase.
	PeakShareMean, PeakShareP99 float64
	PeakEclipsed                int
	LowLargest                  int
	// Intros counts the honest nodes' GetNewPeer results over the run,
	// IntrosToAttacker those that linked to an attacker, and
	// IntrosNamed those of them naming an attacker that an attacker's
	// last getpeers answer to that node had named.
	Intros, IntrosToAttacker, IntrosNamed int64
	// Targets are eclipse's targets; TargetsMinHonest the fewest honest
	// links any of them held from reaching Want to the attack's end (-1:
	// none reached it).
	Targets          []TargetFigures
	TargetsMinHonest int
	// EclipsedNodes describe the honest nodes eclipsed when the attack
	// ended (up to 32 of them; attackeclipsed.go).
	EclipsedNodes []EclipsedFigures
	// Joined and Left count, for churn, the attackers that came and went
	// during the attack.
	Joined, Left int64
}

// since is the time since the first join.
func (a *attackWorld) since() time.Duration {
	a.mu.Lock()
	defer a.mu.Unlock()
	return time.Since(a.t0)
}

// sampling records, from t0 (the first join) until stop (which may be
// called again), a point a second, and every 250 ms the eclipse
// targets' honest links. Nothing without attackers.
func (a *attackWorld) sampling(ctx context.Context, t0 time.Time) (stop func()) {
	if a == nil {
		return func() {}
	}
	a.mu.Lock()
	a.t0 = t0
	a.mu.Unlock()
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for tick := 1; ; tick++ {
			select {
			case <-sctx.Done():
				return
			case <-t.C:
			}
			if tick%4 == 0 {
				a.record(a.point())
			} else {
				a.targetLinks()
			}
		}
	}()
	var once sync.Once
	return func() { once.Do(func() { cancel(); <-done }) }
}

// record keeps p in the series.
func (a *attackWorld) record(p AttackPoint) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.points = append(a.points, p)
}

// series returns the points recorded.
func (a *attackWorld) series() []AttackPoint {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.points)
}

// point measures the honest nodes now.
func (a *attackWorld) point() AttackPoint {
	w := a.w
	w.mu.Lock()
	nodes := slices.Clone(w.nodes)
	w.mu.Unlock()
	p := AttackPoint{T: a.since(), TargetsMinHonest: a.targetLinks()}
	g := newGraph(len(nodes))
	alive := make([]bool, len(nodes))
	var shares []float64
	sum, outSum, outN := 0.0, 0.0, 0
	leafSum, leafN := 0.0, 0
	// The live attackers first, in one quick pass: the honest nodes'
	// pass takes long enough, on a loaded machine, for many churn
	// attackers to leave during it, their successors started after the
	// snapshot.
	for i, n := range nodes {
		if i >= w.cfg.Seeds && n != nil && n.atk != nil && !n.isDead() {
			p.Attackers++
		}
	}
	for i, n := range nodes {
		if i < w.cfg.Seeds || n == nil || n.atk != nil || n.isDead() {
			continue
		}
		alive[i] = true
		p.Honest++
		att, hon, honIn, out, outAtt := 0, 0, 0, 0, 0
		for _, l := range n.ex.Peers() {
			q := w.overlayNode(l.ID())
			if q == nil || q.isDead() {
				continue
			}
			if l.Outgoing() {
				out++
			}
			if q.atk == nil {
				hon++
				if !l.Outgoing() {
					honIn++
				}
				if l.Outgoing() && q.i < len(nodes) { // a node started since the snapshot has no place in g
					g.addEdge(i, q.i)
				}
				continue
			}
			att++
			if l.Outgoing() {
				p.LinksOut++
				outAtt++
			} else {
				p.LinksIn++
			}
		}
		switch {
		case att+hon == 0:
			p.Isolated++
			continue
		case hon == 0:
			p.Eclipsed++
		}
		if honIn == 0 {
			p.NoHonestIn++
			if out > 0 {
				leafSum += float64(outAtt) / float64(out)
				leafN++
			}
		}
		if att+hon >= w.cfg.Want {
			p.AtWant++
		}
		if hon >= w.cfg.Want {
			p.AtWantHonest++
		}
		s := float64(att) / float64(att+hon)
		shares = append(shares, s)
		sum += s
		if out > 0 {
			outSum += float64(outAtt) / float64(out)
			outN++
		}
	}
	g.dedupe()
	_, largest := g.components(alive)
	p.HonestLargest = largest.size
	if outN > 0 {
		p.OutShareMean = outSum / float64(outN)
	}
	if leafN > 0 {
		p.OutShareNoHonestIn = leafSum / float64(leafN)
	}
	if len(shares) > 0 {
		slices.Sort(shares)
		p.ShareMean = sum / float64(len(shares))
		p.ShareP99 = Percentile(shares, 99)
		p.ShareMax = shares[len(shares)-1]
	}
	return p
}

// honestLinks counts n's links to live honest nodes, and its links.
func (w *pxpWorld) honestLinks(n *pxpNode) (honest, all int) {
	for _, l := range n.ex.Peers() {
		if q := w.overlayNode(l.ID()); q != nil && !q.isDead() {
			all++
			if q.atk == nil {
				honest++
			}
		}
	}
	return honest, all
}

// targetLinks samples the eclipse targets that have reached Want, keeps
// each one's fewest honest links while the attack runs, and returns the
// fewest of any now (-1: none at Want yet, or no targets).
func (a *attackWorld) targetLinks() int {
	fewest := -1
	for k, i := range a.targets {
		t := a.w.nodeAt(i)
		if t == nil || t.isDead() {
			continue
		}
		t.mu.Lock()
		reached := t.atWant
		t.mu.Unlock()
		if !reached {
			continue
		}
		h, _ := a.w.honestLinks(t)
		if fewest < 0 || h < fewest {
			fewest = h
		}
		a.mu.Lock()
		if a.tracking && (a.tmin[k] < 0 || h < a.tmin[k]) {
			a.tmin[k] = h
		}
		a.mu.Unlock()
	}
	return fewest
}

// result sums up the attack that ran from start, end being the point
// taken when it ended.
func (a *attackWorld) result(end AttackPoint, start time.Duration) *AttackResult {
	r := &AttackResult{Config: a.cfg, Attackers: a.total, Honest: a.nodes - a.total, Start: start, Stop: end.T, End: end,
		LowLargest: end.HonestLargest, TargetsMinHonest: -1,
		Intros: a.intros.Load(), IntrosToAttacker: a.toAttacker.Load(), IntrosNamed: a.named.Load(),
		Joined: a.joined.Load(), Left: a.left.Load()}
	for _, p := range a.series() {
		if p.T < start || p.T > end.T {
			continue
		}
		r.PeakShareMean = max(r.PeakShareMean, p.ShareMean)
		r.PeakShareP99 = max(r.PeakShareP99, p.ShareP99)
		r.PeakEclipsed = max(r.PeakEclipsed, p.Eclipsed)
		r.LowLargest = min(r.LowLargest, p.HonestLargest)
	}
	a.mu.Lock()
	tmin := slices.Clone(a.tmin)
	a.mu.Unlock()
	for k, i := range a.targets {
		tf := TargetFigures{Node: i, MinHonest: tmin[k]}
		if t := a.w.nodeAt(i); t != nil && !t.isDead() {
			tf.EndHonest, tf.EndLinks = a.w.honestLinks(t)
		}
		r.Targets = append(r.Targets, tf)
		if tf.MinHonest >= 0 && (r.TargetsMinHonest < 0 || tf.MinHonest < r.TargetsMinHonest) {
			r.TargetsMinHonest = tf.MinHonest
		}
	}
	return r
}

// progressFields are the attack's figures for a progress line: the
// latest point's (none without attackers, or before the first point).
func (a *attackWorld) progressFields() []any {
	if a == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.points) == 0 {
		return nil
	}
	p := a.points[len(a.points)-1]
	return []any{"attack_link_share_mean", round(p.ShareMean, 4), "eclipsed", p.Eclipsed, "honest_largest", p.HonestLargest}
}
