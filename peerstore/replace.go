package peerstore

import "slices"

// Replace makes addrs the whole of scope, for a set its caller keeps
// whole rather than peer by peer (pex node's anchors): an address not in
// addrs is forgotten, a new one is added as learned from source and seen
// now, and one the scope held keeps what the store knew of it. Nothing
// changes, and nothing is written, when the scope already holds exactly
// addrs; an empty addrs removes the scope. MaxPeers bounds addrs as any
// scope.
func (s *Store) Replace(scope string, addrs []string, source string) {
	now := s.cfg.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.scopes[scope]
	same := len(old) == len(addrs)
	for _, a := range addrs {
		if old[a] == nil {
			same = false
		}
	}
	if same {
		return
	}
	s.dirty = true
	if len(addrs) == 0 {
		delete(s.scopes, scope)
		return
	}
	m := make(map[string]*Peer, len(addrs))
	for _, a := range slices.Compact(slices.Sorted(slices.Values(addrs))) {
		p := old[a]
		if p == nil {
			p = &Peer{Addr: a, Source: source, FirstSeen: now, LastSeen: now, Successes: 1}
		}
		m[a] = p
	}
	s.scopes[scope] = m
	s.boundLocked(scope)
}
