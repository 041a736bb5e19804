package peerstore_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/seed0021ed4d/pex/peerstore"
)

// A node records the peers that worked and, started again, reads them
// back best first.
func Example() {
	dir, _ := os.MkdirTemp("", "peers")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "peers.json")

	st, err := peerstore.Open(path, nil)
	if err != nil {
		panic(err)
	}
	st.Success("bt:0123", "192.0.2.7:6881", "tracker")
	st.Success("bt:0123", "198.51.100.2:51413", "pex")
	st.Failure("bt:0123", "192.0.2.7:6881")
	st.Close() // saves

	st, _ = peerstore.Open(path, nil)
	defer st.Close()
	for _, p := range st.Peers("bt:0123") {
		fmt.Println(p.Addr, p.Source, p.Successes, p.Failures)
	}
	// Output:
	// 198.51.100.2:51413 pex 1 0
	// 192.0.2.7:6881 tracker 1 1
}
