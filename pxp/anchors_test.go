package pxp

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// Anchors names the longest-connected links the node opened whose peer
// sent something past the handshake, at most MaxAnchors: not a silent
// one, not an incoming one, not a closed one.
func TestSynctestAnchors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("192.0.2.1:7000")
		node := newExchange(t, &Config{Dialer: memDialer(nw, "192.0.2.1")})
		go node.Serve(ln)
		// An incoming link that talks: never an anchor.
		in := listening(t, nw, "198.51.100.9:7000", "192.0.2.1:7000")
		var peers []*Exchange
		var links []*Peer
		for i := range 4 {
			addr := fmt.Sprintf("10.%d.0.1:7000", i+1)
			peers = append(peers, listening(t, nw, addr))
			c, err := node.cfg.Dialer(context.Background(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := node.Connect(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			links = append(links, dc.Peer())
			time.Sleep(time.Second)
		}
		if a := node.Anchors(); len(a) != 0 {
			t.Fatalf("anchors %v before any link carried traffic", a)
		}
		// Peers 1 to 3 and the incoming one ask the node for peers;
		// peer 0 stays silent.
		for _, e := range append(peers[1:], in) {
			if _, err := e.Peers()[0].GetPeers(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := node.Anchors(), []string{"10.2.0.1:7000", "10.3.0.1:7000"}; !slices.Equal(got, want) {
			t.Fatalf("anchors %v, want %v", got, want)
		}
		links[1].Close()
		synctest.Wait()
		if got, want := node.Anchors(), []string{"10.3.0.1:7000", "10.4.0.1:7000"}; !slices.Equal(got, want) {
			t.Fatalf("anchors with the oldest closed: %v, want %v", got, want)
		}
		node.cfg.MaxAnchors = -1
		if a := node.Anchors(); a != nil {
			t.Fatalf("MaxAnchors negative: %v", a)
		}
	})
}
