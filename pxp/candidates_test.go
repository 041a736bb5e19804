package pxp

import (
	"encoding/json"
	"testing"
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
		n := rp.request(CmdGetPeers, `"pxp-mesh"`)
		m := rp.expect(CmdRes)
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
