package sim

import (
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

// What the attackers do, by strategy (attack.go): each attacker is a
// goroutine driving its engine through pxp's API, as a program would.

// life is attacker n's behaviour, from its join until the attack ends.
func (a *attackWorld) life(n *pxpNode) {
	defer a.wg.Done()
	rng := a.rng()
	switch a.cfg.Strategy {
	case AttackEclipse:
		a.w.connectSeed(a.ctx, n)
		a.aim(a.ctx, n, rng)
	case AttackChurn:
		a.churn(n, rng)
	default:
		a.reach(a.ctx, n, rng)
	}
}

// attackerLinks is what attacker n holds: the ids it is linked to, how
// many of its links to honest nodes it opened, and the peers it may ask
// for candidates (seeds and honest nodes, over direct links).
func (a *attackWorld) attackerLinks(n *pxpNode) (linked map[string]bool, out int, relays []*pxp.Peer) {
	linked = map[string]bool{}
	for _, p := range n.ex.Peers() {
		id := p.ID()
		linked[id] = true
		q, seed := a.w.nodeByID(id)
		if q == nil || q.atk != nil || q.isDead() || p.Via() != nil {
			continue
		}
		relays = append(relays, p)
		if !seed && p.Outgoing() {
			out++
		}
	}
	return linked, out, relays
}

// reach has attacker n join and open links to honest nodes, up to
// Links, until ctx ends: it asks the seed or one of its honest peers at
// a time for candidates (at most five times a second, an honest relay's
// getpeers rate), dials the honest ones it has no link to (attackers it
// knows: they are skipped), and comes back after 10 s to a node that
// refused it. A link an honest node drops is made again.
func (a *attackWorld) reach(ctx context.Context, n *pxpNode, rng *rand.Rand) {
	refused := map[string]time.Time{}
	idle := 0
	for ctx.Err() == nil {
		linked, out, relays := a.attackerLinks(n)
		if len(relays) == 0 {
			if !a.w.connectSeed(ctx, n) {
				sleepCtx(ctx, time.Second)
			}
			continue
		}
		if out >= a.cfg.Links {
			sleepCtx(ctx, time.Second)
			continue
		}
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		cands, err := relays[rng.IntN(len(relays))].GetPeers(gctx)
		cancel()
		made := 0
		for _, c := range cands {
			if err != nil || out+made >= a.cfg.Links || ctx.Err() != nil {
				break
			}
			id, addr := candidateAddr(c.ConnectInfo)
			if q, seed := a.w.nodeByID(id); q == nil || seed || q.atk != nil || linked[id] || addr == "" {
				continue
			}
			if t, ok := refused[id]; ok && time.Since(t) < 10*time.Second {
				continue
			}
			if a.connect(ctx, n, addr) != nil {
				refused[id] = time.Now()
				continue
			}
			linked[id] = true
			made++
		}
		if made == 0 {
			idle = min(idle+1, 10)
		} else {
			idle = 0
		}
		sleepCtx(ctx, time.Duration(1+idle)*200*time.Millisecond)
	}
}

// aim has attacker n link to every eclipse target, continuously: a
// target it has no link to (not joined yet, refused, or dropped) is
// dialed again after a wait that doubles from half a second to 8 s
// (with jitter) while it keeps failing.
func (a *attackWorld) aim(ctx context.Context, n *pxpNode, rng *rand.Rand) {
	next := make([]time.Time, len(a.targets))
	wait := make([]time.Duration, len(a.targets))
	for ctx.Err() == nil {
		linked, _, _ := a.attackerLinks(n)
		now := time.Now()
		soonest := now.Add(time.Second)
		for k, ti := range a.targets {
			t := a.w.nodeAt(ti)
			if t != nil && !t.isDead() && linked[t.ex.ID()] {
				wait[k] = 0
				continue
			}
			if now.Before(next[k]) {
				soonest = minTime(soonest, next[k])
				continue
			}
			if t != nil && !t.isDead() && a.connect(ctx, n, t.addr) == nil {
				wait[k] = 0
				continue
			}
			wait[k] = min(max(2*wait[k], 500*time.Millisecond), 8*time.Second)
			next[k] = now.Add(time.Duration(float64(wait[k]) * (0.5 + rng.Float64())))
			soonest = minTime(soonest, next[k])
		}
		sleepCtx(ctx, max(time.Until(soonest), 100*time.Millisecond))
	}
}

// churn is one churn attacker's place: it joins and reaches out as in
// hoard until the attack starts, then stays a random time (exponential,
// of mean Lifetime) and leaves as a new attacker takes its place, until
// the attack ends (the one in place then stays).
func (a *attackWorld) churn(n *pxpNode, rng *rand.Rand) {
	a.reach(a.joinCtx, n, rng)
	for a.ctx.Err() == nil {
		stay := time.Duration(-math.Log(1-rng.Float64()) * float64(a.cfg.Lifetime))
		sctx, cancel := context.WithTimeout(a.ctx, stay)
		a.reach(sctx, n, rng)
		cancel()
		if a.ctx.Err() != nil {
			return
		}
		// The successor first, then the leaver goes (no longer named,
		// nor counted live) while its engine closes beside: on a loaded
		// machine starting one engine and closing another take a while,
		// and the attack would otherwise run short of attackers.
		next, err := a.replace(n)
		if err != nil {
			return
		}
		a.joined.Add(1)
		a.view.remove(n.ex.ID())
		n.mu.Lock()
		n.dead = true
		n.mu.Unlock()
		a.wg.Go(n.kill)
		a.left.Add(1)
		n = next
	}
}

// connect links attacker n to the node listening at addr.
func (a *attackWorld) connect(ctx context.Context, n *pxpNode, addr string) error {
	c, err := a.w.nw.DialFrom(a.w.localAddr(n), addr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	dc, err := n.ex.Connect(ctx, c)
	if err != nil {
		return err
	}
	return dc.Close() // the link stays; the sim moves no data
}

// candidateAddr reads a candidate's id and advertised address.
func candidateAddr(ci json.RawMessage) (id, addr string) {
	var v struct {
		ID  string `json:"id"`
		TCP string `json:"tcp"`
	}
	if json.Unmarshal(ci, &v) != nil {
		return "", ""
	}
	return v.ID, v.TCP
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
