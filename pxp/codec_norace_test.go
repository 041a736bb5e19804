//go:build !race

package pxp

import (
	"encoding/json"
	"testing"
)

// Allocation counts of the getpeers codec (without -race, as
// linesplit_norace_test.go says why): reading an answer allocates the
// same few times however many candidates it names (their ids share one
// string), and the answer's line, built in a pooled buffer, allocates
// nothing once the pool holds one.
func TestGetPeersCodecAllocs(t *testing.T) {
	readAllocs := func(n int) float64 {
		list, err := json.Marshal(benchAnswer()[:n])
		if err != nil {
			t.Fatal(err)
		}
		return testing.AllocsPerRun(100, func() {
			if c, ok := decodeCandidates(list, "pxp-bench"); !ok || len(c) != n {
				t.Fatalf("decodeCandidates gave %d candidates of %d, ok %v", len(c), n, ok)
			}
		})
	}
	if a4, a16 := readAllocs(4), readAllocs(16); a16 != a4 || a16 > 6 {
		t.Errorf("reading an answer of 4 candidates allocates %v times, of 16 %v times: want the same, at most 6", a4, a16)
	}
	cands := benchAnswer()
	line := testing.AllocsPerRun(100, func() {
		bp := linePool.Get().(*[]byte)
		l, ok := appendAnswerLine((*bp)[:0], "1z", cands, true)
		if !ok {
			t.Fatal("the answer is not compact")
		}
		*bp = l
		linePool.Put(bp)
	})
	if line != 0 {
		t.Errorf("writing an answer's line allocates %v times, want 0", line)
	}
}
