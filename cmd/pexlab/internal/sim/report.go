package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PXPTable is a PXP run's figures as a text table.
func PXPTable(r *PXPResult) string {
	var b strings.Builder
	o := r.Overlay
	fmt.Fprintf(&b, "PXP: %d nodes, want %d, %d seed(s), in %.1f s\n", r.Config.Nodes, r.Config.Want, r.Config.Seeds, r.Wall.Seconds())
	fmt.Fprintf(&b, "  time to want      p50 %.0f ms, p90 %.0f ms, p99 %.0f ms, max %.0f ms (%d never)\n",
		Percentile(r.JoinMS, 50), Percentile(r.JoinMS, 90), Percentile(r.JoinMS, 99), Percentile(r.JoinMS, 100), r.Failed)
	fmt.Fprintf(&b, "  sent per node     %.0f messages, %.0f bytes\n", r.MsgsPerNode, r.BytesPerNode)
	fmt.Fprintf(&b, "  overlay           %d nodes, %d links, mean degree %.2f, largest component %d\n", o.Nodes, o.Edges, o.MeanDegree, o.Largest)
	fmt.Fprintf(&b, "  clustering        %.3f (random graph of the same degree: %.4f)\n", o.Clustering, o.RandClustering)
	fmt.Fprintf(&b, "  path length       %.2f (random graph: %.2f), diameter seen %d\n", o.PathLength, o.RandPathLength, o.Diameter)
	fmt.Fprintf(&b, "  in-degree         %s\n", degreeLine(r.InDegree))
	if a := r.Attack; a != nil {
		attackTable(&b, a, r.Config.Want)
	}
	if s := r.AfterChurn; s != nil {
		fmt.Fprintf(&b, "  after churn       %d nodes, largest component %d, clustering %.3f, path %.2f; joins during churn p50 %.0f ms\n",
			s.Nodes, s.Largest, s.Clustering, s.PathLength, Percentile(r.ChurnJoins, 50))
	}
	if k := r.Kill; k != nil {
		healed := "not within --heal-for"
		if k.Healed > 0 {
			healed = fmt.Sprintf("%.2f s (closing the killed took %.2f s of it)", k.Healed.Seconds(), k.KillTook.Seconds())
		}
		fmt.Fprintf(&b, "  mass failure      %d killed; right after: %.1f %% of survivors in the largest component, %.1f %% at want; healed in %s\n",
			k.Killed, 100*k.LargestAfter, 100*k.AtTargetAfter, healed)
		for why, n := range k.Below {
			fmt.Fprintf(&b, "  unhealed          %d: %s\n", n, why)
		}
	}
	fmt.Fprintf(&b, "  at the end        %d of %d surviving nodes at want\n", r.AtTarget, r.Alive)
	return b.String()
}

// degreeLine sums up a degree histogram: min, median, max.
func degreeLine(h []int) string {
	total := 0
	for _, c := range h {
		total += c
	}
	if total == 0 {
		return "-"
	}
	lo, med, hi, seen := -1, -1, 0, 0
	for d, c := range h {
		if c == 0 {
			continue
		}
		if lo < 0 {
			lo = d
		}
		hi = d
		seen += c
		if med < 0 && seen*2 >= total {
			med = d
		}
	}
	return fmt.Sprintf("min %d, median %d, max %d", lo, med, hi)
}

// WritePXP writes a PXP run's plots and tables under dir and returns the
// files' names.
func WritePXP(dir string, r *PXPResult) ([]string, error) {
	var files []string
	add := func(name string, err error) error {
		if err == nil {
			files = append(files, name)
		}
		return err
	}
	name := filepath.Join(dir, "pxp-summary.txt")
	if err := add(name, os.WriteFile(name, []byte(PXPTable(r)), 0o644)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "pxp-result.json")
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := add(name, os.WriteFile(name, b, 0o644)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "pxp-join.svg")
	if err := add(name, plotCDF(name, "Time to reach the peer target", "ms", r.JoinMS)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "pxp-indegree.svg")
	if err := add(name, plotHistogram(name, "In-degree of the overlay", "links opened to the node", r.InDegree)); err != nil {
		return files, err
	}
	if r.Attack != nil {
		if err := writeAttack(dir, r.Attack, add); err != nil {
			return files, err
		}
	}
	if r.Kill != nil {
		name = filepath.Join(dir, "pxp-heal.svg")
		if err := add(name, plotHeal(name, r.Kill)); err != nil {
			return files, err
		}
	}
	return files, nil
}

