package dht

import (
	"net/netip"
	"sync"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// Bounds of the peer store: what announce_peer queries may make this node keep.
const (
	maxInfohashes   = 1024
	maxPeersPerHash = 256
	peerTTL         = 30 * time.Minute
)

// store keeps announced peers (announce_peer) for get_peers answers. It
// replaces the library's in-memory store, which keys entries by IP alone but
// decodes the keys as IP and port, and so answers with garbage such as a
// 2-byte IP and port 1.
type store struct {
	mu    sync.Mutex
	peers map[peer_store.InfoHash]map[netip.AddrPort]time.Time
}

var _ peer_store.Interface = (*store)(nil)

func (s *store) AddPeer(ih peer_store.InfoHash, na krpc.NodeAddr) {
	ip, ok := netip.AddrFromSlice(na.IP)
	if !ok || na.Port <= 0 || na.Port > 65535 {
		return
	}
	ap := netip.AddrPortFrom(ip.Unmap(), uint16(na.Port))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.peers == nil {
		s.peers = make(map[peer_store.InfoHash]map[netip.AddrPort]time.Time)
	}
	m := s.peers[ih]
	if m == nil {
		if len(s.peers) >= maxInfohashes {
			return
		}
		m = make(map[netip.AddrPort]time.Time)
		s.peers[ih] = m
	}
	now := time.Now()
	if _, ok := m[ap]; !ok && len(m) >= maxPeersPerHash {
		for a, t := range m {
			if now.Sub(t) > peerTTL {
				delete(m, a)
			}
		}
		if len(m) >= maxPeersPerHash {
			return
		}
	}
	m[ap] = now
}

func (s *store) GetPeers(ih peer_store.InfoHash) []krpc.NodeAddr {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	var out []krpc.NodeAddr
	for a, t := range s.peers[ih] {
		if now.Sub(t) > peerTTL {
			delete(s.peers[ih], a)
			continue
		}
		out = append(out, krpc.NodeAddr{IP: a.Addr().AsSlice(), Port: int(a.Port())})
	}
	return out
}
