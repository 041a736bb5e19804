package pxp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// sybil opens a link from addr to the node listening as "node" on nw: it
// sends a valid hello (accepting introductions) and connect, then reads and
// ignores everything: it never answers an introduction.
func sybil(t *testing.T, nw *memnet.Network, addr string) net.Conn {
	t.Helper()
	c, err := nw.DialFrom(addr, "node")
	if err != nil {
		t.Fatal(err)
	}
	r := newRawPeer(t, c)
	r.start(`[1,{"pxp":true,"relay":true},["pxp-mesh"]]`)
	r.request(wire.CmdConnect, `"pxp-mesh"`)
	go io.Copy(io.Discard, c)
	return c
}

// crowd opens n sybil links from 10.0.0.0/24 to "node", closed when the
// test ends.
func crowd(t *testing.T, nw *memnet.Network, n int) {
	t.Helper()
	for i := range n {
		c := sybil(t, nw, fmt.Sprintf("10.0.0.%d:%d", i%250+1, 4000+i))
		t.Cleanup(func() { c.Close() })
	}
}

// honest links a real Exchange from addr to "node".
func honest(t *testing.T, nw *memnet.Network, addr string) (*Exchange, error) {
	t.Helper()
	e := newExchange(t, nil)
	c, err := nw.DialFrom(addr, "node")
	if err != nil {
		return e, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err = e.Connect(ctx, c)
	return e, err
}

func waitPeers(t *testing.T, e *Exchange, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); len(e.Peers()) < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%d peers, want %d", len(e.Peers()), n)
		}
	}
}

// Idle links from one /24 fill a node's incoming slots; the rest are told
// "peer is full". An honest newcomer from another /24 still gets in at once
// (taking the slot of an idle one), and GetNewPeer through the node reaches
// another honest peer.
func TestNoLockOut(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("node")
		node := newExchange(t, &Config{MaxPeers: 16, ReservedOutbound: 2, RequestTimeout: time.Second})
		go node.Serve(ln)
		crowd(t, nw, 100)
		waitPeers(t, node, 14)
		time.Sleep(50 * time.Millisecond)
		if n := len(node.Peers()); n != 14 {
			t.Fatalf("%d peers from the crowd, want the 14 incoming slots", n)
		}
		// A crowd member past the slots is refused with a reason.
		if _, err := honest(t, nw, "10.0.0.200:1"); !errors.Is(err, ErrPeerFull) {
			t.Fatalf("another from the crowd's /24: %v, want ErrPeerFull", err)
		}
		target, err := honest(t, nw, "10.2.0.1:1")
		if err != nil {
			t.Fatalf("an honest peer from another /24 was kept out: %v", err)
		}
		asker, err := honest(t, nw, "10.1.0.1:1")
		if err != nil {
			t.Fatalf("a second honest peer was kept out: %v", err)
		}
		if n := len(node.Peers()); n != 14 {
			t.Fatalf("%d peers after two newcomers, want 14", n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := asker.GetNewPeer(ctx)
		if err != nil {
			t.Fatalf("GetNewPeer through the crowded node: %v", err)
		}
		if c.Peer().ID() != target.ID() {
			t.Fatalf("introduced to %q, want the honest %q", c.Peer().ID(), target.ID())
		}
	})
}

// getpeers samples across prefixes: with 200 links from one /24 and 10 from
// ten others, most candidates offered are from the ten.
func TestGetPeersSpreadAcrossPrefixes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("node")
		node := newExchange(t, &Config{MaxPeers: 300, ReservedOutbound: -1, MaxHandshakesPerIP: 300})
		go node.Serve(ln)
		crowd(t, nw, 200)
		honestIDs := map[string]bool{}
		for i := range 10 {
			e, err := honest(t, nw, fmt.Sprintf("10.%d.1.1:1", 10+i))
			if err != nil {
				t.Fatal(err)
			}
			honestIDs[e.ID()] = true
		}
		waitPeers(t, node, 210)
		asker, err := honest(t, nw, "10.99.0.1:1")
		if err != nil {
			t.Fatal(err)
		}
		via := asker.Peers()[0]
		good, total := 0, 0
		for range 5 {
			cands, err := via.GetPeers(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range cands {
				total++
				if ci := parseConnectInfo(c.ConnectInfo); honestIDs[ci.id] {
					good++
				}
			}
		}
		if total == 0 || good*2 < total {
			t.Fatalf("%d of %d candidates honest, want at least half", good, total)
		}
	})
}

// The optional hard caps turn away a newcomer from a crowded IP or prefix
// even with slots free.
func TestInboundCaps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("node")
		node := newExchange(t, &Config{MaxInboundPerIP: 2, MaxInboundPerPrefix: 3})
		go node.Serve(ln)
		for i, from := range []string{"10.0.0.1:1", "10.0.0.1:2", "10.0.0.1:3", "10.0.0.2:1", "10.0.0.3:1", "10.1.0.1:1"} {
			_, err := honest(t, nw, from)
			want := i != 2 && i != 4 // the third from 10.0.0.1; the fourth from 10.0.0.0/24
			if (err == nil) != want {
				t.Fatalf("newcomer %d from %s: %v", i, from, err)
			}
			if err != nil && !errors.Is(err, ErrPeerFull) {
				t.Fatalf("newcomer %d refused with %v, want ErrPeerFull", i, err)
			}
		}
	})
}
