package swarm_test

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// Two swarms for one infohash on loopback: b dials a. Both offer AZMP,
// but two pex peers run the extension protocol between them (ut_pex
// carries flags and hole punching that AZMP has no room for).
func Example() {
	ih := [20]byte{0xe1}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer ln.Close()
	a, _ := swarm.New(ih, &swarm.Config{ListenPort: ln.Addr().(*net.TCPAddr).Port})
	defer a.Close()
	go a.Serve(ln) // a.Close closes ln

	b, _ := swarm.New(ih, &swarm.Config{})
	defer b.Close()
	b.AddPeer(netip.MustParseAddrPort(ln.Addr().String()), swarm.SourceManual)
	for ev := range b.Events() {
		if ev.Type == swarm.EventConnected {
			fmt.Println(ev.Type.String(), ev.Source, ev.Net, strings.Split(ev.Client, "/")[0])
			break
		}
	}
	// Output: connected manual ut_pex pex
}
