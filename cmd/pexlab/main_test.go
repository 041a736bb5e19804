package main

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/proc"
)

// TestMain checks for leaked goroutines and removes the binaries the
// tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	proc.Cleanup()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "pexlab: leaked goroutines:", err)
			code = 1
		}
	}
	os.Exit(code)
}
