package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pexlab sim bt --attackers runs end to end at a small size: exit 0, the
// summary is the last JSON line and holds the comparison's figures, and
// the attack's plots and tables are written.
func TestSimBTAttackCommand(t *testing.T) {
	dir := t.TempDir()
	var out strings.Builder
	args := []string{"sim", "bt", "--peers", "40", "--max-peers", "10", "--duration", "2m", "--attackers", "0.25", "--attack-prefixes", "2", "--json", "--out", dir}
	if code := run(context.Background(), args, &out, os.Stderr); code != 0 {
		t.Fatalf("%v exited %d", args, code)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var last map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil || last["event"] != "summary" {
		t.Fatalf("the last line is %v, not the summary", last)
	}
	for _, k := range []string{"honest_peers", "attackers", "honest_known_share", "baseline_honest_known_share", "honest_conns_per_peer",
		"baseline_honest_conns_per_peer", "dials_wasted", "dials_wasted_per_peer", "baseline_dials_wasted", "dials_per_victim_max",
		"dials_per_victim_mean", "dials_per_victim_per_minute_max", "attacker_pex_sent", "attacker_pex_received"} {
		if _, ok := last[k]; !ok {
			t.Errorf("the summary has no %s: %v", k, last)
		}
	}
	if last["honest_peers"] != 30.0 || last["attackers"] != 10.0 || last["baseline_dials_wasted"] != 0.0 {
		t.Errorf("summary: %v", last)
	}
	if _, ok := last["load_50_with_pex"]; ok {
		t.Errorf("a run with attackers has no tracker-only baseline, but the summary gives its load: %v", last)
	}
	for _, f := range []string{"bt-attack-summary.txt", "bt-attack-result.json", "bt-attack-knowledge.svg", "bt-attack-conns.svg", "bt-attack-dials.svg"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
}
