package sim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/pxp"
)

// PXPConfig shapes a PXP run; zero fields take the defaults named.
type PXPConfig struct {
	Nodes    int     // nodes besides the seeds (default 1000)
	Want     int     // peers each node grows to with GetNewPeer (default 8)
	Own      int     // of them, links a node opens itself, however many others open to it (default Want; negative: none)
	Seeds    int     // bootstrap nodes; a joining node connects to one at random (default 1)
	DropSeed bool    // close the link to the seed after reaching Want (default: keep it, as PXP nodes do)
	JoinRate float64 // nodes starting to join per second (default 2000)
	Joining  int     // nodes joining at once, at most (default 256)
	MaxPeers int     // each node's pxp MaxPeers (default 64)
	Churn    float64 // during the churn phase, the share of nodes replaced per second (0: no churn)
	ChurnFor time.Duration
	Kill     float64       // the share of nodes killed at once after the network settles (0: none)
	HealFor  time.Duration // how long the survivors are given to heal (default 60 s)
	Seed     uint64        // the run's own random choices (pxp's are its own)
	Attack   AttackConfig  `json:",omitzero"` // adversarial nodes among Nodes (zero: none; attack.go)
	Progress Progress      `json:"-"`
}

func (c *PXPConfig) defaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.Nodes, 1000)
	def(&c.Want, 8)
	switch {
	case c.Own == 0 || c.Own > c.Want:
		c.Own = c.Want
	case c.Own < 0:
		c.Own = 0
	}
	def(&c.Seeds, 1)
	def(&c.Joining, 256)
	def(&c.MaxPeers, 64)
	if c.JoinRate <= 0 {
		c.JoinRate = 2000
	}
	if c.HealFor <= 0 {
		c.HealFor = time.Minute
	}
	if c.ChurnFor <= 0 {
		c.ChurnFor = 10 * time.Second
	}
	c.Attack.defaults(c.MaxPeers)
}

// pxpNode is one node of the run.
type pxpNode struct {
	i      int
	ip     netip.Addr // its host: it listens at addr and dials from ip
	addr   string
	atk    *attacker // an attacker's state; nil for an honest node (attack.go)
	ex     *pxp.Exchange
	ln     *memnet.Listener
	seedID string // the seed it joined through

	mu      sync.Mutex
	dead    bool
	start   time.Time
	reached time.Duration // time to Want, once atWant
	atWant  bool          // reached Want (on virtual time, possibly at once)
	topping bool          // a top-up is running
	lastErr string        // the last GetNewPeer failure
}

// pxpWorld is the run: seeds and nodes on one memnet.
type pxpWorld struct {
	cfg   PXPConfig
	nw    *memnet.Network
	rng   *rand.Rand
	rngMu sync.Mutex
	ctx   context.Context

	mu    sync.Mutex
	nodes []*pxpNode // seeds first
	byID  map[string]int
	ports atomic.Int64

	atk *attackWorld // the attackers; nil when there are none (attack.go)
}

func (w *pxpWorld) intn(n int) int {
	w.rngMu.Lock()
	defer w.rngMu.Unlock()
	return w.rng.IntN(n)
}

// newNode starts node i: an exchange listening on its address, dialing
// from it.
func (w *pxpWorld) newNode(i int, maxPeers int) (*pxpNode, error) {
	cfg := &pxp.Config{MaxPeers: maxPeers, EventBuffer: 1, IncomingBuffer: 16}
	if i < w.cfg.Seeds {
		cfg.ReservedOutbound = -1 // a seed only takes links: all its slots are for them
	}
	return w.startNode(i, nodeAddr(i, 7000), cfg, nil)
}

// startNode starts node i at ap with cfg, to which it adds the dialer
// and the advertised address; atk is an attacker's state (nil: honest).
func (w *pxpWorld) startNode(i int, ap netip.AddrPort, cfg *pxp.Config, atk *attacker) (*pxpNode, error) {
	n := &pxpNode{i: i, ip: ap.Addr(), addr: ap.String(), atk: atk}
	ln, err := w.nw.Listen(n.addr)
	if err != nil {
		return nil, err
	}
	dial := func(ctx context.Context, _, addr string) (net.Conn, error) {
		return w.nw.DialFrom(w.localAddr(n), addr)
	}
	cfg.Dialer, cfg.AdvertiseAddr = dial, n.addr
	ex, err := pxp.New("sim", cfg)
	if err != nil {
		ln.Close()
		return nil, err
	}
	n.ex, n.ln = ex, ln
	go func() {
		for c := range ex.Incoming() {
			c.Close() // the sim moves no data
		}
	}()
	go ex.Serve(ln) // its streams arrive on Incoming, closed above
	w.mu.Lock()
	for len(w.nodes) <= i {
		w.nodes = append(w.nodes, nil)
	}
	w.nodes[i] = n
	w.byID[ex.ID()] = i
	w.mu.Unlock()
	return n, nil
}

// node returns node i.
func (w *pxpWorld) node(i int) *pxpNode {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nodes[i]
}

