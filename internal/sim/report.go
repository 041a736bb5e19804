package sim

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
	if s := r.AfterChurn; s != nil {
		fmt.Fprintf(&b, "  after churn       %d nodes, largest component %d, clustering %.3f, path %.2f; joins during churn p50 %.0f ms\n",
			s.Nodes, s.Largest, s.Clustering, s.PathLength, Percentile(r.ChurnJoins, 50))
	}
	if k := r.Kill; k != nil {
		healed := "not within --heal-for"
		if k.Healed > 0 {
			healed = fmt.Sprintf("%.2f s", k.Healed.Seconds())
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
	if r.Kill != nil {
		name = filepath.Join(dir, "pxp-heal.svg")
		if err := add(name, plotHeal(name, r.Kill)); err != nil {
			return files, err
		}
	}
	return files, nil
}
