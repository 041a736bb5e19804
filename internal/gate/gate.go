// Package gate bounds the connections that are still in their handshake,
// before they have proven anything: a global budget and a cap per remote
// IP. A newcomer is never refused. When its IP is at the cap, the oldest
// handshake from that IP is ended to make room; when the budget is full,
// the oldest handshake of the IP that holds the most is. An attacker that
// opens connections and stalls them therefore holds at most the cap, and
// cannot keep a peer from another address, or a later honest connection
// from its own, out: an honest handshake finishes in a round trip, long
// before the stalled ones around it are evicted.
package gate

import (
	"net"
	"net/netip"
	"sync"
)

// Gate admits handshakes. The zero value is not usable; see New.
type Gate struct {
	max, perIP int

	mu    sync.Mutex
	byIP  map[netip.Addr][]*Ticket // oldest first
	total int
}

// Ticket is one admitted handshake.
type Ticket struct {
	g     *Gate
	ip    netip.Addr
	evict func()
	gone  bool // left or evicted; guarded by g.mu
}

// New returns a Gate holding at most max handshakes, and at most perIP
// from one address. Both must be at least 1.
func New(max, perIP int) *Gate {
	return &Gate{max: max, perIP: min(perIP, max), byIP: make(map[netip.Addr][]*Ticket)}
}

// IP is the remote IP of a connection, unmapped; the zero Addr for
// transports without one (they share one allowance).
func IP(c net.Conn) netip.Addr {
	if a := c.RemoteAddr(); a != nil {
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			return ap.Addr().Unmap()
		}
	}
	return netip.Addr{}
}

// Enter admits a handshake from ip. evict ends it (closes its connection)
// when it must make room for a newer one; it is called without the gate's
// lock held, at most once. Call Leave when the handshake is over.
func (g *Gate) Enter(ip netip.Addr, evict func()) *Ticket {
	t := &Ticket{g: g, ip: ip, evict: evict}
	var out []*Ticket
	g.mu.Lock()
	if len(g.byIP[ip]) >= g.perIP {
		out = append(out, g.popOldestLocked(ip))
	} else if g.total >= g.max {
		out = append(out, g.popOldestLocked(g.crowdedLocked()))
	}
	g.byIP[ip] = append(g.byIP[ip], t)
	g.total++
	g.mu.Unlock()
	for _, o := range out {
		o.evict()
	}
	return t
}

// Leave releases the ticket; a second call, or one after eviction, does
// nothing.
func (t *Ticket) Leave() {
	g := t.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.gone {
		return
	}
	t.gone = true
	list := g.byIP[t.ip]
	for i, o := range list {
		if o == t {
			list = append(list[:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(g.byIP, t.ip)
	} else {
		g.byIP[t.ip] = list
	}
	g.total--
}

// Len reports the handshakes admitted now.
func (g *Gate) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.total
}

// popOldestLocked removes and returns the oldest ticket of ip.
func (g *Gate) popOldestLocked(ip netip.Addr) *Ticket {
	list := g.byIP[ip]
	t := list[0]
	t.gone = true
	if len(list) == 1 {
		delete(g.byIP, ip)
	} else {
		g.byIP[ip] = list[1:]
	}
	g.total--
	return t
}

// crowdedLocked returns the IP holding the most tickets.
func (g *Gate) crowdedLocked() netip.Addr {
	var best netip.Addr
	n := -1
	for ip, list := range g.byIP {
		if len(list) > n {
			best, n = ip, len(list)
		}
	}
	return best
}