// BTTable is a BitTorrent run's figures as a text table.
func BTTable(r *BTResult) string {
	var b strings.Builder
	c := r.Config
	fmt.Fprintf(&b, "BitTorrent: %d peers of %d connections, tracker answers %d, announce interval %v; protocol time x%g (%.1f s of real time)\n",
		c.Peers, c.MaxPeers, c.TrackerPeers, c.Interval, c.Scale, r.Wall.Seconds())
	fmt.Fprintf(&b, "  share of the swarm peers know, mean / least, over protocol time\n")
	fmt.Fprintf(&b, "    %-8s %-18s %-18s\n", "time", "with PEX", "tracker only")
	for i, p := range r.PEX {
		if i > 12 && i != len(r.PEX)-1 {
			continue
		}
		t := trackerAt(r.Tracker, p.T)
		fmt.Fprintf(&b, "    %-8s %5.1f %% / %5.1f %%   %5.1f %% / %5.1f %%\n", p.T.Round(time.Second), 100*p.Mean, 100*p.Min, 100*t.Mean, 100*t.Min)
	}
	fmt.Fprintf(&b, "  tracker load: announces answered until every peer knew the share\n")
	fmt.Fprintf(&b, "    %-6s %-26s %-26s %s\n", "share", "with PEX", "tracker only", "saved")
	for _, l := range r.Load {
		with, without, saved := "not within the run", "not within 2000 intervals", "-"
		if l.WithPEX >= 0 {
			with = fmt.Sprintf("%d (%.1f a peer, at %v)", l.WithPEX, float64(l.WithPEX)/float64(c.Peers), l.WithPEXT.Round(time.Minute))
		}
		if l.NoPEX >= 0 {
			without = fmt.Sprintf("%d (%.1f a peer, at %v)", l.NoPEX, float64(l.NoPEX)/float64(c.Peers), l.NoPEXT.Round(time.Minute))
		}
		if l.WithPEX > 0 && l.NoPEX > 0 {
			saved = fmt.Sprintf("%.1fx", float64(l.NoPEX)/float64(l.WithPEX))
		}
		fmt.Fprintf(&b, "    %-6s %-26s %-26s %s\n", fmt.Sprintf("%.0f %%", 100*l.Share), with, without, saved)
	}
	fmt.Fprintf(&b, "  connections per peer at the end: %.1f\n", r.Conns)
	return b.String()
}

// trackerAt is the tracker-only point at protocol time t (the last one
// not after it).
func trackerAt(pts []BTPoint, t time.Duration) BTPoint {
	var last BTPoint
	for _, p := range pts {
		if p.T > t {
			break
		}
		last = p
	}
	return last
}

// WriteBT writes a BitTorrent run's plots and tables under dir.
func WriteBT(dir string, r *BTResult) ([]string, error) {
	var files []string
	write := func(name string, err error) error {
		if err == nil {
			files = append(files, name)
		}
		return err
	}
	name := filepath.Join(dir, "bt-summary.txt")
	if err := write(name, os.WriteFile(name, []byte(BTTable(r)), 0o644)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "bt-result.json")
	b, _ := json.MarshalIndent(r, "", "  ")
	if err := write(name, os.WriteFile(name, b, 0o644)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "bt-knowledge.svg")
	if err := write(name, plotKnowledge(name, r)); err != nil {
		return files, err
	}
	name = filepath.Join(dir, "bt-tracker-load.svg")
	return files, write(name, plotLoad(name, r))
}
