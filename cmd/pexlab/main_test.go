package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// TestMain checks for leaked goroutines and removes the binaries the
// tests built.
func TestMain(m *testing.M) {
	// Every event the tests make the command print is held to the
	// output conventions (docs/pex.md, "Output conventions").
	fc := cli.NewFieldChecker()
	cli.CheckFields = fc.Check
	code := m.Run()
	if len(fc.Problems) > 0 {
		fmt.Fprintf(os.Stderr, "events that break the output conventions (docs/pex.md, \"Output conventions\"):\n  %s\n", strings.Join(fc.Problems, "\n  "))
		if code == 0 {
			code = 1
		}
	}
	proc.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "pexlab: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
