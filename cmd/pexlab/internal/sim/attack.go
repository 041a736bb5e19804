package sim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/internal/pxphook"
	"github.com/seed0021ed4d/pex/pxp"
)

// Attackers in a PXP run (PXPConfig.Attack): adversarial nodes that are
// real pxp engines speaking the protocol, with a hostile policy. They
// accept every link and never drop one, share one view (each knows every
// other attacker), answer every getpeers with attackers only (the lab's
// pxp hook, internal/pxphook) and so introduce nobody but attackers, and
// sit in /24s of their own, apart from the honest nodes'. What they do
// besides depends on the strategy (attackers.go); what they achieve is
// measured on the honest nodes (attackfigures.go).

// The attack strategies.
const (
	// AttackHoard: attackers join like honest nodes and reach out to as
	// many honest nodes as their limit (AttackConfig.Links) allows,
	// making again every link an honest node drops.
	AttackHoard = "hoard"
	// AttackEclipse: every attacker aims at the same few honest targets
	// (AttackConfig.Targets), linking to each continuously and again
	// whenever dropped or refused.
	AttackEclipse = "eclipse"
	// AttackChurn: attackers join and reach out as in hoard, then, once
	// the attack starts, each leaves after a random stay (mean
	// AttackConfig.Lifetime) and a new one takes its place.
	AttackChurn = "churn"
)

// AttackStrategies are the strategies AttackConfig.Strategy takes.
var AttackStrategies = []string{AttackHoard, AttackEclipse, AttackChurn}

// AttackConfig puts attackers among a PXP run's nodes; the zero value
// means none, and zero fields take the defaults named.
type AttackConfig struct {
	// Fraction of PXPConfig.Nodes are attackers, the rest honest (0.2 of
	// 10,000: 2,000 attackers, 8,000 honest nodes); they join in among the
	// honest nodes, spread evenly over the joins. 0: no attackers.
	Fraction float64
	// Prefixes is how many /24s the attackers spread over, apart from
	// the honest nodes' (0: one each, up to 4,096; past that they share).
	Prefixes int
	// Strategy is one of AttackStrategies (default hoard).
	Strategy string
	// Targets is how many honest nodes eclipse aims at (default 10).
	Targets int
	// Links bounds the links one attacker opens to honest nodes, hoard
	// and churn (default: PXPConfig.MaxPeers, an engine's own limit);
	// links honest nodes open to it are never refused nor counted.
	Links int
	// Lifetime is an attacker's mean stay once a churn attack starts
	// (default 5 s).
	Lifetime time.Duration
	// For is how long the attack runs once the joins have settled
	// (default 30 s); the figures at its end are the run's.
	For time.Duration
}

func (c *AttackConfig) defaults(maxPeers int) {
	if c.Fraction <= 0 {
		return
	}
	if c.Strategy == "" {
		c.Strategy = AttackHoard
	}
	if c.Targets <= 0 {
		c.Targets = 10
	}
	if c.Links <= 0 {
		c.Links = maxPeers
	}
	if c.Lifetime <= 0 {
		c.Lifetime = 5 * time.Second
	}
	if c.For <= 0 {
		c.For = 30 * time.Second
	}
}

// Attackers is how many of nodes are attackers.
func (c AttackConfig) Attackers(nodes int) int {
	return min(nodes, int(math.Round(c.Fraction*float64(nodes))))
}

// attackPrefixes is the number of /24s the attackers' addresses use.
const attackPrefixes = 4096

// attackAddr is the address of the m-th attacker to take /24 number k of
// the attackers' own, in 172.16.0.0/12: apart from the honest nodes'
// 10.0.0.0/8, and private like them, so that no engine's scope rule
// tells the two apart. Within a /24, hosts 1 to 250, then further ports.
func attackAddr(k, m int) netip.AddrPort {
	k %= attackPrefixes
	ip := netip.AddrFrom4([4]byte{172, byte(16 + k>>8), byte(k), byte(1 + m%250)})
	return netip.AddrPortFrom(ip, uint16(7000+m/250))
}

