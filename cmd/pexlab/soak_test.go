package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/cmd/pexlab/internal/soak"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// The soaks at CI's size (soak.CI: two minutes each, a sample every 2 s,
// members staying 10 s), through the command: the population joins,
// is introduced, talks and leaves, the misbehaving clients run and are
// cut off, and none of the node's metrics grows over the second half
// (exit 0). Once the population has left, the node is back to about
// what it held before it came.
func TestSoak(t *testing.T) {
	if testing.Short() {
		t.Skip("two minutes a soak")
	}
	bin, err := proc.BuildPex()
	if err != nil {
		t.Fatal(err)
	}
	for _, engine := range []string{soak.EnginePXP, soak.EngineBT} {
		t.Run(engine, func(t *testing.T) {
			cfg := soak.CI(engine, bin)
			dir := t.TempDir()
			args := []string{"soak", engine, "--pex", bin, "--duration", cfg.Duration.String(), "--interval", cfg.Interval.String(),
				"--lifetime", cfg.Lifetime.String(), "--out", dir, "--json"}
			var stdout, stderr strings.Builder
			code := run(context.Background(), args, &stdout, &stderr)
			events := map[string][]map[string]any{}
			for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
				var ev map[string]any
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("not JSON: %q", line)
				}
				name, _ := ev["event"].(string)
				events[name] = append(events[name], ev)
			}
			for _, tr := range events["trend"] {
				t.Logf("%s: level %v, slope %v/h ± %v (bound %v/h), grows %v; a leak of %v a departure would be caught", tr["metric"], tr["level"], tr["slope_per_h"], tr["se_per_h"], tr["bound_per_h"], tr["grows"], tr["caught_per_departure"])
			}
			if code != 0 {
				// Every sample, for whoever reads the failure: which of
				// the runtime's figures moved with the one that grew.
				csv, _ := os.ReadFile(filepath.Join(dir, fmt.Sprintf("soak-%s.csv", engine)))
				t.Fatalf("exit %d\n%s\nsamples:\n%s", code, stderr.String(), csv)
			}
			if len(events["trend"]) != len(soak.Metrics) || len(events["summary"]) != 1 || len(events["drained"]) != 1 {
				t.Fatalf("%d trend, %d summary and %d drained events", len(events["trend"]), len(events["summary"]), len(events["drained"]))
			}
			sum := events["summary"][0]
			t.Logf("summary: %v", sum)
			num := func(ev map[string]any, k string) float64 { v, _ := ev[k].(float64); return v }
			members := float64(cfg.Nodes + cfg.Clients)
			if members == 0 {
				members = float64(map[string]int{soak.EnginePXP: soak.DefaultPXPNodes + soak.DefaultPXPClients, soak.EngineBT: soak.DefaultBTNodes + soak.DefaultBTClients}[engine])
			}
			// Each slot lives about Duration/Lifetime members.
			churned := members * cfg.Duration.Seconds() / cfg.Lifetime.Seconds()
			if left := num(sum, "left"); left < churned/2 {
				t.Errorf("%v members left, want about %.0f", left, churned)
			}
			if num(sum, "join_failed") > num(sum, "joined")/20 {
				t.Errorf("%v of %v joins failed", num(sum, "join_failed"), num(sum, "joined"))
			}
			if num(sum, "intros") < num(sum, "joined") || num(sum, "lines") == 0 {
				t.Errorf("%v introductions (links between members) for %v members, %v lines", num(sum, "intros"), num(sum, "joined"), num(sum, "lines"))
			}
			if m := num(sum, "misbehaved"); m < 10 || num(sum, "cut_off") < m/2 {
				t.Errorf("%v misbehaving clients, %v of them cut off by the node", m, num(sum, "cut_off"))
			}
			for _, tr := range events["trend"] {
				if tr["metric"] == soak.MetricLinks && num(tr, "level") < members*0.8 {
					t.Errorf("the node held %v links for %v members", tr["level"], members)
				}
			}
			checkDetects(t, events["sample"])
			first, drained := events["sample"][0], events["drained"][0]
			for _, k := range []string{"goroutines", "fds", "links"} {
				if num(drained, k) > num(first, k)+5 {
					t.Errorf("drained: %s %v, before the population %v", k, drained[k], first[k])
				}
			}
			files := []string{fmt.Sprintf("soak-%s.csv", engine)}
			for _, m := range soak.Metrics {
				files = append(files, fmt.Sprintf("soak-%s-%s.svg", engine, m))
			}
			for _, f := range files {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
		})
	}
}

// checkDetects holds the detector to this run's own samples with a leak
// added: one goroutine, one timer or one descriptor more per departed
// member, or 64 KiB of memory, on top of what was measured, grows. Two
// minutes of memory are too noisy for less (a collection moves RssAnon
// by megabytes): each trend's caught_per_departure says what a run
// would catch (11 to 21 KiB at CI's size, a few times less in a
// ten-minute run: docs/operating.md).
func checkDetects(t *testing.T, samples []map[string]any) {
	t.Helper()
	for metric, per := range map[string]float64{soak.MetricGoroutines: 1, soak.MetricTimers: 1, soak.MetricFDs: 1, soak.MetricAnon: 64} {
		var ts, ys []float64
		for _, s := range samples {
			v, ok := s[metric].(float64)
			if !ok {
				continue // timers, counted at some samples only
			}
			ts, ys = append(ts, s["t_s"].(float64)), append(ys, v+per*s["departed"].(float64))
		}
		tr, err := soak.Assess(metric, ts, ys, soak.DefaultBounds[metric])
		if err != nil {
			t.Errorf("%s: %v", metric, err)
			continue
		}
		t.Logf("%s, %v more a departure: %v", metric, per, tr)
		if !tr.Grows {
			t.Errorf("a leak of %v %s a departure was not caught: %v", per, metric, tr)
		}
	}
}
