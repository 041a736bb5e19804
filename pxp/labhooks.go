package pxp

import (
	"encoding/json"

	"github.com/seed0021ed4d/pex/internal/pxphook"
)

// The lab's hooks (internal/pxphook): what the simulator's attackers set
// on a Config and pxp's API does not offer. A Config of a program outside
// the module never has them.

func init() {
	pxphook.SetCandidates = func(cfg any, answer func(asker string) []json.RawMessage) {
		cfg.(*Config).chosenCandidates = answer
	}
}

// answerChosen answers a getpeers with the candidates the lab's hook
// chose for the asker: none of them is registered as served, so a relay
// through one is refused as an unknown candidate.
func (p *Peer) answerChosen(nonce, network string) {
	cis := p.ex.cfg.chosenCandidates(p.ID())
	cis = cis[:min(len(cis), p.ex.cfg.MaxCandidates)]
	out := make([]Candidate, len(cis))
	for i, ci := range cis {
		out[i] = Candidate{ID: randomHex(4), Network: network, ConnectInfo: ci}
	}
	p.ex.counts.add(func(c *counters) { c.getPeers++ })
	p.respond(nonce, []any{nil, out})
}
