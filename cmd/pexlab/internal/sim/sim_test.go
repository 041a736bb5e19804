package sim

import (
	"net/netip"
	"testing"
)

// The first 65,536 nodes have a /24 each, so that the engines' per-prefix
// limits see them as separate networks; past those, nodes share /24s but
// not addresses; every address is private.
func TestNodeAddrsOwnPrefix(t *testing.T) {
	prefixes := map[netip.Prefix]int{}
	addrs := map[netip.Addr]int{}
	for i := range 3 << 16 {
		a := nodeAddr(i, 7000).Addr()
		if j, ok := addrs[a]; ok || !a.IsPrivate() {
			t.Fatalf("node %d at %v (node %d's: %v)", i, a, j, ok)
		}
		addrs[a] = i
		p, _ := a.Prefix(24)
		if j, ok := prefixes[p]; ok && i < 1<<16 {
			t.Fatalf("nodes %d and %d share %v", j, i, p)
		}
		prefixes[p] = i
	}
}
