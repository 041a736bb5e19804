package sim

import (
	"context"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"net"
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
	Peers        int           // peers in the swarm (default 1000)
	MaxPeers     int           // each peer's connection limit (default 50, libtorrent's and pex's)
	TrackerPeers int           // peers an announce returns (default 50)
	Interval     time.Duration // the tracker's announce interval, protocol time (default 30 min)
	Duration     time.Duration // protocol time the swarm runs after the last join (default 30 min)
	JoinRate     float64       // peers joining per real second (default 2000)
	Scale        float64       // protocol seconds per real second (default 60)
	Seed         uint64
	Progress     Progress `json:"-"`
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

// btWorld is one swarm on one memnet, with an in-process tracker.
type btWorld struct {
	cfg   BTConfig
	clock swarm.ScaledClock
	nw    *memnet.Network
	ih    [20]byte
	byAdr map[netip.AddrPort]int

	mu        sync.Mutex
	rng       *rand.Rand
	joined    []int // peers that announced, for the tracker's answers
	announces atomic.Int64
	peers     []*btPeer
	ports     atomic.Int64
	wg        sync.WaitGroup
}

type btPeer struct {
	i    int
	addr netip.AddrPort
	s    *swarm.Swarm
	ln   *memnet.Listener
	know knowledge
}

func newBTWorld(cfg BTConfig) *btWorld {
	w := &btWorld{cfg: cfg, nw: memnet.NewNetwork(), byAdr: map[netip.AddrPort]int{},
		clock: swarm.ScaledClock{Start: time.Now(), Scale: cfg.Scale},
		rng:   rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5851f42d4c957f2d))}
	w.ih[0], w.ih[19] = 0x51, 0x4d
	for i := range cfg.Peers {
		w.byAdr[nodeAddr(i, 6881)] = i
	}
	return w
}

// announce is the tracker: it answers peer i with TrackerPeers random
// peers that announced before, and counts the announce.
func (w *btWorld) announce(i int) []int {
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
			if j != i && !seen[j] {
				seen[j] = true
				out = append(out, j)
			}
		}
	}
	w.joined = append(w.joined, i)
	return out
}

// start brings peer i up: a swarm listening at its address, dialing from
// it, on the scaled clock, with PEX on or off.
func (w *btWorld) start(i int, noPEX bool) (*btPeer, error) {
	p := &btPeer{i: i, addr: nodeAddr(i, 6881), know: make(knowledge, (w.cfg.Peers+63)/64)}
	ln, err := w.nw.Listen(p.addr.String())
	if err != nil {
		return nil, err
	}
	host := p.addr.Addr().String()
	s, err := swarm.New(w.ih, &swarm.Config{
		ListenPort: 6881, MaxPeers: w.cfg.MaxPeers, NoAZMP: true, NoPEX: noPEX, EventBuffer: 256,
		Clock: w.clock, // BEP 11's minute, the flood rules, keep-alives and backoffs, all scaled
		Dialer: func(ctx context.Context, _, addr string) (net.Conn, error) {
			return w.nw.DialFrom(fmt.Sprintf("%s:%d", host, 10000+w.ports.Add(1)%50000), addr)
		},
	})
	if err != nil {
		ln.Close()
		return nil, err
	}
	p.s, p.ln = s, ln
	go s.Serve(ln)
	w.wg.Add(1)
	go func() { // what the peer learns from PEX and from peers dialing in
		defer w.wg.Done()
		for ev := range s.Events() {
			switch ev.Type {
			case swarm.EventPEXReceived:
				for _, a := range ev.Added {
					if j, ok := w.byAdr[a]; ok {
						p.know.add(j)
					}
				}
			case swarm.EventConnected:
				if j, ok := w.byAdr[ev.Listen]; ok {
					p.know.add(j)
				}
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
		p.know.add(j)
		p.s.AddPeer(nodeAddr(j, 6881), swarm.SourceTracker)
	}
}

func (w *btWorld) close() {
	w.mu.Lock()
	peers := w.peers
	w.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, p := range peers {
		sem <- struct{}{}
		wg.Add(1)
		go func() { defer wg.Done(); p.s.Close(); p.ln.Close(); <-sem }()
	}
	wg.Wait()
	w.wg.Wait()
}
