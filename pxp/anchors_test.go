package pxp

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
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

// What a silent peer sends past the handshake does not make its link an
// anchor: neither an "info" re-advertising itself nor the frames that
// open and end its half of the data stream when it answers this node's
// closing it (as pex node does when it stops). Payload on the data stream
// does, even when it comes with the handshake's last answer.
func TestSynctestAnchorsNotBookkeeping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		node := newExchange(t, &Config{Dialer: memDialer(nw, "192.0.2.1")})
		silent := listening(t, nw, "10.1.0.1:7000")
		talker := listening(t, nw, "10.2.0.1:7000")
		// Each serves the data streams that come in as pex node does:
		// the silent one reads until the end and closes its half; the
		// talker says hello first.
		serve := func(e *Exchange, hello string) {
			for c := range e.Incoming() {
				go func() {
					if hello != "" {
						io.WriteString(c, hello)
					}
					io.Copy(io.Discard, c)
					c.Close()
				}()
			}
		}
		go serve(silent, "")
		go serve(talker, "hi\n")
		connect := func(addr string) *Conn {
			c, err := node.cfg.Dialer(context.Background(), "tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			dc, err := node.Connect(context.Background(), c)
			if err != nil {
				t.Fatal(err)
			}
			return dc
		}
		dc := connect("10.1.0.1:7000")
		synctest.Wait()
		if a := node.Anchors(); len(a) != 0 {
			t.Fatalf("anchors %v after the handshake alone", a)
		}
		silent.SetAdvertiseAddr("10.1.0.1:7001")
		synctest.Wait()
		if got := dc.Peer().ConnectInfo(); !strings.Contains(string(got), "7001") {
			t.Fatalf("the info did not arrive: %s", got)
		}
		if a := node.Anchors(); len(a) != 0 {
			t.Fatalf("anchors %v after the peer's info", a)
		}
		before := dc.Peer().Stats().BytesReceived
		dc.Close()
		synctest.Wait()
		if dc.Peer().Stats().BytesReceived == before {
			t.Fatal("the peer did not answer the data stream's end")
		}
		if a := node.Anchors(); len(a) != 0 {
			t.Fatalf("anchors %v after the peer ended its half of the data stream", a)
		}
		connect("10.2.0.1:7000")
		synctest.Wait()
		if got, want := node.Anchors(), []string{"10.2.0.1:7000"}; !slices.Equal(got, want) {
			t.Fatalf("anchors %v, want %v: the peer wrote on the data stream", got, want)
		}
	})
}
