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
			p.remote.accepting = true
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

// Peers that cannot be offered (they refuse introductions) take no place
// in a sample, however many prefixes they spread over: 1,000 prefixes of
// one refusing peer each and 5 of 200 offerable peers give a full sample
// every time, drawn from the offerable ones; and a peer leaving takes its
// place in the draw with it.
func TestSampleSkipsUnofferablePrefixes(t *testing.T) {
	var ix peerIndex
	ix.init()
	add := func(q, host int, accepting bool) *Peer {
		p := &Peer{}
		p.remote.accepting = accepting
		ip := netip.AddrFrom4([4]byte{10, byte(q >> 8), byte(q), byte(host)})
		ix.add(p, ip, prefixOf(ip, 24, 48))
		return p
	}
	for q := range 1000 {
		add(q, 1, false)
	}
	var good []*Peer
	for q := 1000; q < 1005; q++ {
		for h := range 200 {
			good = append(good, add(q, h+1, true))
		}
	}
	rng := newRand()
	for range 100 {
		got := ix.sample(rng, 16, func(p *Peer) bool { return true })
		if len(got) != 16 {
			t.Fatalf("a sample of %d from 1,000 offerable peers among 1,000 refusing prefixes", len(got))
		}
		for _, p := range got {
			if !p.remote.accepting {
				t.Fatal("a refusing peer was sampled")
			}
		}
	}
	for _, p := range good {
		ix.remove(p)
	}
	if got := ix.sample(rng, 16, func(p *Peer) bool { return true }); len(got) != 0 || len(ix.offer) != 0 {
		t.Fatalf("%d sampled, %d buckets to draw from, after every offerable peer left", len(got), len(ix.offer))
	}
}