// localAddr is a fresh address for n to dial from.
func (w *pxpWorld) localAddr(n *pxpNode) string {
	return fmt.Sprintf("%s:%d", n.ip, 10000+w.ports.Add(1)%50000)
}

// nodeAt returns node i, nil when it has not started.
func (w *pxpWorld) nodeAt(i int) *pxpNode {
	w.mu.Lock()
	defer w.mu.Unlock()
	if i < len(w.nodes) {
		return w.nodes[i]
	}
	return nil
}

// nodeByID returns the node whose exchange has id (nil: none) and
// whether it is a seed.
func (w *pxpWorld) nodeByID(id string) (*pxpNode, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if j, ok := w.byID[id]; ok {
		return w.nodes[j], j < w.cfg.Seeds
	}
	return nil, false
}

// overlayPeers counts n's links to live nodes, links to seeds aside:
// what counts toward Want (links to attackers too: a node cannot tell
// them). A link to a killed node is not counted even while n has yet to
// read its end: on a loaded machine that can take a while, and a
// survivor counted at Want through the dead would make a mass failure
// look healed before it is.
func (w *pxpWorld) overlayPeers(n *pxpNode) int {
	c, _ := w.overlayLinks(n)
	return c
}

// overlayLinks counts n's links as overlayPeers does, and, of them, those
// n opened.
func (w *pxpWorld) overlayLinks(n *pxpNode) (links, opened int) {
	for _, p := range n.ex.Peers() {
		if q := w.overlayNode(p.ID()); q != nil && !q.isDead() {
			links++
			if p.Outgoing() {
				opened++
			}
		}
	}
	return links, opened
}

// atWant reports whether n has Want links, Own of them opened by n.
func (w *pxpWorld) atWant(n *pxpNode) bool {
	links, opened := w.overlayLinks(n)
	return links >= w.cfg.Want && opened >= w.cfg.Own
}

// overlayNode returns the node whose exchange has id, nil when that is
// no node of the overlay (unknown, or a seed).
func (w *pxpWorld) overlayNode(id string) *pxpNode {
	w.mu.Lock()
	defer w.mu.Unlock()
	if j, ok := w.byID[id]; ok && j >= w.cfg.Seeds {
		return w.nodes[j]
	}
	return nil
}

// join connects n to a random seed and grows it to Want peers; it
// reports whether n got there.
func (w *pxpWorld) join(ctx context.Context, n *pxpNode) bool {
	n.mu.Lock()
	if n.start.IsZero() {
		n.start = time.Now()
	}
	n.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	return w.connectSeed(ctx, n) && w.grow(ctx, n)
}

// connectSeed links n to a random seed; it reports whether it did.
func (w *pxpWorld) connectSeed(ctx context.Context, n *pxpNode) bool {
	seed := w.node(w.intn(w.cfg.Seeds))
	for attempt := 0; ; attempt++ {
		if n.isDead() {
			return false // killed: its exchange is closed for good
		}
		c, err := w.nw.DialFrom(netip.AddrPortFrom(n.ip, 9000).String(), seed.addr)
		if err == nil {
			var dc *pxp.Conn
			if dc, err = n.ex.Connect(ctx, c); err == nil {
				n.seedID = dc.Peer().ID()
				dc.Close()
				return true
			}
		}
		n.mu.Lock()
		n.lastErr = "joining through the seed: " + err.Error()
		n.mu.Unlock()
		if ctx.Err() != nil || attempt > 50 || errors.Is(err, pxp.ErrClosed) {
			return false
		}
		sleepCtx(ctx, 50*time.Millisecond)
	}
}

// grow calls GetNewPeer until n has Want peers besides seeds; then, with
// DropSeed, it closes the seed link.
func (w *pxpWorld) grow(ctx context.Context, n *pxpNode) bool {
	fails := 0
	for !w.atWant(n) {
		if ctx.Err() != nil || n.isDead() {
			return false
		}
		if len(n.ex.Peers()) == 0 {
			return false // isolated: the caller joins again through a seed
		}
		gctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		c, err := n.ex.GetNewPeer(gctx)
		cancel()
		if err != nil {
			fails++
			n.mu.Lock()
			n.lastErr = err.Error()
			n.mu.Unlock()
			if errors.Is(err, pxp.ErrClosed) {
				return false
			}
			// Early in a run there may be nobody new to meet yet.
			sleepCtx(ctx, time.Duration(min(fails, 20))*25*time.Millisecond)
			continue
		}
		fails = 0
		w.atk.introduced(n, c) // with attackers: whether it ended at one
		c.Close()
	}
	n.mu.Lock()
	if !n.atWant {
		n.reached, n.atWant = time.Since(n.start), true
	}
	n.mu.Unlock()
	if w.cfg.DropSeed {
		for _, p := range n.ex.Peers() {
			if p.ID() == n.seedID {
				p.Close()
			}
		}
	}
	return true
}

func (n *pxpNode) isDead() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.dead
}

// kill closes n as a crash would: every link drops.
func (n *pxpNode) kill() {
	n.mu.Lock()
	n.dead = true
	n.mu.Unlock()
	n.ln.Close()
	n.ex.Close()
}

func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