// attacker is an attacker node's own state.
type attacker struct {
	slot int // its /24 among the attackers'
}

// attackWorld is the attackers of a run and what is measured of them.
type attackWorld struct {
	w       *pxpWorld
	cfg     AttackConfig
	total   int // attackers among the joins
	first   int // the joins' first index
	nodes   int // the joins
	targets []int
	view    attackView

	ctx     context.Context // the attackers' behaviour: cancelled when the attack ends
	cancel  context.CancelFunc
	joinCtx context.Context // cancelled when the attack starts (churn's stays begin)
	endJoin context.CancelFunc
	wg      sync.WaitGroup
	stopped sync.Once

	mu       sync.Mutex
	launched int         // attackers started among the joins
	perSlot  map[int]int // attackers that have taken each /24 (addresses)
	rngs     uint64      // per-attacker generators handed out
	t0       time.Time   // the first join
	points   []AttackPoint
	tmin     []int // eclipse: each target's fewest honest links since it reached Want; -1 before
	tracking bool  // the attack has not ended: tmin is kept

	intros, toAttacker, named atomic.Int64
	joined, left              atomic.Int64
}

// newAttackWorld prepares the attackers of w's run; the eclipse targets
// are drawn from the honest joins.
func newAttackWorld(ctx context.Context, w *pxpWorld) *attackWorld {
	c := w.cfg
	a := &attackWorld{w: w, cfg: c.Attack, total: c.Attack.Attackers(c.Nodes), first: c.Seeds, nodes: c.Nodes, perSlot: map[int]int{}, tracking: true}
	a.view.init(rand.New(rand.NewPCG(c.Seed, 0xa77ac4)))
	a.ctx, a.cancel = context.WithCancel(ctx)
	a.joinCtx, a.endJoin = context.WithCancel(a.ctx)
	if a.cfg.Strategy == AttackEclipse {
		var honest []int
		for i := a.first; i < a.first+a.nodes; i++ {
			if !a.isAttacker(i) {
				honest = append(honest, i)
			}
		}
		w.rngMu.Lock()
		w.rng.Shuffle(len(honest), func(i, j int) { honest[i], honest[j] = honest[j], honest[i] })
		w.rngMu.Unlock()
		a.targets = honest[:min(a.cfg.Targets, len(honest))]
		a.tmin = make([]int, len(a.targets))
		for k := range a.tmin {
			a.tmin[k] = -1
		}
	}
	return a
}

// isAttacker reports whether join index i is an attacker's: the
// attackers are spread evenly over the joins.
func (a *attackWorld) isAttacker(i int) bool {
	if a == nil || i < a.first || i >= a.first+a.nodes {
		return false
	}
	k := i - a.first
	return (k+1)*a.total/a.nodes > k*a.total/a.nodes
}

// launch starts the attacker of join index i.
func (a *attackWorld) launch(i int) error {
	a.mu.Lock()
	slot := a.launched
	a.launched++
	a.mu.Unlock()
	if a.cfg.Prefixes > 0 {
		slot %= a.cfg.Prefixes
	}
	n, err := a.newAttacker(i, slot)
	if err != nil {
		return err
	}
	a.wg.Add(1)
	go a.life(n)
	return nil
}

