package proc

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
)

// Root is the repository's top directory.
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var built struct {
	sync.Mutex
	bins map[string]string // command path -> binary
	dir  string
}

// Build builds the module's command at path (e.g. "./cmd/pex") once per
// test binary and returns the binary's path. The binaries live in one
// temporary directory, removed by Cleanup.
func Build(path string) (string, error) {
	built.Lock()
	defer built.Unlock()
	if bin, ok := built.bins[path]; ok {
		return bin, nil
	}
	if built.dir == "" {
		dir, err := os.MkdirTemp("", "pex-lab-bin")
		if err != nil {
			return "", err
		}
		built.dir, built.bins = dir, map[string]string{}
	}
	bin := filepath.Join(built.dir, filepath.Base(path))
	cmd := exec.Command("go", "build", "-o", bin, path)
	cmd.Dir = Root()
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s: %v\n%s", path, err, out)
	}
	built.bins[path] = bin
	return bin, nil
}

// BuildPex is Build("./cmd/pex"), or $PEX_BIN when it names another
// build of pex (for "before" figures).
func BuildPex() (string, error) {
	if bin := os.Getenv("PEX_BIN"); bin != "" {
		return bin, nil
	}
	return Build("./cmd/pex")
}

// Cleanup removes the binaries Build made; a TestMain calls it after
// m.Run.
func Cleanup() {
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		os.RemoveAll(built.dir)
		built.dir, built.bins = "", nil
	}
}
