package soak

import (
	"net/netip"
	"testing"
)

// A pool hands each address to one member at a time, the least recently
// given back first, and none when all are in use; a pool of 0 makes a
// new address for every member.
func TestAddrPool(t *testing.T) {
	var p pop
	p.init(&Config{Addresses: 4, Misbehaving: 2})
	var inUse []netip.Addr
	for range 4 {
		a, ok := p.addrs.take()
		if !ok {
			t.Fatal("no address with the pool not yet used up")
		}
		inUse = append(inUse, a)
	}
	if _, ok := p.addrs.take(); ok {
		t.Fatal("an address handed out twice")
	}
	seen := map[netip.Addr]bool{}
	for _, a := range inUse {
		if seen[a] || !a.Is4() || a.As4()[0] != 127 || a.As4()[3] != 1 {
			t.Fatalf("addresses %v", inUse)
		}
		seen[a] = true
	}
	p.addrs.give(inUse[2])
	p.addrs.give(inUse[0])
	if a, _ := p.addrs.take(); a != inUse[2] {
		t.Fatalf("took %v, want %v, the first given back", a, inUse[2])
	}
	if a, _ := p.addrs.take(); a != inUse[0] {
		t.Fatalf("took %v, want %v", a, inUse[0])
	}
	if !p.addrs.fixedPort() || p.listenAt(inUse[0]) != netip.AddrPortFrom(inUse[0], memberPort).String() {
		t.Fatalf("a pool's member listens at %s", p.listenAt(inUse[0]))
	}
	if b, _ := p.bads.take(); seen[b] {
		t.Fatalf("a misbehaving client at a member's address %v", b)
	}

	var fresh pop
	fresh.init(&Config{Addresses: -1})
	a, _ := fresh.addrs.take()
	fresh.addrs.give(a)
	if b, _ := fresh.addrs.take(); b == a || fresh.addrs.fixedPort() || fresh.listenAt(b) != netip.AddrPortFrom(b, 0).String() {
		t.Fatalf("fresh addresses: %v then %v, listening at %s", a, b, fresh.listenAt(b))
	}
}
