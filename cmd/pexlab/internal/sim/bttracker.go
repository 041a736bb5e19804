package sim

import (
	"math/rand/v2"
	"time"
)

// The baseline a BitTorrent run is held against: the same swarm with the
// tracker as its only source, computed rather than run, and the
// tracker-load table comparing the two.

// trackerOnly is the same swarm without PEX, computed rather than run:
// peers join in the same order and at the same rate, announce at join
// and every Interval, and dial what the tracker names while both ends
// have a free connection; a peer knows whom the tracker named and who
// dialed it. It runs until every peer knows the largest share of
// loadShares, sampling at the times the PEX run sampled and every minute
// after.
func trackerOnly(cfg BTConfig, pexPoints []BTPoint) []BTPoint {
	n := cfg.Peers
	rng := rand.New(rand.NewPCG(cfg.Seed+1, cfg.Seed^0xda3e39cb94b95bdb))
	know := make([]knowledge, n)
	conns := make([]map[int]bool, n)
	joinAt := func(i int) time.Duration {
		return time.Duration(float64(i) / cfg.JoinRate * cfg.Scale * float64(time.Second))
	}
	var joined []int
	var announces int64
	next := make([]time.Duration, n)
	announce := func(i int) {
		announces++
		var got []int
		if len(joined) <= cfg.TrackerPeers+1 {
			got = append(got, joined...)
		} else {
			seen := map[int]bool{}
			for len(got) < cfg.TrackerPeers {
				j := joined[rng.IntN(len(joined))]
				if j != i && !seen[j] {
					seen[j] = true
					got = append(got, j)
				}
			}
		}
		for _, j := range got {
			know[i].add(j)
			if len(conns[i]) < cfg.MaxPeers && len(conns[j]) < cfg.MaxPeers && !conns[i][j] {
				conns[i][j], conns[j][i] = true, true
				know[j].add(i)
			}
		}
	}
	var out []BTPoint
	sampleAt := func(t time.Duration) {
		pt := BTPoint{T: t, Announces: announces, Min: 1}
		for _, i := range joined {
			f := float64(know[i].count()) / float64(n)
			pt.Mean += f
			pt.Min = min(pt.Min, f)
		}
		if len(joined) > 0 {
			pt.Mean /= float64(len(joined))
		}
		out = append(out, pt)
	}
	var times []time.Duration
	for _, p := range pexPoints {
		times = append(times, p.T)
	}
	t, k, s := time.Duration(0), 0, 0
	step := time.Second // protocol time
	for {
		for k < n && joinAt(k) <= t {
			know[k] = make(knowledge, (n+63)/64)
			conns[k] = map[int]bool{}
			know[k].add(k)
			announce(k)
			joined = append(joined, k)
			next[k] = t + cfg.Interval
			k++
		}
		for _, i := range joined {
			if t >= next[i] {
				announce(i)
				next[i] = t + cfg.Interval
			}
		}
		due := s >= len(times) || t >= times[s]
		if due {
			sampleAt(t)
			s++
			if k == n && out[len(out)-1].Min >= loadShares[len(loadShares)-1] {
				return out
			}
		}
		if t > 2000*cfg.Interval { // bounded: far past any figure worth giving
			return out
		}
		if k == n && s >= len(times) {
			step = cfg.Interval // only announces remain, one a peer an interval
		}
		t += step
	}
}

// loadTable finds, for each share, the first point where every peer knew
// it.
func loadTable(withPEX, noPEX []BTPoint) []LoadRow {
	first := func(pts []BTPoint, share float64) (int64, time.Duration) {
		for _, p := range pts {
			if p.Min >= share {
				return p.Announces, p.T
			}
		}
		return -1, 0
	}
	var rows []LoadRow
	for _, s := range loadShares {
		r := LoadRow{Share: s}
		r.WithPEX, r.WithPEXT = first(withPEX, s)
		r.NoPEX, r.NoPEXT = first(noPEX, s)
		rows = append(rows, r)
	}
	return rows
}
