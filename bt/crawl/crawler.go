package crawl

import (
	"context"
	"crypto/rand"
	"net/netip"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/bt/compact"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// Sources of a peer, as in Peer.Source.
const (
	SourceManual  = "manual"
	SourceTracker = "tracker"
	SourceDHT     = "dht"
	SourcePEX     = "pex"
)

// A PeerSource finds peers on a schedule of its own: bt/tracker's Source
// and bt/dht's are ones (the same interface as bt/swarm's).
type PeerSource interface {
	Name() string
	Run(ctx context.Context, found func(netip.AddrPort))
}

// EventType says what an Event reports.
type EventType int

// Event types.
const (
	// EventLearned: a new peer was recorded (Peer.Source, Peer.From).
	EventLearned EventType = iota + 1
	// EventVisited: a visit ended (Peer.Reached, Peer.Client, Peer.Named...).
	EventVisited
)

func (t EventType) String() string {
	switch t {
	case EventLearned:
		return "learned"
	case EventVisited:
		return "visited"
	}
	return "EventType(?)"
}

// Event is something the crawl saw. Events are dropped (and counted in
// Report.EventsDropped) when the channel is full.
type Event struct {
	Type EventType
	Peer Peer
}

// revisit is a peer due for another visit.
type revisit struct {
	addr netip.AddrPort
	at   time.Time
}

// Crawler maps one swarm. Add peers and sources, then Run.
type Crawler struct {
	ih         [20]byte
	cfg        Config
	azIdentity [20]byte
	events     chan Event

	mu       sync.Mutex
	start    time.Time
	peers    map[netip.AddrPort]*Peer
	order    []netip.AddrPort // in the order learned
	queue    []netip.AddrPort // learned, not yet visited (or due again)
	revisits []revisit        // visited, to be visited again (Config.Revisit), in time order
	edges    map[Edge]struct{}
	edgeList []Edge
	sources  []PeerSource
	reached  int
	visited  int
	overflow int
	dropped  int
	coverage []Point
	wake     chan struct{}
}

// New returns a crawler of the swarm ih.
func New(ih [20]byte, cfg *Config) (*Crawler, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if c.PeerID == ([20]byte{}) {
		copy(c.PeerID[:], "-PX0001-")
		rand.Read(c.PeerID[8:])
	}
	cr := &Crawler{ih: ih, cfg: c, events: make(chan Event, 1024), peers: make(map[netip.AddrPort]*Peer),
		edges: make(map[Edge]struct{}), wake: make(chan struct{}, 1)}
	rand.Read(cr.azIdentity[:])
	return cr, nil
}

// Events returns the event channel; Run closes it when it returns.
func (c *Crawler) Events() <-chan Event { return c.events }

// AddSource adds a source of peers, run by Run.
func (c *Crawler) AddSource(s PeerSource) {
	c.mu.Lock()
	c.sources = append(c.sources, s)
	c.mu.Unlock()
}

// Add records addr, learned from source (and for PEX named by from), to
// be visited once. A peer already known gains only the edge from from.
func (c *Crawler) Add(addr netip.AddrPort, source string, from netip.AddrPort, net string) {
	addr = compact.Unmap(addr)
	if !pex.Usable(addr) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if from.IsValid() {
		e := Edge{From: from, To: addr, Net: net}
		if _, ok := c.edges[e]; !ok && len(c.edgeList) < 16*c.cfg.MaxPeers {
			c.edges[e] = struct{}{}
			c.edgeList = append(c.edgeList, e)
		}
	}
	if c.peers[addr] != nil {
		return
	}
	if len(c.peers) >= c.cfg.MaxPeers {
		c.overflow++
		return
	}
	p := &Peer{Addr: addr, Source: source, From: from, Net: net, Learned: c.since()}
	c.peers[addr] = p
	c.order = append(c.order, addr)
	c.queue = append(c.queue, addr)
	c.emitLocked(Event{Type: EventLearned, Peer: *p})
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *Crawler) since() time.Duration {
	if c.start.IsZero() {
		return 0
	}
	return time.Since(c.start)
}

func (c *Crawler) emitLocked(ev Event) {
	select {
	case c.events <- ev:
	default:
		c.dropped++
	}
}

// Run crawls until ctx ends: it runs the sources and visits every peer
// learned, Concurrency at a time. It returns when ctx ends and the visits
// in flight have stopped; then it closes Events.
func (c *Crawler) Run(ctx context.Context) {
	c.mu.Lock()
	c.start = time.Now()
	sources := append([]PeerSource(nil), c.sources...)
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.Run(ctx, func(a netip.AddrPort) { c.Add(a, s.Name(), netip.AddrPort{}, "") })
		}()
	}
	sem := make(chan struct{}, c.cfg.Concurrency)
	tick := time.NewTicker(CoverageInterval)
	defer tick.Stop()
	c.sample()
