package sim

import (
	"math/bits"
	"math/rand/v2"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/memnet"
)

// BTConfig shapes a BitTorrent run; zero fields take the defaults named.
//
// The engines run on a swarm.ScaledClock, Scale times faster than real
// time: BEP 11's minute between PEX messages, the flood rules that police
// it, keep-alives, dial backoffs, and the tracker's announce interval, and
// times are reported in protocol time. What stays real (connection
// deadlines, the rate limits against floods) only bounds the work.
type BTConfig struct {
	Peers        int           // peers in the swarm (default 1000), attackers included
	MaxPeers     int           // each peer's connection limit (default 50, libtorrent's and pex's)
	TrackerPeers int           // peers an announce returns (default 50)
	Interval     time.Duration // the tracker's announce interval, protocol time (default 30 min)
	Duration     time.Duration // protocol time the swarm runs after the last join (default 30 min)
	JoinRate     float64       // peers joining per real second (default 2000)
	Scale        float64       // protocol seconds per real second (default 60)
	Seed         uint64
	// Attack, when its Fraction is set, makes that share of the peers
	// attackers, and the run is compared with the same one without them
	// (btattackrun.go).
	Attack   BTAttack
	Progress Progress `json:"-"`
}

func (c *BTConfig) defaults() {
	if c.Peers <= 0 {
		c.Peers = 1000
	}
	if c.MaxPeers <= 0 {
		c.MaxPeers = 50
	}
	if c.TrackerPeers <= 0 {
		c.TrackerPeers = 50
	}
	if c.Interval <= 0 {
		c.Interval = 30 * time.Minute
	}
	if c.Duration <= 0 {
		c.Duration = 30 * time.Minute
	}
	if c.JoinRate <= 0 {
		c.JoinRate = 2000
	}
	if c.Scale <= 0 {
		c.Scale = 60
	}
	if c.Attack.Fraction > 0 {
		c.Attack.defaults(c.MaxPeers)
	}
}

// real converts protocol time to real time.
func (c *BTConfig) real(d time.Duration) time.Duration { return time.Duration(float64(d) / c.Scale) }

// knowledge is what one peer knows of the swarm: a bit per peer.
type knowledge []atomic.Uint64

func (k knowledge) add(i int) { k[i/64].Or(1 << (i % 64)) }

func (k knowledge) count() int {
	n := 0
	for i := range k {
		n += bits.OnesCount64(k[i].Load())
	}
	return n
}

// btWorld is one swarm on one memnet, with an in-process tracker. Its
// members are the honest peers (ids 0 to plan.honest-1, at nodeAddr) and,
// in a run with attackers, the attackers (ids from plan.honest on).
type btWorld struct {
	cfg    BTConfig
	plan   *attackPlan
	attack bool // the plan's attackers run
	clock  swarm.ScaledClock
	nw     *memnet.Network
	ih     [20]byte
	byAdr  map[netip.AddrPort]int // honest peers by listen address

	mu        sync.Mutex
	rng       *rand.Rand
	joined    []int // members that announced, for the tracker's answers
	announces atomic.Int64
	peers     []*btPeer // the honest peers, by index
	attackers []*btAttacker
	victims   []*btVictim
	ports     atomic.Int64
	deadMax   atomic.Int64 // most dials to invented addresses one honest peer had in flight
	wg        sync.WaitGroup
}

type btPeer struct {
	i    int
	addr netip.AddrPort
	s    *swarm.Swarm
	ln   *memnet.Listener
	know knowledge // of the honest peers

	dials    [kinds]atomic.Int64 // its dials, by what they reached
	open     [kinds]atomic.Int64 // its connections open, dialed or taken, by what is at the other end
	deadNow  atomic.Int64        // its dials to invented addresses in flight
	fromAtk  atomic.Int64        // PEX messages it received from attackers
	takenAtk atomic.Int64        // the addresses it took from them
}

