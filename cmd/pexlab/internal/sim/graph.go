package sim

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Graph is an overlay snapshot: n nodes, undirected adjacency, and each
// node's in-degree (links others opened to it).
type Graph struct {
	Adj      [][]int32
	InDegree []int
}

// newGraph makes a graph of n nodes with no edges.
func newGraph(n int) *Graph {
	return &Graph{Adj: make([][]int32, n), InDegree: make([]int, n)}
}

// addEdge links a and b (from a, which opened it); duplicates are
// removed by dedupe.
func (g *Graph) addEdge(a, b int) {
	g.Adj[a] = append(g.Adj[a], int32(b))
	g.Adj[b] = append(g.Adj[b], int32(a))
	g.InDegree[b]++
}

// dedupe sorts each adjacency list and drops repeats and self-loops.
func (g *Graph) dedupe() {
	for i, l := range g.Adj {
		slices.Sort(l)
		l = slices.Compact(l)
		g.Adj[i] = slices.DeleteFunc(l, func(j int32) bool { return int(j) == i })
	}
}

// Stats are the overlay's figures, with those of a random graph of the
// same size and mean degree (Erdős–Rényi) beside them.
type Stats struct {
	Nodes, Edges   int
	MeanDegree     float64
	Clustering     float64 // mean local clustering coefficient
	RandClustering float64 // a random graph's: mean degree / nodes
	PathLength     float64 // mean shortest path, sampled sources, within the largest component
	RandPathLength float64 // a random graph's: ln n / ln(mean degree)
	Largest        int     // nodes in the largest connected component
	Diameter       int     // the longest shortest path seen from the sampled sources
}

// stats computes the figures; alive says which nodes count (nil: all).
// Path lengths come from BFS of up to sources random nodes.
func (g *Graph) stats(alive []bool, sources int, rng *rand.Rand) Stats {
	n := len(g.Adj)
	in := func(i int) bool { return alive == nil || alive[i] }
	var s Stats
	var degSum, ccSum float64
	ccN := 0
	mark := make([]int32, n) // for triangle counting: neighbour marks
	for i := range mark {
		mark[i] = -1
	}
	for i := 0; i < n; i++ {
		if !in(i) {
			continue
		}
		s.Nodes++
		nb := g.live(i, alive)
		degSum += float64(len(nb))
		k := len(nb)
		if k < 2 {
			continue
		}
		for _, j := range nb {
			mark[j] = int32(i)
		}
		links := 0
		for _, j := range nb {
			for _, m := range g.Adj[j] {
				if mark[m] == int32(i) && in(int(m)) {
					links++
				}
			}
		}
		ccSum += float64(links) / float64(k*(k-1)) // each triangle edge seen twice
		ccN++
	}
	if s.Nodes == 0 {
		return s
	}
	s.MeanDegree = degSum / float64(s.Nodes)
	s.Edges = int(degSum / 2)
	if ccN > 0 {
		s.Clustering = ccSum / float64(s.Nodes)
	}
	s.RandClustering = s.MeanDegree / float64(s.Nodes)
	if s.MeanDegree > 1 {
		s.RandPathLength = math.Log(float64(s.Nodes)) / math.Log(s.MeanDegree)
	}
	comp, largest := g.components(alive)
	s.Largest = largest.size
	// Path lengths within the largest component.
	var members []int
	for i := 0; i < n; i++ {
		if in(i) && comp[i] == largest.id {
			members = append(members, i)
		}
	}
	rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
	dist := make([]int32, n)
	var total, pairs float64
	queue := make([]int32, 0, n)
	for _, src := range members[:min(sources, len(members))] {
		for i := range dist {
			dist[i] = -1
		}
		dist[src] = 0
		queue = append(queue[:0], int32(src))
		for h := 0; h < len(queue); h++ {
			u := queue[h]
			for _, v := range g.Adj[u] {
				if dist[v] < 0 && in(int(v)) {
					dist[v] = dist[u] + 1
					total += float64(dist[v])
					pairs++
					s.Diameter = max(s.Diameter, int(dist[v]))
					queue = append(queue, v)
				}
			}
		}
	}
	if pairs > 0 {
		s.PathLength = total / pairs
	}
	return s
}

// live returns i's neighbours that are alive.
func (g *Graph) live(i int, alive []bool) []int32 {
	if alive == nil {
		return g.Adj[i]
	}
	out := make([]int32, 0, len(g.Adj[i]))
	for _, j := range g.Adj[i] {
		if alive[j] {
			out = append(out, j)
		}
	}
	return out
}

type component struct{ id, size int }

// components labels the connected components of the live nodes and
// returns the largest.
func (g *Graph) components(alive []bool) ([]int, component) {
	n := len(g.Adj)
	comp := make([]int, n)
	for i := range comp {
		comp[i] = -1
	}
	var best component
	best.id = -1
	stack := make([]int32, 0, 64)
	id := 0
	for i := 0; i < n; i++ {
		if comp[i] >= 0 || (alive != nil && !alive[i]) {
			continue
		}
		size := 0
		comp[i] = id
		stack = append(stack[:0], int32(i))
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			size++
			for _, v := range g.Adj[u] {
				if comp[v] < 0 && (alive == nil || alive[v]) {
					comp[v] = id
					stack = append(stack, v)
				}
			}
		}
		if size > best.size {
			best = component{id, size}
		}
		id++
	}
	return comp, best
}
