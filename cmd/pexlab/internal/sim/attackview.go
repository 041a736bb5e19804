package sim

import (
	"encoding/json"
	"math/rand/v2"
	"sync"
)

// attackView is what the attackers share: every live attacker's
// connectInfo, and what they last named to each asker.
type attackView struct {
	mu    sync.Mutex
	rng   *rand.Rand
	pos   map[string]int
	ids   []string
	cis   []json.RawMessage
	named map[string][]string // asker -> the attackers its last answer named
}

func (v *attackView) init(rng *rand.Rand) {
	v.rng, v.pos, v.named = rng, map[string]int{}, map[string][]string{}
}

func (v *attackView) add(id string, ci json.RawMessage) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.pos[id] = len(v.ids)
	v.ids = append(v.ids, id)
	v.cis = append(v.cis, ci)
}

func (v *attackView) remove(id string) {
	v.mu.Lock()
	defer v.mu.Unlock()
	i, ok := v.pos[id]
	if !ok {
		return
	}
	last := len(v.ids) - 1
	v.ids[i], v.cis[i] = v.ids[last], v.cis[last]
	v.pos[v.ids[i]] = i
	v.ids, v.cis = v.ids[:last], v.cis[:last]
	delete(v.pos, id)
}

// answerSize is how many attackers one getpeers answer names: pxp's
// default MaxCandidates.
const answerSize = 16

// answer is attacker self's getpeers answer (the pxp hook): answerSize
// live attackers at random, the asker and self aside.
func (v *attackView) answer(asker, self string) []json.RawMessage {
	v.mu.Lock()
	defer v.mu.Unlock()
	n := len(v.ids)
	out := make([]json.RawMessage, 0, answerSize)
	ids := make([]string, 0, answerSize)
	seen := map[int]bool{}
	for tries := 0; len(out) < answerSize && len(seen) < n && tries < 4*answerSize; tries++ {
		i := v.rng.IntN(n)
		if seen[i] || v.ids[i] == asker || v.ids[i] == self {
			seen[i] = true
			continue
		}
		seen[i] = true
		out = append(out, v.cis[i])
		ids = append(ids, v.ids[i])
	}
	v.named[asker] = ids
	return out
}

// wasNamed reports whether an attacker's last answer to asker named id.
func (v *attackView) wasNamed(asker, id string) bool {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, x := range v.named[asker] {
		if x == id {
			return true
		}
	}
	return false
}
