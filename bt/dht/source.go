package dht

import (
	"context"
	"net/netip"
	"time"
)

// Schedule of a Source.
const (
	// BootstrapTimeout bounds filling the routing table at start.
	BootstrapTimeout = 30 * time.Second
	// LookupTimeout bounds one lookup.
	LookupTimeout = time.Minute
	// LookupInterval is the wait between lookups once the first few, soon
	// after start (see lookupDelays), are done.
	LookupInterval = 5 * time.Minute
)

// lookupDelays are the waits before the first lookups: a young swarm
// looks often, while the DHT learns of its peers.
var lookupDelays = []time.Duration{0, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}

// finder is the part of a Node a Source uses.
type finder interface {
	Bootstrap(ctx context.Context) error
	GetPeers(ctx context.Context, infohash [20]byte, port int, found func(netip.AddrPort)) error
}

// Source looks a swarm up in the DHT again and again, announcing this
// peer's port, and passes on the peers it finds: after bootstrapping, soon
// and often at first, then every LookupInterval. It is a peer source for
// package bt/swarm (Swarm.AddSource).
type Source struct {
	Node     *Node
	InfoHash [20]byte
	// Port is announced to the closest nodes when > 0.
	Port int
	// Report, when set, is told how many peers each lookup found and why
	// it failed, if it did.
	Report func(found int, err error)

	node finder // replaces Node in tests
}

// Name returns "dht".
func (s *Source) Name() string { return "dht" }

// Run bootstraps and looks up until ctx ends.
func (s *Source) Run(ctx context.Context, found func(netip.AddrPort)) {
	n := s.node
	if n == nil {
		n = s.Node
	}
	bctx, cancel := context.WithTimeout(ctx, BootstrapTimeout)
	n.Bootstrap(bctx)
	cancel()
	t := time.NewTimer(lookupDelays[0])
	defer t.Stop()
	for i := 1; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		lctx, cancel := context.WithTimeout(ctx, LookupTimeout)
		count := 0
		err := n.GetPeers(lctx, s.InfoHash, s.Port, func(p netip.AddrPort) {
			count++
			found(p)
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
		if s.Report != nil {
			s.Report(count, err)
		}
		wait := LookupInterval
		if i < len(lookupDelays) {
			wait = lookupDelays[i]
		}
		t.Reset(wait)
	}
}
