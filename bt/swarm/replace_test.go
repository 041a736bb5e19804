package swarm

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// A client that comes back over uTP from the same address and port, while
// its first link still stands here, has given up on that link (libtorrent
// drops a useless link with a FIN libutp does not take, and libtorrent 2.0
// sends a new peer id on every connection): the old link goes, the new
// one stays, and a relay names the peer on the live one.
func TestNewUTPLinkReplacesStaleOne(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	ih := [20]byte{7, 7}
	n := newHPNode(t, ih, false, nil, HolepunchConfig{}, true)
	client, err := utp.Listen("udp4", "127.0.0.1:0", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	link := func(id string) io.ReadWriteCloser {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		c, err := client.DialContext(ctx, n.ap)
		if err != nil {
			t.Fatal(err)
		}
		ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}}
		if _, err := c.Write(append(ltepHandshake(ih, id), wire.AppendExtended(nil, 0, ext.Bytes())...)); err != nil {
			t.Fatal(err)
		}
		go io.Copy(io.Discard, c)
		return c
	}
	first := link("-LT2080-aaaaaaaaaaaa")
	defer first.Close()
	if !until(5*time.Second, func() bool { return len(n.s.Peers()) == 1 }) {
		t.Fatalf("the first link did not come up: %+v", n.s.Peers())
	}
	second := link("-LT2080-bbbbbbbbbbbb")
	defer second.Close()
	replaced := func() bool {
		for _, e := range n.events(EventDisconnected) {
			if errors.Is(e.Err, errReplaced) {
				return true
			}
		}
		return false
	}
	if !until(5*time.Second, func() bool { return replaced() && len(n.s.Peers()) == 1 }) {
		t.Fatalf("the stale link was not replaced: peers %+v, disconnections %+v", n.s.Peers(), n.events(EventDisconnected))
	}
	if len(n.events(EventConnected)) != 2 {
		t.Fatalf("want both links announced, got %+v", n.events(EventConnected))
	}
}
