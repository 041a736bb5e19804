package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// pexlab help bench and pexlab bench -h list every benchmark; pexlab bench
// alone names them all.
func TestBenchGroup(t *testing.T) {
	for _, args := range [][]string{{"help", "bench"}, {"bench", "-h"}} {
		var out strings.Builder
		if code := run(context.Background(), args, &out, io.Discard); code != 0 {
			t.Fatalf("%v: exit %d", args, code)
		}
		for _, want := range []string{"pexlab bench: the commands are getnewpeer, relay and swarm", "\n  pexlab bench getnewpeer ", "\n  pexlab bench relay ", "\n  pexlab bench swarm "} {
			if !strings.Contains(out.String(), want) {
				t.Errorf("%v lacks %q:\n%s", args, want, out.String())
			}
		}
	}
	var errOut strings.Builder
	if code := run(context.Background(), []string{"bench"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "the benchmarks are getnewpeer, relay and swarm") {
		t.Fatalf("pexlab bench: exit %d, %q", code, errOut.String())
	}
}

// The simulators check --out and --metrics before they run.
func TestSimChecksOutputsAtStart(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"sim", "--out", filepath.Join(file, "out")}, "pexlab sim: --out: cannot make the directory"},
		{[]string{"sim", "bt", "--out", filepath.Join(file, "out")}, "pexlab sim bt: --out: cannot make the directory"},
		{[]string{"sim", "--metrics", "127.0.0.1"}, "pexlab sim: --metrics: want HOST:PORT"},
		{[]string{"bench", "swarm", "--pex-metrics", "127.0.0.1:99999"}, "pexlab bench swarm: --pex-metrics: want HOST:PORT"},
		{[]string{"sim", "--nodse", "10"}, "pexlab sim: unknown flag --nodse; did you mean --nodes?"},
		{[]string{"sim", "--attack", "eclipse"}, "pexlab sim: --attack needs --attackers"},
		{[]string{"sim", "--attackers", "0.2", "--attack", "siege"}, "pexlab sim: --attack: must be one of hoard, eclipse, churn"},
		{[]string{"sim", "--nodes", "20", "--attackers", "0.6"}, "pexlab sim: --attackers: leaves 8 honest nodes, too few for --want 8"},
	} {
		var errOut strings.Builder
		if code := run(context.Background(), c.args, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("%v: exit %d, %q; want 2 and %q", c.args, code, errOut.String(), c.want)
		}
	}
	// A bad command line makes no directory.
	made := filepath.Join(t.TempDir(), "a", "b")
	if code := run(context.Background(), []string{"sim", "--nodes", "5", "--out", made}, io.Discard, io.Discard); code != 2 {
		t.Fatalf("exit %d", code)
	}
	if _, err := os.Stat(made); !os.IsNotExist(err) {
		t.Fatalf("%s made for a refused command line: %v", made, err)
	}
}
