package crawl_test

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	"github.com/seed0021ed4d/pex/bt/crawl"
)

// Map a swarm from one known peer for five minutes, then write its graph.
func Example() {
	ih := [20]byte{0x01, 0x23} // the swarm's infohash
	cr, err := crawl.New(ih, &crawl.Config{Revisit: 2 * time.Minute})
	if err != nil {
		panic(err)
	}
	cr.Add(netip.MustParseAddrPort("192.0.2.7:6881"), crawl.SourceManual, netip.AddrPort{}, "")
	// cr.AddSource(&tracker.Source{...}) and &dht.Source{...} find more.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	go func() {
		for ev := range cr.Events() {
			fmt.Println(ev.Type, ev.Peer.Addr)
		}
	}()
	cr.Run(ctx)
	r := cr.Report()
	fmt.Println(r.Known, "known,", r.Reached, "reached")
	r.WriteDOT(os.Stdout)
}
