package sim

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// PXPResult is what a PXP run measured.
type PXPResult struct {
	Config                    PXPConfig
	Wall                      time.Duration  // the whole run
	JoinWall                  time.Duration  // from the first join to the last node at Want
	JoinMS                    []float64      // each node's time to Want, sorted
	Failed                    int            // nodes that never reached Want
	FailedWhy                 map[string]int // of them, by their last GetNewPeer failure and the links they had
	Overlay                   Stats          // after the joins
	InDegree                  []int          // histogram: InDegree[d] nodes have d incoming links
	MsgsPerNode, BytesPerNode float64        // sent, mean over the nodes, joins included
	AfterChurn                *Stats         // after the churn phase, when there was one
	ChurnJoins                []float64      // times to Want of the nodes that joined during churn, sorted
	Kill                      *KillResult    // the mass failure, when there was one
	AtTarget                  int            // surviving nodes at Want when the run ended
	Below                     map[string]int // nodes below Want at the end, by their last GetNewPeer failure
	Alive                     int            // surviving nodes
	Attack                    *AttackResult  `json:",omitempty"` // what the attackers did, when there were any (attackfigures.go)
}

// KillResult is a mass failure and the healing after it.
type KillResult struct {
	Killed        int
	LargestAfter  float64       // the share of survivors in the largest component right after
	AtTargetAfter float64       // the share of survivors still at Want right after
	Healed        time.Duration // until every survivor was in one component at Want; 0 if not within HealFor
	// HealedLinks is until every survivor was in one component with Want
	// links, whoever opened them: Healed without Own's part, the measure
	// before Own was (at most Healed; 0 if not within HealFor).
	HealedLinks time.Duration
	// KillTook is how long the simulator took to close the victims, from
	// the same start as Healed: the survivors heal meanwhile, on the same
	// machine, so Healed counts it too.
	KillTook time.Duration
	// Introductions and IntroductionsFailed count the survivors' GetNewPeer
	// calls from the kill until healed (or HealFor): those that gave a
	// link, and those that did not.
	Introductions, IntroductionsFailed uint64
	Series                             []HealPoint
	Below                              map[string]int // when not healed: the nodes below Want, by their last failure
	Final                              Stats
}

// HealPoint is the state of the survivors at one moment after the kill.
type HealPoint struct {
	T        time.Duration
	Largest  float64 // share of survivors in the largest component
	AtTarget float64 // share of survivors at Want
}

// RunPXP runs the PXP network cfg describes until it is done or ctx ends.
func RunPXP(ctx context.Context, cfg PXPConfig) (*PXPResult, error) {
	cfg.defaults()
	start := time.Now()
	w := &pxpWorld{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)), ctx: ctx, byID: map[string]int{}}
	w.nw = memnet.NewNetwork()
	defer w.closeAll()
	if cfg.Attack.Fraction > 0 {
		w.atk = newAttackWorld(ctx, w)
		defer w.atk.stop() // before closeAll: the attackers' goroutines end first
	}
	for i := range cfg.Seeds {
		s, err := w.newNode(i, cfg.Nodes+cfg.Joining+64)
		if err != nil {
			return nil, err
		}
		if i > 0 { // seeds in a chain, so that every seed's joiners can meet
			c, err := w.nw.DialFrom(nodeAddr(i, 9000).String(), w.node(0).addr)
			if err != nil {
				return nil, err
			}
			if _, err := s.ex.Connect(ctx, c); err != nil {
				return nil, err
			}
		}
	}
	res := &PXPResult{Config: cfg}
	stopProgress := w.progress(ctx, start)
	defer stopProgress()
	// Joins, at JoinRate, at most Joining at once.
	cfg.Progress.say("joining", "nodes", cfg.Nodes)
	joinStart := time.Now()
	stopSampling := w.atk.sampling(ctx, joinStart)
	defer stopSampling()
	if err := w.joinMany(ctx, cfg.Seeds, cfg.Nodes); err != nil {
		return nil, err
	}
	stop := w.maintain(ctx)
	w.settle(ctx, time.Minute)
	res.JoinWall = time.Since(joinStart)
	res.JoinMS, res.Failed, res.FailedWhy = w.joinTimes(cfg.Seeds, cfg.Seeds+cfg.Nodes)
	g, alive := w.graph()
	res.Overlay = g.stats(alive, 200, w.rng)
	res.InDegree = histogram(g.InDegree, alive)
	res.MsgsPerNode, res.BytesPerNode = w.traffic()
	cfg.Progress.say("joined", "nodes", cfg.Nodes, "elapsed_s", math.Round(res.JoinWall.Seconds()*1e3)/1e3, "seconds", math.Round(res.JoinWall.Seconds()*1e3)/1e3, "failed", res.Failed)
	if w.atk != nil {
		res.Attack = w.attack(ctx)
	}
	if cfg.Churn > 0 {
		first := len(w.nodes)
		w.churn(ctx)
		w.settle(ctx, time.Minute)
		g, alive := w.graph()
		st := g.stats(alive, 200, w.rng)
		res.AfterChurn = &st
		res.ChurnJoins, _, _ = w.joinTimes(first, len(w.nodes))
		cfg.Progress.say("churned", "joined", len(w.nodes)-first)
	}
	if cfg.Kill > 0 {
		res.Kill = w.massFailure(ctx)
	}
	stop()
	stopSampling()
	if res.Attack != nil {
		res.Attack.Series = w.atk.series()
	}
	res.AtTarget, res.Alive = w.atTarget()
	res.Below = w.belowReasons()
	res.Wall = time.Since(start)
	return res, nil
}

