package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pexlab sim and pexlab sim bt run end to end at small sizes: exit 0, the
// summary is the last JSON line, and the plots and tables are written.
func TestSimCommands(t *testing.T) {
	for _, c := range []struct {
		args   []string
		files  []string
		fields []string // the summary has them
	}{
		{[]string{"sim", "--nodes", "60", "--want", "4", "--kill", "0.5", "--heal-for", "20s"},
			[]string{"pxp-summary.txt", "pxp-result.json", "pxp-join.svg", "pxp-indegree.svg", "pxp-heal.svg"}, nil},
		{[]string{"sim", "--nodes", "60", "--want", "4", "--attackers", "0.2", "--attack", "eclipse", "--attack-targets", "2", "--attack-for", "2s"},
			[]string{"pxp-summary.txt", "pxp-result.json", "pxp-attack-share.svg", "pxp-attack-honest.svg", "pxp-attack-targets.svg"},
			[]string{"attack_link_share_mean", "attack_link_share_p99", "attack_link_share_max", "eclipsed", "honest_largest", "targets_min_honest", "eclipsed_nodes", "honest_no_honest_in", "attack_out_link_share_no_honest_in"}},
		{[]string{"sim", "bt", "--peers", "40", "--max-peers", "10", "--duration", "3m"},
			[]string{"bt-summary.txt", "bt-result.json", "bt-knowledge.svg", "bt-tracker-load.svg"}, nil},
	} {
		t.Run(strings.Join(c.args[1:], " "), func(t *testing.T) {
			dir := t.TempDir()
			var out strings.Builder
			args := append(c.args, "--json", "--out", dir)
			if code := run(context.Background(), args, &out, os.Stderr); code != 0 {
				t.Fatalf("%v exited %d", args, code)
			}
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			var last map[string]any
			if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["event"] != "summary" {
				t.Fatalf("the last line is %v, not the summary", last)
			}
			for _, f := range c.fields {
				if _, ok := last[f]; !ok {
					t.Errorf("the summary has no %s: %v", f, last)
				}
			}
			for _, f := range c.files {
				if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
					t.Errorf("%s: %v", f, err)
				}
			}
		})
	}
}

// belowWhy names each reason nodes ended below --want, the most common
// first, ties in order of the reason.
func TestBelowWhy(t *testing.T) {
	got := belowWhy(map[string]int{"b: no candidates (3 peers)": 1, "a: timed out (0 peers)": 1, "c: closed (1 peers)": 4})
	want := "4: c: closed (1 peers); 1: a: timed out (0 peers); 1: b: no candidates (3 peers)"
	if got != want {
		t.Fatalf("belowWhy: %q, want %q", got, want)
	}
}