loop:
	for {
		c.mu.Lock()
		var next netip.AddrPort
		if len(c.queue) > 0 {
			next, c.queue = c.queue[0], c.queue[1:]
		}
		c.mu.Unlock()
		if !next.IsValid() {
			select {
			case <-ctx.Done():
				break loop
			case <-c.wake:
			case <-tick.C:
				c.sample()
				c.dueRevisits()
			}
			continue
		}
		select {
		case <-ctx.Done():
			break loop
		case sem <- struct{}{}:
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c.record(next, c.visit(ctx, next))
		}()
		select {
		case <-tick.C:
			c.sample()
			c.dueRevisits()
		default:
		}
	}
	wg.Wait()
	c.sample()
	close(c.events)
}

// dueRevisits queues the peers whose revisit is due.
func (c *Crawler) dueRevisits() {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for n < len(c.revisits) && !c.revisits[n].at.After(now) {
		c.queue = append(c.queue, c.revisits[n].addr)
		n++
	}
	c.revisits = c.revisits[n:]
}

// record takes a visit's result into the peer's record (a later visit
// adds to what an earlier one saw) and learns the peers it named.
func (c *Crawler) record(addr netip.AddrPort, v visit) {
	c.mu.Lock()
	p := c.peers[addr]
	p.Visited = c.since()
	if p.Visits == 0 {
		c.visited++
	}
	p.Visits++
	if v.reached {
		if !p.Reached {
			c.reached++
		}
		p.Reached = true
		p.PeerID = peerIDPrefix(v.peerID)
		p.Client, p.Listen, p.YourIP, p.PEXNet, p.Encrypted = v.client, v.listen, v.yourIP, v.net, v.encrypted
	}
	p.PEX = p.PEX || v.pex
	p.Named = max(p.Named, len(v.added))
	p.Err = ""
	if v.err != nil {
		p.Err = v.err.Error()
	}
	if c.cfg.Revisit > 0 {
		c.revisits = append(c.revisits, revisit{addr: addr, at: time.Now().Add(c.cfg.Revisit)})
	}
	c.cfg.Logger.Debug("crawl: visit ended", "peer", addr, "reached", v.reached, "client", v.client, "net", v.net, "pex", v.pex, "named", len(v.added), "err", v.err)
	ev := Event{Type: EventVisited, Peer: *p}
	c.emitLocked(ev)
	c.mu.Unlock()
	for _, a := range v.added {
		c.Add(a, SourcePEX, addr, v.net)
	}
}

// sample adds a point to the coverage curve.
func (c *Crawler) sample() {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := Point{Seconds: c.since().Seconds(), Known: len(c.peers), Visited: c.visited, Reached: c.reached}
	if n := len(c.coverage); n > 0 {
		last := c.coverage[n-1]
		if last.Known == pt.Known && last.Visited == pt.Visited && last.Reached == pt.Reached && pt.Seconds-last.Seconds < 10 {
			return // a flat curve needs a point every 10 s only
		}
	}
	c.coverage = append(c.coverage, pt)
}

// Report returns what the crawl saw so far.
func (c *Crawler) Report() *Report {
	c.sample()
	c.mu.Lock()
	defer c.mu.Unlock()
	r := &Report{InfoHash: c.ih, Elapsed: c.since().Seconds(), Known: len(c.peers), Visited: c.visited, Reached: c.reached,
		Overflow: c.overflow, EventsDropped: c.dropped, Coverage: append([]Point(nil), c.coverage...)}
	for _, a := range c.order {
		r.Peers = append(r.Peers, *c.peers[a])
	}
	r.Edges = append([]Edge(nil), c.edgeList...)
	return r
}

// peerIDPrefix is the printable start of a peer id (its client code, as
// "-lt2080-"), with other bytes as dots.
func peerIDPrefix(id [20]byte) string {
	b := make([]byte, 8)
	for i := range b {
		b[i] = '.'
		if id[i] >= 0x20 && id[i] < 0x7f {
			b[i] = id[i]
		}
	}
	return string(b)
}
