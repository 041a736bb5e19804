package interop

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/psk"
)

// The JS reference has no network key: a Go node with one refuses it,
// whichever side dials, with ErrNetworkKey on the Go side and the
// reference's own "invalid magic" error on the other, and the Go node's
// keyed link carries on. (A keyless Go node and the reference link as
// ever: the other tests of this package.)
func TestJSRefusedByKeyedGoNode(t *testing.T) {
	k, err := psk.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	keyedNode := func(listen bool) (*pxp.Exchange, net.Listener) {
		ex, err := pxp.New(network, &pxp.Config{NetworkKey: k})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ex.Close() })
		if !listen {
			return ex, nil
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go ex.Serve(ln)
		return ex, ln
	}
	g, ln := keyedNode(true)
	friend, _ := keyedNode(false)
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	fc, err := friend.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	gc := <-g.Incoming()

	// The reference dials the keyed node.
	js := startJS(t, "js", "--connect", ln.Addr().String(), "--listen", "0")
	ev := js.wait("connect-error", func(ev event) bool { return ev["how"] == "connect" })
	if !strings.Contains(strings.ToLower(ev["error"].(string)), "invalid magic") {
		t.Errorf("the reference says %v", ev)
	}
	for {
		select {
		case ev := <-g.Events():
			if ev.Type != pxp.EventError {
				continue
			}
			if !errors.Is(ev.Err, pxp.ErrNetworkKey) || !errors.Is(ev.Err, psk.ErrPeerKeyless) {
				t.Fatalf("the Go node's error: %v", ev.Err)
			}
			goto dialed
		case <-ctx.Done():
			t.Fatal("no error event at the keyed node")
		}
	}
dialed:
	// The keyed node dials the reference.
	jc, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(js.port()))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Connect(ctx, jc); !errors.Is(err, pxp.ErrNetworkKey) || !errors.Is(err, psk.ErrPeerKeyless) {
		t.Fatalf("dialing the reference: %v", err)
	}
	// The reference's accepting side fails its handshake too.
	js.wait("connect-error", func(ev event) bool {
		return ev["how"] == "accept" && strings.Contains(strings.ToLower(ev["error"].(string)), "invalid magic")
	})

	if _, err := fc.Write([]byte("keyed link\n")); err != nil {
		t.Fatal(err)
	}
	if got := readLine(t, gc); got != "keyed link" {
		t.Fatalf("got %q", got)
	}
	if len(g.Peers()) != 1 {
		t.Fatalf("the keyed node has %d peers", len(g.Peers()))
	}
}