// newBTWorld makes the world of plan's honest peers, and of its attackers
// when attack is set, on a clock scaled from start.
func newBTWorld(cfg BTConfig, plan *attackPlan, attack bool, start time.Time) *btWorld {
	w := &btWorld{cfg: cfg, plan: plan, attack: attack, nw: memnet.NewNetwork(), byAdr: map[netip.AddrPort]int{},
		clock: swarm.ScaledClock{Start: start, Scale: cfg.Scale},
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d))}
	w.ih[0], w.ih[19] = 0x51, 0x4d
	for i := range plan.honest {
		w.byAdr[nodeAddr(i, 6881)] = i
	}
	return w
}

// memberAddr is member id's listen address.
func (w *btWorld) memberAddr(id int) netip.AddrPort {
	if id < w.plan.honest {
		return nodeAddr(id, 6881)
	}
	return w.plan.attackers[id-w.plan.honest]
}

// announce is the tracker: it answers member id with TrackerPeers random
// members that announced before, and counts the announce.
func (w *btWorld) announce(id int) []int {
	w.announces.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	n := len(w.joined)
	if n <= w.cfg.TrackerPeers+1 {
		out = append(out, w.joined...)
	} else {
		seen := map[int]bool{}
		for len(out) < w.cfg.TrackerPeers {
			j := w.joined[w.rng.IntN(n)]
			if j != id && !seen[j] {
				seen[j] = true
				out = append(out, j)
			}
		}
	}
	w.joined = append(w.joined, id)
	return out
}

// start brings honest peer i up: a swarm listening at its address,
// dialing from it through the world's dialer (btdial.go), on the scaled
// clock.
func (w *btWorld) start(i int) (*btPeer, error) {
	p := &btPeer{i: i, addr: nodeAddr(i, 6881), know: make(knowledge, (w.plan.honest+63)/64)}
	ln, err := w.nw.Listen(p.addr.String())
	if err != nil {
		return nil, err
	}
	s, err := swarm.New(w.ih, &swarm.Config{
		ListenPort: 6881, MaxPeers: w.cfg.MaxPeers, NoAZMP: true, EventBuffer: 256,
		Clock:  w.clock, // BEP 11's minute, the flood rules, keep-alives and backoffs, all scaled
		Dialer: w.dialer(p),
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.s, p.ln = s, ln
	go s.Serve(trackedListener{ln, w, p})
	w.wg.Add(1)
	go func() { // the attackers' PEX the engine took (what the peer knows is read off its connections: bttap.go)
		defer w.wg.Done()
		for ev := range s.Events() {
			if ev.Type == swarm.EventPEXReceived && attackerIP(ev.Peer.Addr()) {
				p.fromAtk.Add(1)
				p.takenAtk.Add(int64(len(ev.Added)))
			}
		}
	}()
	w.mu.Lock()
	w.peers = append(w.peers, p)
	w.mu.Unlock()
	return p, nil
}

// learn takes a tracker answer into p: known, and dialed.
func (w *btWorld) learn(p *btPeer, from []int) {
	for _, j := range from {
		if j < w.plan.honest {
			p.know.add(j)
		}
		p.s.AddPeer(w.memberAddr(j), swarm.SourceTracker)
	}
}

func (w *btWorld) close() {
	w.mu.Lock()
	peers, attackers, victims := w.peers, w.attackers, w.victims
	w.mu.Unlock()
	for _, a := range attackers {
		a.close()
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, p := range peers {
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer wg.Done(); p.s.Close(); p.ln.Close(); <-sem }()
	}
	wg.Wait()
	for _, v := range victims {
		v.ln.Close()
	}
	w.wg.Wait()
}

// honestIP reports whether ip is an honest peer's (10.0.0.0/8).
func honestIP(ip netip.Addr) bool { ip = ip.Unmap(); return ip.Is4() && ip.As4()[0] == 10 }
