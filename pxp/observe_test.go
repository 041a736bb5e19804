package pxp

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"
)

// A node believes the address peers see it at only once peers at two
// different IPs say so; a peer on a private address does not count, nor
// does one peer twice. The field is not passed on to others in getpeers.
func TestObservedAddress(t *testing.T) {
	x := newExchange(t, nil)
	p1, p1b, p2, lan := newExchange(t, nil), newExchange(t, nil), newExchange(t, nil), newExchange(t, nil)
	const me = "198.51.100.7"
	linkAt(t, x, lan, "10.0.0.2:5000", "10.0.0.1:7000")
	linkAt(t, x, p1, me+":5001", "203.0.113.1:7000")
	linkAt(t, x, p1b, me+":5002", "203.0.113.1:7001") // the same IP again
	if got := x.Observed(); got.IsValid() {
		t.Fatalf("believed %v on one peer's word", got)
	}
	linkAt(t, x, p2, me+":5003", "203.0.113.2:7000")
	if got := x.Observed(); got != netip.MustParseAddr(me) {
		t.Fatalf("observed %v, want %s", got, me)
	}
	for {
		select {
		case ev := <-x.Events():
			if ev.Type == EventObserved {
				goto forwarded
			}
		case <-time.After(5 * time.Second):
			t.Fatal("no observed event")
		}
	}
forwarded:
	// x's candidates for p2 carry the connectInfo of x's other peers, whose
	// hellos to x held what they see x at: it is not passed on.
	cands, err := p2.Peers()[0].GetPeers(context.Background())
	if err != nil || len(cands) == 0 {
		t.Fatalf("getpeers: %v %v", cands, err)
	}
	for _, c := range cands {
		if strings.Contains(string(c.ConnectInfo), "observed") {
			t.Fatalf("a forwarded connectInfo carries the observation: %s", c.ConnectInfo)
		}
	}
}

// A peer dials the asker back at the port it names, on the IP of their
// link: true when PXP answers there, false when nothing does; a node with
// no peer that answers dial-backs says so.
func TestDialBack(t *testing.T) {
	x, helper := newExchange(t, nil), newExchange(t, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go x.Serve(ln)
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go helper.Serve(hl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := x.DialBack(ctx, 1); !errors.Is(err, ErrNoDialBack) {
		t.Fatalf("with no peer: %v", err)
	}
	c, err := net.Dial("tcp", hl.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	ok, err := x.DialBack(ctx, ln.Addr().(*net.TCPAddr).Port)
	if err != nil || !ok {
		t.Fatalf("dial-back to a listening node: %v %v", ok, err)
	}
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	port := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	if ok, err := x.DialBack(ctx, port); ok || err != nil {
		t.Fatalf("dial-back to a closed port: %v %v", ok, err)
	}
}

// An address advertised after the hello reaches Go peers in an info
// message: a relay then offers the node with it. An address off the IP of
// the link is not taken (a peer cannot aim others' dials at a third party).
func TestAdvertiseUpdateReachesRelay(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		x, r, y := newExchange(t, nil), newExchange(t, nil), newExchange(t, nil)
		linkAt(t, x, r, "198.51.100.7:5000", "203.0.113.1:7000")
		link(t, y, r)
		x.SetAdvertiseAddr("203.0.113.9:5000") // not on the IP of x's link: ignored
		synctest.Wait()
		cands, err := y.Peers()[0].GetPeers(context.Background())
		if err != nil || len(cands) != 1 || strings.Contains(string(cands[0].ConnectInfo), "203.0.113.9") {
			t.Fatalf("the relay took an address off the link's IP: %s %v", cands, err)
		}
		x.SetAdvertiseAddr("198.51.100.7:6000")
		synctest.Wait()
		cands, err = y.Peers()[0].GetPeers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(cands) != 1 || !strings.Contains(string(cands[0].ConnectInfo), `"tcp":"198.51.100.7:6000"`) {
			t.Fatalf("the relay offers %s", cands)
		}
	})
}
