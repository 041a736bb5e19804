package webrtc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/psk"
)

// In a private network the WebRTC link an introduction upgrades to is
// keyed too: its signaling travels inside the keyed links to the relay,
// and the data channel's first bytes are the key's handshake. The link
// carries data both ways and still tells how its candidates connect.
func TestNetworkKeyOverWebRTC(t *testing.T) {
	k, err := psk.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	node := func(webrtc bool) *pxp.Exchange {
		cfg := &pxp.Config{NetworkKey: k}
		if webrtc {
			up, err := New(&Config{Loopback: true})
			if err != nil {
				t.Fatal(err)
			}
			cfg.Upgrader = up
		}
		ex, err := pxp.New("pxp-mesh", cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ex.Close() })
		return ex
	}
	hub, b, c := node(false), node(true), node(true)
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	bc, err := b.GetNewPeer(ctx)
	if err != nil {
		t.Fatalf("GetNewPeer: %v", err)
	}
	var cc *pxp.Conn
	select {
	case cc = <-c.Incoming():
	case <-ctx.Done():
		t.Fatal("no incoming link at c")
	}
	if bc.Transport() != "webrtc" || cc.Transport() != "webrtc" || bc.Peer().ID() != c.ID() {
		t.Fatalf("got %s and %s to %q", bc.Transport(), cc.Transport(), bc.Peer().ID())
	}
	if ct, ok := bc.Peer().NetConn().(interface{ CandidateType() string }); !ok || ct.CandidateType() != "host" {
		t.Fatalf("NetConn %T", bc.Peer().NetConn())
	}
	fmt.Fprintln(bc, "keyed webrtc")
	line, err := bufio.NewReader(cc).ReadString('\n')
	if err != nil || line != "keyed webrtc\n" {
		t.Fatalf("read %q %v", line, err)
	}
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 13)
	}
	go cc.Write(big)
	got := make([]byte, len(big))
	bc.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, err := io.ReadFull(bc, got); err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if got[i] != big[i] {
			t.Fatalf("byte %d differs", i)
		}
	}
}
