package swarm

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/wire"
	"github.com/seed0021ed4d/pex/lab/memnet"
)

// lab is an in-process network of hosts with IPv4 addresses, for swarm
// tests inside a testing/synctest bubble: no real I/O, virtual time.
type lab struct {
	t  *testing.T
	nw *memnet.Network

	mu    sync.Mutex
	ports int     // ephemeral ports handed out
	nodes []*node // every node started
}

// swarms returns the swarms of every node started.
func (l *lab) swarms() []*Swarm {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]*Swarm, len(l.nodes))
	for i, n := range l.nodes {
		out[i] = n.s
	}
	return out
}

func newLab(t *testing.T) *lab { return &lab{t: t, nw: memnet.NewNetwork()} }

// dial connects from host ip, on a fresh port, to addr.
func (l *lab) dial(ip, addr string) (net.Conn, error) {
	l.mu.Lock()
	l.ports++
	local := fmt.Sprintf("%s:%d", ip, 40000+l.ports)
	l.mu.Unlock()
	return l.nw.DialFrom(local, addr)
}

// dialer is a swarm Dialer for host ip.
func (l *lab) dialer(ip string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) { return l.dial(ip, addr) }
}

type node struct {
	s  *Swarm
	ln *memnet.Listener
	ap netip.AddrPort
}

// node starts a swarm on host ip listening on port 6881; cfg's ListenPort
// and, unless set, Dialer are filled in. It is closed when the test ends.
func (l *lab) node(ip string, ih [20]byte, cfg Config) *node {
	l.t.Helper()
	ap := netip.AddrPortFrom(netip.MustParseAddr(ip), 6881)
	ln, err := l.nw.Listen(ap.String())
	if err != nil {
		l.t.Fatal(err)
	}
	cfg.ListenPort = 6881
	if cfg.PeerID == ([20]byte{}) {
		// A pex of the first release (0001), which prefers AZMP with
		// everyone, other pex peers included: the lab's swarms exercise
		// both networks. Swarms of today run ut_pex between them
		// (TestPexPeersRunExtensionProtocol).
		cfg.PeerID = newPeerID()
		copy(cfg.PeerID[:], "-PX0001-")
	}
	if cfg.Dialer == nil {
		cfg.Dialer = l.dialer(ip)
	}
	s, err := New(ih, &cfg)
	if err != nil {
		l.t.Fatal(err)
	}
	go s.Serve(ln)
	l.t.Cleanup(func() { s.Close() })
	nd := &node{s: s, ln: ln, ap: ap}
	l.mu.Lock()
	l.nodes = append(l.nodes, nd)
	l.mu.Unlock()
	return nd
}

func (n *node) addr() netip.AddrPort { return n.ap }

func waitEvent(t *testing.T, s *Swarm, typ EventType, match func(Event) bool) Event {
	t.Helper()
	return waitEventWithin(t, s, typ, 10*time.Second, match)
}

func waitEventWithin(t *testing.T, s *Swarm, typ EventType, limit time.Duration, match func(Event) bool) Event {
	t.Helper()
	deadline := time.After(limit)
	for {
		select {
		case ev := <-s.Events():
			if ev.Type == typ && (match == nil || match(ev)) {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %s event within %v", typ, limit)
		}
	}
}

// ltepHandshake is a BitTorrent handshake for ih offering the extension
// protocol, from a peer id that starts with id.
func ltepHandshake(ih [20]byte, id string) []byte {
	hs := wire.Handshake{InfoHash: ih}
	hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
	copy(hs.PeerID[:], id)
	return hs.Append(nil)
}
