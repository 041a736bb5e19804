package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// findPex is the pex binary a bench measures: named, or "pex" beside
// pexlab's own executable, or "pex" on PATH. pexlab never measures itself:
// it links the simulators and the bench harness, which pex does not.
func findPex(named string) (string, error) {
	if named != "" {
		if _, err := os.Stat(named); err != nil {
			return "", fmt.Errorf("--pex: %w", err)
		}
		return named, nil
	}
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "pex")
		if st, err := os.Stat(beside); err == nil && !st.IsDir() {
			return beside, nil
		}
	}
	if p, err := exec.LookPath("pex"); err == nil {
		return p, nil
	}
	return "", errors.New("no pex binary beside pexlab or on PATH: build one (go build -o /tmp/pex ./cmd/pex) and name it with --pex")
}
