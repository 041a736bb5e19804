// Package sim runs networks of real pex engines in one process, over the
// in-memory network of internal/memnet, and measures what the protocols
// do at a scale one machine cannot reach with sockets: how fast a new
// node fills its peer set, the shape of the overlay (in-degree,
// clustering, path length against a random graph), what a mass failure
// does and how fast the survivors heal, and, for BitTorrent, how fast PEX
// spreads knowledge of a swarm and how much tracker load it saves.
//
// Nothing of the protocols is simulated: every node is a pxp.Exchange or
// a swarm.Swarm, and every message goes through their codecs and limits.
// `pex sim` and `pex sim bt` run it; its figures are in README.md and
// BENCHMARKS.md.
package sim

import (
	"net/netip"
)

// nodeAddr is node i's address, 10.b.c.d: the first 65,536 nodes each
// alone in a /24, so that the engines' per-prefix limits (relays, incoming
// links, evictions) treat them as the many networks they stand for rather
// than as one crowded /24. Further nodes share those /24s (d counts up);
// every address stays private, so that no engine's scope rule sees one
// node as more local than another.
func nodeAddr(i int, port int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 8), byte(i), byte(1 + i>>16)}), uint16(port))
}

// Percentile returns the p-th percentile of sorted xs (0 when empty).
func Percentile(sorted []float64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p / 100 * float64(len(sorted)))
	return sorted[min(i, len(sorted)-1)]
}

// Progress is a line of what a run is doing, for the command to print.
type Progress func(phase string, fields ...any)

func (p Progress) say(phase string, fields ...any) {
	if p != nil {
		p(phase, fields...)
	}
}
