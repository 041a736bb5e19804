package soak

import (
	"net/netip"
	"sync"
)

// Where members come from. A public node meets the same peers again and
// again: they leave and come back from the address they had, and listen
// where they listened. The node keeps tables by address (the swarm's
// dial records and backoff, its per-IP rate limiters, its hints), each
// bounded by a cap of a few thousand. Were every member to come from a
// new address, those tables would fill toward their caps for hours and
// look like growth the whole time; members drawn from a finite pool make
// them fill within the warm-up (the first half of the run, which is not
// held to the bounds), so that what grows afterwards grows per departure.
// A pool of 0 (Config.Addresses negative) gives every member a new
// address: the run then shows the tables filling to their caps.

// addrPool hands out addresses, the least recently used first, each to
// one member at a time.
type addrPool struct {
	mu    sync.Mutex
	free  []netip.Addr // least recently given back first
	fresh func() netip.Addr
	n     int // the pool's size; 0: fresh addresses
}

// newAddrPool is a pool of n addresses made by fresh; with n 0 every
// take is a fresh address.
func newAddrPool(n int, fresh func() netip.Addr) *addrPool {
	p := &addrPool{fresh: fresh, n: n}
	for range n {
		p.free = append(p.free, fresh())
	}
	return p
}

// take hands out an address, and false when every one is in use.
func (p *addrPool) take() (netip.Addr, bool) {
	if p.n == 0 {
		return p.fresh(), true
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.free) == 0 {
		return netip.Addr{}, false
	}
	a := p.free[0]
	p.free = p.free[1:]
	return a, true
}

// give takes back an address handed out, once its member has left and
// closed every socket it had there.
func (p *addrPool) give(a netip.Addr) {
	if p.n == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.free = append(p.free, a)
}

// fixedPort reports whether members listen at a fixed port (memberPort)
// of their address, as a peer that comes back listens where it did: with
// a pool, and not with fresh addresses.
func (p *addrPool) fixedPort() bool { return p.n > 0 }

// memberPort is where a member that listens (a Go node of the relay's
// population, an engine of the swarm's) listens at its address when it
// comes from a pool: the same port each time that address comes back.
const memberPort = 6881
