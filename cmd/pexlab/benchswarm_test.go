package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"

	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/lab/proc"
)

// pexlab bench swarm, small: every fake peer stays connected to both pex and
// libtorrent, and each gets a first ut_pex message of at most 50 added
// from pex (100 from libtorrent, its own cap).
func TestBenchSwarmCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	args := []string{"bench", "swarm", "--peers", "120", "--idle", "3s", "--json"}
	if exec.Command("/usr/bin/python3", "-c", "import libtorrent").Run() != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("python3-libtorrent is not installed")
		}
		args = append(args, "--no-libtorrent")
	}
	bin, err := proc.BuildPex()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr strings.Builder
	if code := run(context.Background(), append(args, "--pex", bin), &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr.String())
	}
	out := stdout.String()
	var sum struct {
		Targets []swarmTargetResult
	}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.Contains(line, `"event":"summary"`) {
			if err := json.Unmarshal([]byte(line), &sum); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(sum.Targets) == 0 {
		t.Fatalf("no summary:\n%s", out)
	}
	for _, r := range sum.Targets {
		cap := 50
		if r.Name == "libtorrent" {
			cap = 100
		}
		if r.Peers != 120 || r.PEX.Messages < 120 || r.PEX.MaxAdded > cap || r.PEX.MaxAdded == 0 || r.KiBPerPeer <= 0 || r.AnonKiB <= 0 || r.AnonKiB > r.RSSKiB {
			t.Errorf("%s: %+v", r.Name, r)
		}
		t.Logf("%s: %d peers, %.1f KiB anonymous a peer (%.1f of RSS), %.2f %% CPU, %d PEX messages of %.0f bytes", r.Name, r.Peers, r.AnonKiBPerPeer, r.KiBPerPeer, r.CPUPercent, r.PEX.Messages, r.PEX.MeanBytes)
	}
}
