package sim

// Why an honest node ended eclipsed (attackfigures.go): where its links
// came from. A node is eclipsed when every link it holds is to an
// attacker; the links it opened itself were introduced by a relay it
// asked (pxp.Peer.IntroducedBy), and whether that relay was a seed, an
// honest node or an attacker says whether the attackers chose them or
// merely were drawn.

// EclipsedFigures describe one honest node eclipsed when the attack
// ended.
type EclipsedFigures struct {
	Node int `json:"node"` // its index in the run: its place among the joins
	// JoinedS is when it joined, in seconds since the first join.
	JoinedS float64 `json:"joined_s"`
	// Out and In are its links to attackers: opened by it, and by them.
	Out int `json:"out"`
	In  int `json:"in"`
	// BySeed, ByHonest and ByAttacker count the relays that introduced
	// the links it opened; Unnamed those opened without one.
	BySeed     int `json:"by_seed"`
	ByHonest   int `json:"by_honest"`
	ByAttacker int `json:"by_attacker"`
	Unnamed    int `json:"unnamed"`
}

// maxEclipsedFigures bounds the eclipsed nodes described in a result.
const maxEclipsedFigures = 32

// eclipsedFigures describes up to maxEclipsedFigures honest nodes that
// are eclipsed now.
func (a *attackWorld) eclipsedFigures() []EclipsedFigures {
	w := a.w
	w.mu.Lock()
	nodes := append([]*pxpNode(nil), w.nodes...)
	w.mu.Unlock()
	a.mu.Lock()
	t0 := a.t0
	a.mu.Unlock()
	var out []EclipsedFigures
	for i, n := range nodes {
		if len(out) == maxEclipsedFigures {
			break
		}
		if i < w.cfg.Seeds || n == nil || n.atk != nil || n.isDead() {
			continue
		}
		f := EclipsedFigures{Node: i}
		honest := 0
		for _, l := range n.ex.Peers() {
			q := w.overlayNode(l.ID())
			if q == nil || q.isDead() {
				continue
			}
			if q.atk == nil {
				honest++
				break
			}
			if !l.Outgoing() {
				f.In++
				continue
			}
			f.Out++
			switch r, seed := w.nodeByID(l.IntroducedBy()); {
			case r == nil:
				f.Unnamed++
			case seed:
				f.BySeed++
			case r.atk != nil:
				f.ByAttacker++
			default:
				f.ByHonest++
			}
		}
		if honest > 0 || f.In+f.Out == 0 {
			continue
		}
		n.mu.Lock()
		start := n.start
		n.mu.Unlock()
		if !start.IsZero() {
			f.JoinedS = round(start.Sub(t0).Seconds(), 3)
		}
		out = append(out, f)
	}
	return out
}