// newAttacker starts an attacker at index i in /24 slot: an engine that
// takes every link (no MaxPeers to speak of, no slot kept for its own)
// and answers getpeers from the attackers' view.
func (a *attackWorld) newAttacker(i, slot int) (*pxpNode, error) {
	a.mu.Lock()
	m := a.perSlot[slot%attackPrefixes]
	a.perSlot[slot%attackPrefixes]++
	a.mu.Unlock()
	cfg := &pxp.Config{MaxPeers: 1 << 20, ReservedOutbound: -1, EventBuffer: 1, IncomingBuffer: 16}
	var self atomic.Pointer[string] // its id, once its engine has one
	pxphook.SetCandidates(cfg, func(asker string) []json.RawMessage {
		me := ""
		if p := self.Load(); p != nil {
			me = *p
		}
		return a.view.answer(asker, me)
	})
	n, err := a.w.startNode(i, attackAddr(slot, m), cfg, &attacker{slot: slot})
	if err != nil {
		return nil, err
	}
	id := n.ex.ID()
	self.Store(&id)
	ci, _ := json.Marshal(map[string]any{"pxp": true, "relay": true, "webrtc": false, "id": n.ex.ID(), "dialback": true, "tcp": n.addr})
	a.view.add(n.ex.ID(), ci)
	return n, nil
}

// replace has a new attacker take departed attacker n's /24, at a new
// index and address, with a new id.
func (a *attackWorld) replace(n *pxpNode) (*pxpNode, error) {
	w := a.w
	w.mu.Lock()
	i := len(w.nodes)
	w.nodes = append(w.nodes, nil) // its place, kept
	w.mu.Unlock()
	return a.newAttacker(i, n.atk.slot)
}

// rng returns a generator of the attackers' own for one attacker's
// choices.
func (a *attackWorld) rng() *rand.Rand {
	a.mu.Lock()
	a.rngs++
	k := a.rngs
	a.mu.Unlock()
	return rand.New(rand.NewPCG(a.w.cfg.Seed, k))
}

// stop ends the attackers' behaviour and waits for it; the attackers
// stay, holding their links.
func (a *attackWorld) stop() {
	if a == nil {
		return
	}
	a.stopped.Do(func() {
		a.mu.Lock()
		a.tracking = false
		a.mu.Unlock()
		a.cancel()
		a.wg.Wait()
	})
}

// attack runs the attack phase: For long, churn's stays begun, then the
// figures at its end; the attackers' behaviour ends and the honest nodes
// are given a minute to be back at Want.
func (w *pxpWorld) attack(ctx context.Context) *AttackResult {
	a := w.atk
	start := a.since()
	w.cfg.Progress.say("attacking", "attack", a.cfg.Strategy, "attackers", a.total, "honest", a.nodes-a.total, "for_s", a.cfg.For.Seconds())
	a.endJoin()
	sleepCtx(ctx, a.cfg.For)
	end := a.point()
	eclipsed := a.eclipsedFigures()
	a.record(end)
	a.stop()
	r := a.result(end, start)
	r.EclipsedNodes = eclipsed
	w.cfg.Progress.say("attacked", "attack_link_share_mean", round(r.End.ShareMean, 4), "attack_link_share_p99", round(r.End.ShareP99, 4),
		"attack_link_share_max", round(r.End.ShareMax, 4), "eclipsed", r.End.Eclipsed, "honest_largest", r.End.HonestLargest)
	w.settle(ctx, time.Minute)
	return r
}

func round(f float64, n int) float64 {
	p := math.Pow(10, float64(n))
	return math.Round(f*p) / p
}

// introduced counts an honest node's introduction and whether it ended
// at an attacker (nothing without attackers).
func (a *attackWorld) introduced(n *pxpNode, c *pxp.Conn) {
	if a == nil || c.Peer() == nil {
		return
	}
	a.intros.Add(1)
	id := c.Peer().ID()
	if q := a.w.overlayNode(id); q != nil && q.atk != nil {
		a.toAttacker.Add(1)
		if a.view.wasNamed(n.ex.ID(), id) {
			a.named.Add(1)
		}
	}
}

// String names the attack for tables.
func (c AttackConfig) String() string {
	prefixes := "one /24 each"
	if c.Prefixes > 0 {
		prefixes = fmt.Sprintf("in %d /24s", c.Prefixes)
	}
	return fmt.Sprintf("%s, %s", c.Strategy, prefixes)
}
