package pxp

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp/wire"
)

// A peer asking as fast as GetPeersRate lets it always gets candidates:
// past MaxCandidateIDs its oldest ids are retired (a relay through one is
// an unknown candidate), the newest stay good, and the ids held stay
// under the budget.
func TestCandidateIDsRetireOldest(t *testing.T) {
	node := newExchange(t, &Config{MaxCandidateIDs: 8, MaxCandidates: 4, GetPeersRate: 100, GetPeersBurst: 100})
	for range 3 { // three other peers to offer
		link(t, newExchange(t, nil), node)
	}
	rp := readyRaw(t, node)
	var ids [][]string
	for range 5 {
		n := rp.request(wire.CmdGetPeers, `"pxp-mesh"`)
		m := rp.expect(wire.CmdRes)
		var res []json.RawMessage
		var cands []Candidate
		if m.Nonce != n || json.Unmarshal(m.Args, &res) != nil || len(res) != 2 || json.Unmarshal(res[1], &cands) != nil || len(cands) != 3 {
			t.Fatalf("getpeers answered %s", m.Args)
		}
		var round []string
		for _, c := range cands {
			round = append(round, c.ID)
		}
		ids = append(ids, round)
	}
	var p *Peer // the raw peer's link: the one that was handed ids
	for _, q := range node.Peers() {
		q.mu.Lock()
		if len(q.served.candidates) > 0 {
			p = q
		}
		q.mu.Unlock()
	}
	if p == nil {
		t.Fatal("no link holds candidate ids")
	}
	p.mu.Lock()
	held := len(p.served.candidates)
	_, oldest := p.served.candidates[ids[0][0]]
	_, newest := p.served.candidates[ids[4][2]]
	p.mu.Unlock()
	if held > 8 || oldest || !newest {
		t.Fatalf("%d ids held (budget 8); the oldest kept %v, the newest %v", held, oldest, newest)
	}
}

// Peers asking one node for candidates all at once, each of them the
// others' candidate, are all answered: answering one peer never holds its
// link's lock while taking a candidate's (two answers naming each other
// once deadlocked the node, seen in the simulator).
func TestConcurrentGetPeersAnswered(t *testing.T) {
	const peers, rounds = 8, 200
	node := newExchange(t, &Config{GetPeersRate: 1e6, GetPeersBurst: 1e6, RequestRate: 1e6, RequestBurst: 1e6})
	var links []*Peer
	for range peers {
		ac, _ := link(t, newExchange(t, nil), node)
		links = append(links, ac.Peer())
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, peers)
	for _, p := range links {
		wg.Go(func() {
			for range rounds {
				cands, err := p.GetPeers(ctx)
				if err != nil {
					errs <- err
					return
				}
				if len(cands) != peers-1 {
					errs <- fmt.Errorf("%d candidates, want %d", len(cands), peers-1)
					return
				}
			}
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		// The node is stuck (and so would be its Close in cleanup): end
		// the run with every goroutine's stack.
		panic("getpeers answers stuck for a minute: a lock cycle in the node")
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
