package sim

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The figures of graphs whose answers are known: a ring, a complete
// graph, two triangles apart.
func TestGraphStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 1))
	ring := newGraph(10)
	for i := range 10 {
		ring.addEdge(i, (i+1)%10)
	}
	ring.dedupe()
	s := ring.stats(nil, 100, rng)
	// A ring of 10: paths 1,1,2,2,3,3,4,4,5 from every node: mean 25/9.
	if s.Clustering != 0 || s.Largest != 10 || math.Abs(s.PathLength-25.0/9) > 1e-9 || s.Diameter != 5 || s.MeanDegree != 2 {
		t.Fatalf("ring: %+v", s)
	}
	k5 := newGraph(5)
	for i := range 5 {
		for j := i + 1; j < 5; j++ {
			k5.addEdge(i, j)
		}
	}
	k5.dedupe()
	if s := k5.stats(nil, 100, rng); s.Clustering != 1 || s.PathLength != 1 || s.Edges != 10 {
		t.Fatalf("K5: %+v", s)
	}
	two := newGraph(6)
	for _, e := range [][2]int{{0, 1}, {1, 2}, {2, 0}, {3, 4}, {4, 5}, {5, 3}, {0, 1}} {
		two.addEdge(e[0], e[1])
	}
	two.dedupe()
	if s := two.stats(nil, 100, rng); s.Largest != 3 || s.Clustering != 1 || s.Edges != 6 {
		t.Fatalf("two triangles: %+v", s)
	}
	// Killing node 1 of the first triangle leaves an edge.
	alive := []bool{true, false, true, true, true, true}
	if s := two.stats(alive, 100, rng); s.Nodes != 5 || s.Largest != 3 || s.Edges != 4 {
		t.Fatalf("two triangles less node 1: %+v", s)
	}
}
