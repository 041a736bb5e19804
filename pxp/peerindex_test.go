package pxp

import (
	"net/netip"
	"testing"
)

// A sample of k peers looks at O(k) peers whatever the index holds: the
// same work for 100 peers and for 10,000, across few prefixes or many.
func TestSampleWorkIsPerCandidate(t *testing.T) {
	const k = 16
	work := func(n, prefixes int) int {
		var ix peerIndex
		ix.init()
		for i := range n {
			p := &Peer{}
			q := i % prefixes
			ip := netip.AddrFrom4([4]byte{10, byte(q >> 8), byte(q), byte(i%250 + 1)})
			ix.add(p, ip, prefixOf(ip, 24, 48))
		}
		looked := 0
		rng := newRand()
		for range 100 {
			if got := ix.sample(rng, k, func(*Peer) bool { looked++; return true }); len(got) != k {
				t.Fatalf("sample of %d from %d peers", len(got), n)
			}
		}
		return looked / 100
	}
	for _, prefixes := range []int{1, 16, 1000} {
		small, large := work(100*max(1, prefixes/10), prefixes), work(10000, prefixes)
		t.Logf("%d prefixes: %d peers looked at for 16 from %d, %d from 10000", prefixes, small, 100*max(1, prefixes/10), large)
		if large > 4*k || large > 2*small+k {
			t.Errorf("%d prefixes: %d peers looked at for a sample of %d from 10,000", prefixes, large, k)
		}
	}
}
