package sim

import (
	"context"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"
)

// The phases of a PXP run after the joins: keeping nodes at their target,
// churn, a mass failure and the healing after it, and the figures read
// from the live nodes.

// maintain tops up, every 200 ms, live nodes below Want (joining again
// through a seed those left with no peer), a bounded number at once,
// until stop.
func (w *pxpWorld) maintain(ctx context.Context) (stop func()) {
	mctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		sem := make(chan struct{}, w.cfg.Joining)
		var wg sync.WaitGroup
		defer wg.Wait()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-mctx.Done():
				return
			case <-t.C:
			}
			for _, n := range w.live() {
				if w.atWant(n) {
					continue
				}
				n.mu.Lock()
				busy := n.topping
				n.topping = true
				n.mu.Unlock()
				if busy {
					continue
				}
				select {
				case sem <- struct{}{}:
				case <-mctx.Done():
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					// A node listed live before the wait for a slot may
					// have been killed meanwhile: join and grow return at
					// once for it.
					if len(n.ex.Peers()) == 0 {
						w.join(mctx, n)
					} else {
						gctx, cancel := context.WithTimeout(mctx, 30*time.Second)
						w.grow(gctx, n)
						cancel()
					}
					n.mu.Lock()
					n.topping = false
					n.mu.Unlock()
				}()
			}
		}
	}()
	return func() { cancel(); <-done }
}

// settle waits, at most limit, until every live node is at Want.
func (w *pxpWorld) settle(ctx context.Context, limit time.Duration) {
	end := time.Now().Add(limit)
	for time.Now().Before(end) && ctx.Err() == nil {
		if at, alive := w.atTarget(); at == alive {
			return
		}
		sleepCtx(ctx, 100*time.Millisecond)
	}
}

// live returns the live honest nodes, seeds and attackers aside.
func (w *pxpWorld) live() []*pxpNode {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*pxpNode
	for i, n := range w.nodes {
		if i >= w.cfg.Seeds && n != nil && n.atk == nil && !n.isDead() {
			out = append(out, n)
		}
	}
	return out
}

// atTarget counts live nodes at Want, and live nodes.
func (w *pxpWorld) atTarget() (at, alive int) {
	for _, n := range w.live() {
		alive++
		if w.atWant(n) {
			at++
		}
	}
	return at, alive
}

// atLinks is how many live nodes have Want links, whoever opened them.
func (w *pxpWorld) atLinks() (at int) {
	for _, n := range w.live() {
		if links, _ := w.overlayLinks(n); links >= w.cfg.Want {
			at++
		}
	}
	return at
}

// churn replaces Churn of the live nodes a second, for ChurnFor: killed
// at random, new ones joining.
func (w *pxpWorld) churn(ctx context.Context) {
	end := time.Now().Add(w.cfg.ChurnFor)
	step := 100 * time.Millisecond
	var wg sync.WaitGroup
	debt := 0.0
	for time.Now().Before(end) && ctx.Err() == nil {
		live := w.live()
		debt += w.cfg.Churn * float64(len(live)) * step.Seconds()
		for ; debt >= 1 && len(live) > 0; debt-- {
			k := w.intn(len(live))
			live[k].kill()
			live = slices.Delete(live, k, k+1)
			w.mu.Lock()
			i := len(w.nodes)
			w.mu.Unlock()
			node, err := w.newNode(i, w.cfg.MaxPeers)
			if err != nil {
				continue
			}
			wg.Add(1)
			go func() { defer wg.Done(); w.join(ctx, node) }()
		}
		sleepCtx(ctx, step)
	}
	wg.Wait()
}

// massFailure kills Kill of the live nodes at once and follows the
// survivors as they heal.
func (w *pxpWorld) massFailure(ctx context.Context) *KillResult {
	live := w.live()
	w.rngMu.Lock()
	w.rng.Shuffle(len(live), func(i, j int) { live[i], live[j] = live[j], live[i] })
	w.rngMu.Unlock()
	k := int(w.cfg.Kill * float64(len(live)))
	r := &KillResult{Killed: k}
	// The overlay the moment the victims crash: the one before, without
	// them. Taken before any is closed, it does not depend on how long
	// closing thousands of exchanges takes, while the survivors, already
	// topping up, would start healing.
	g, alive := w.graph()
	for _, n := range live[:k] {
		alive[n.i] = false
	}
	_, largest := g.components(alive)
	at, survivors := 0, 0
	for i, ok := range alive {
		if ok {
			survivors++
			if len(g.live(i, alive)) >= w.cfg.Want {
				at++
			}
		}
	}
	first := healPoint(0, at, largest.size, survivors)
	r.Series = append(r.Series, first)
	r.LargestAfter, r.AtTargetAfter = first.Largest, first.AtTarget
	ok0, failed0 := introductions(live[k:])
	start := time.Now()
	var wg sync.WaitGroup
	for _, n := range live[:k] {
		wg.Add(1)
		go func() { defer wg.Done(); n.kill() }()
	}
	wg.Wait()
	r.KillTook = max(time.Since(start), time.Millisecond)
	w.cfg.Progress.say("killed", "nodes", k, "survivors", len(live)-k, "kill_s", math.Round(r.KillTook.Seconds()*1e3)/1e3)
	for {
		g, alive := w.graph()
		_, largest := g.components(alive)
		at, n := w.atTarget()
		p := healPoint(time.Since(start), at, largest.size, n)
		r.Series = append(r.Series, p)
		if r.HealedLinks == 0 && largest.size == n && w.atLinks() == n {
			r.HealedLinks = max(p.T, time.Millisecond)
		}
		if at == n && largest.size == n {
			r.Healed = max(p.T, time.Millisecond)
			r.Final = g.stats(alive, 200, w.rng)
			break
		}
		if p.T > w.cfg.HealFor || ctx.Err() != nil {
			r.Final = g.stats(alive, 200, w.rng)
			r.Below = w.belowReasons()
			break
		}
		sleepCtx(ctx, 250*time.Millisecond)
	}
	ok1, failed1 := introductions(live[k:])
	r.Introductions, r.IntroductionsFailed = ok1-ok0, failed1-failed0
	w.cfg.Progress.say("healed", "healed_s", math.Round(r.Healed.Seconds()*1e3)/1e3, "seconds", math.Round(r.Healed.Seconds()*1e3)/1e3, "largest_after_share", math.Round(r.LargestAfter*1e4)/1e4, "largest_after", math.Round(r.LargestAfter*1e4)/1e4)
	return r
}

// introductions sums the GetNewPeer calls the nodes made so far: those
// that gave a link, and those that failed.
func introductions(nodes []*pxpNode) (ok, failed uint64) {
	for _, n := range nodes {
		for outcome, c := range n.ex.Stats().Introductions {
			if outcome == "failed" {
				failed += c
			} else {
				ok += c
			}
		}
	}
	return ok, failed
}

// healPoint is the survivors' state at t: at of n at Want, largest of
// them in the largest component.
func healPoint(t time.Duration, at, largest, n int) HealPoint {
	n = max(n, 1)
	return HealPoint{T: t, AtTarget: float64(at) / float64(n), Largest: float64(largest) / float64(n)}
}

// belowReasons counts the live nodes below Want by their last failure.
func (w *pxpWorld) belowReasons() map[string]int {
	m := map[string]int{}
	for _, n := range w.live() {
		if peers := w.overlayPeers(n); !w.atWant(n) {
			n.mu.Lock()
			why := n.lastErr
			n.mu.Unlock()
			if why == "" {
				why = "no failure recorded"
			}
			m[fmt.Sprintf("%s (%d peers)", why, peers)]++
		}
	}
	return m
}
