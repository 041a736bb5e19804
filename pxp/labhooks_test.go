package pxp

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/seed0021ed4d/pex/internal/pxphook"
)

// A node given the lab's candidates hook (the simulator's attackers)
// answers getpeers with what the hook chose for the asker, at most
// MaxCandidates of it, never with its own peers; and it relays nobody: a
// relay through a candidate it named is refused as unknown. Without the
// hook, the same node offers its peers.
func TestChosenCandidatesHook(t *testing.T) {
	cfg := &Config{MaxCandidates: 3}
	var mu sync.Mutex
	var askers []string
	pxphook.SetCandidates(cfg, func(asker string) []json.RawMessage {
		mu.Lock()
		askers = append(askers, asker)
		mu.Unlock()
		var out []json.RawMessage
		for i := range 5 {
			out = append(out, json.RawMessage(fmt.Sprintf(`{"pxp":true,"id":"chosen%d","tcp":"10.9.9.%d:7000"}`, i, i)))
		}
		return out
	})
	hostile := newExchange(t, cfg)
	honest := newExchange(t, nil)
	link(t, honest, hostile) // a peer it could offer, and does not
	asker := newExchange(t, nil)
	ac, _ := link(t, asker, hostile)
	cands, err := ac.Peer().GetPeers(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 3 {
		t.Fatalf("%d candidates, want MaxCandidates 3 of the 5 chosen", len(cands))
	}
	for i, c := range cands {
		ci := parseConnectInfo(c.ConnectInfo)
		if ci.id != fmt.Sprintf("chosen%d", i) || c.Network != testNet || c.ID == "" {
			t.Fatalf("candidate %d is %+v, not the hook's", i, c)
		}
	}
	mu.Lock()
	got := askers
	mu.Unlock()
	if len(got) != 1 || got[0] != asker.ID() {
		t.Fatalf("the hook was asked for %q, want the asker %q", got, asker.ID())
	}
	_, err = asker.introduceTo(t.Context(), ac.Peer(), cands[0], connectInfo{})
	var re *RemoteError
	if !errors.As(err, &re) {
		t.Fatalf("a relay through a chosen candidate: %v, want refused", err)
	}

	pxphook.SetCandidates(cfg, nil)
	ordinary := newExchange(t, cfg)
	link(t, honest, ordinary)
	oc, _ := link(t, asker, ordinary)
	cands, err = oc.Peer().GetPeers(t.Context())
	if err != nil || len(cands) != 1 || parseConnectInfo(cands[0].ConnectInfo).id != honest.ID() {
		t.Fatalf("without the hook: %v, %v; want the one other peer", cands, err)
	}
}