// progress says, every two seconds, how many live nodes are at Want.
func (w *pxpWorld) progress(ctx context.Context, start time.Time) (stop func()) {
	if w.cfg.Progress == nil {
		return func() {}
	}
	pctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(2 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-pctx.Done():
				return
			case <-t.C:
				at, alive := w.atTarget()
				f := []any{"elapsed_s", time.Since(start).Truncate(time.Second).Seconds(), "alive", alive, "at_target", at}
				w.cfg.Progress.say("progress", append(f, w.atk.progressFields()...)...)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// joinMany joins nodes first..first+n-1 at the configured rate.
func (w *pxpWorld) joinMany(ctx context.Context, first, n int) error {
	sem := make(chan struct{}, w.cfg.Joining)
	tick := time.Duration(float64(time.Second) / w.cfg.JoinRate)
	next := time.Now()
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	for i := first; i < first+n; i++ {
		if ctx.Err() != nil {
			break
		}
		if d := time.Until(next); d > 0 {
			sleepCtx(ctx, d)
		}
		next = next.Add(tick)
		if w.atk.isAttacker(i) { // attackers join in among the others
			if err := w.atk.launch(i); err != nil {
				errMu.Lock()
				firstErr = err
				errMu.Unlock()
				break
			}
			continue
		}
		sem <- struct{}{}
		node, err := w.newNode(i, w.cfg.MaxPeers)
		if err != nil {
			<-sem
			errMu.Lock()
			firstErr = err
			errMu.Unlock()
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			w.join(ctx, node)
		}()
	}
	wg.Wait()
	return firstErr
}

// joinTimes returns the sorted times to Want of nodes [from, to), in ms,
// and how many never got there.
func (w *pxpWorld) joinTimes(from, to int) ([]float64, int, map[string]int) {
	var ms []float64
	failed := 0
	var why map[string]int
	for i := from; i < to; i++ {
		n := w.node(i)
		if n == nil || n.atk != nil {
			continue // an attacker (or a place kept for one)
		}
		n.mu.Lock()
		r, ok, last := n.reached, n.atWant, n.lastErr
		n.mu.Unlock()
		if !ok {
			failed++
			if why == nil {
				why = map[string]int{}
			}
			if last == "" {
				last = "no failure recorded"
			}
			links, opened := w.overlayLinks(n)
			why[fmt.Sprintf("%s (%d links, %d opened, dead %v)", last, links, opened, n.isDead())]++
			continue
		}
		ms = append(ms, float64(r.Microseconds())/1000)
	}
	slices.Sort(ms)
	return ms, failed, why
}

// traffic is the mean of messages and bytes sent per live node.
func (w *pxpWorld) traffic() (msgs, bytes float64) {
	live := w.live()
	for _, n := range live {
		st := n.ex.Stats()
		msgs += float64(st.MessagesSent)
		bytes += float64(st.BytesSent)
	}
	if len(live) > 0 {
		msgs /= float64(len(live))
		bytes /= float64(len(live))
	}
	return msgs, bytes
}

func (w *pxpWorld) closeAll() {
	w.mu.Lock()
	nodes := slices.Clone(w.nodes)
	w.mu.Unlock()
	sem := make(chan struct{}, 64)
	var wg sync.WaitGroup
	for _, n := range nodes {
		if n == nil || n.isDead() {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer wg.Done(); n.kill(); <-sem }()
	}
	wg.Wait()
}

// histogram counts the live nodes of each in-degree.
func histogram(deg []int, alive []bool) []int {
	var h []int
	for i, d := range deg {
		if alive != nil && !alive[i] {
			continue
		}
		for len(h) <= d {
			h = append(h, 0)
		}
		h[d]++
	}
	return h
}

// graph snapshots the overlay among live honest nodes (seeds and
// attackers aside).
func (w *pxpWorld) graph() (*Graph, []bool) {
	w.mu.Lock()
	nodes := slices.Clone(w.nodes)
	w.mu.Unlock()
	g := newGraph(len(nodes))
	alive := make([]bool, len(nodes))
	for i, n := range nodes {
		if i < w.cfg.Seeds || n == nil || n.atk != nil || n.isDead() {
			continue
		}
		alive[i] = true
		for _, p := range n.ex.Peers() {
			q := w.overlayNode(p.ID())
			if q == nil || q.atk != nil {
				continue
			}
			if p.Outgoing() { // the other end sees the same link as incoming
				g.addEdge(i, q.i)
			}
		}
	}
	g.dedupe()
	return g, alive
}
