package webrtc

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/pxp"
)

func TestMain(m *testing.M) {
	if role := os.Getenv(idleChildEnv); role != "" {
		runIdleChild(role) // the far ends of BenchmarkIdleWebRTCLinksOneNode
	}
	goleak.VerifyTestMain(m)
}

func newNode(t *testing.T, webrtc bool) *pxp.Exchange {
	t.Helper()
	cfg := &pxp.Config{}
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

func link(t testing.TB, a, b *pxp.Exchange) {
	t.Helper()
	ca, cb := memnet.Pipe("a", "b")
	errc := make(chan error, 1)
	go func() {
		_, err := b.Accept(context.Background(), cb)
		errc <- err
	}()
	if _, err := a.Connect(context.Background(), ca); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

// introduce links b and c (both with WebRTC) to a hub without it, and
// has b ask the hub for a new peer: the links b and c get.
func introduce(t *testing.T) (hub, b, c *pxp.Exchange, bc, cc *pxp.Conn) {
	t.Helper()
	hub, b, c = newNode(t, false), newNode(t, true), newNode(t, true)
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	bc, err := b.GetNewPeer(ctx)
	if err != nil {
		t.Fatalf("GetNewPeer: %v", err)
	}
	select {
	case cc = <-c.Incoming():
	case <-ctx.Done():
		t.Fatal("no incoming link at c")
	}
	return hub, b, c, bc, cc
}

func TestGoToGoOverWebRTC(t *testing.T) {
	hub, b, c, bc, cc := introduce(t)
	if bc.Transport() != "webrtc" || bc.Peer().ID() != c.ID() || bc.Peer().Via() != nil {
		t.Fatalf("got %s to %q", bc.Transport(), bc.Peer().ID())
	}
	if cc.Transport() != "webrtc" {
		t.Fatalf("c got %s", cc.Transport())
	}
	fmt.Fprintln(bc, "over webrtc")
	line, err := bufio.NewReader(cc).ReadString('\n')
	if err != nil || line != "over webrtc\n" {
		t.Fatalf("read %q %v", line, err)
	}
	// A larger transfer crosses intact.
	big := make([]byte, 3<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	go func() { cc.Write(big) }()
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
	// The relayed sessions are gone; the relay carries nothing any more.
	deadline := time.Now().Add(5 * time.Second)
	for hub.Stats().Relays != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if hub.Stats().Relays != 0 || len(b.Peers()) != 2 || len(c.Peers()) != 2 {
		t.Fatalf("relays %d, peers b=%d c=%d", hub.Stats().Relays, len(b.Peers()), len(c.Peers()))
	}
}

// A requester with WebRTC and an answerer without it: the answerer refuses
// the upgrade, and the requester reports the failure.
func TestUpgradeRefused(t *testing.T) {
	hub, b, c := newNode(t, false), newNode(t, true), newNode(t, false)
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// c advertises webrtc:false, so b does not even try: a relayed session.
	bc, err := b.GetNewPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bc.Transport() != "relay" {
		t.Fatalf("got %s, want relay", bc.Transport())
	}
}

// The hub vanishes while the two sides are signaling: the requester gets an
// error in bounded time and nothing leaks (goleak in TestMain).
func TestRelayVanishesMidSignaling(t *testing.T) {
	hub, b, c := newNode(t, false), newNode(t, true), newNode(t, true)
	link(t, b, hub)
	link(t, c, hub)
	go func() {
		for range hub.Events() {
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := b.GetNewPeer(ctx)
		done <- err
	}()
	// Close the hub as soon as it starts relaying.
	for hub.Stats().Relays == 0 {
		select {
		case err := <-done:
			t.Skipf("introduction finished before the hub could be closed (%v)", err)
		default:
			time.Sleep(50 * time.Microsecond)
		}
	}
	hub.Close()
	select {
	case err := <-done:
		if err == nil {
			t.Log("the upgrade completed just before the hub closed")
		}
	case <-ctx.Done():
		t.Fatal("GetNewPeer did not return after the relay vanished")
	}
}

func TestNewRejectsBadICEServers(t *testing.T) {
	for _, u := range []string{"notaurl", "http://198.51.100.1", "stun:", "turn:[::1"} {
		if _, err := New(&Config{ICEServers: []string{u}}); err == nil {
			t.Errorf("New took ICE server %q", u)
		}
	}
	for _, u := range []string{"stun:198.51.100.1:3478", "turn:203.0.113.5?transport=tcp", "stuns:example.org"} {
		if _, err := New(&Config{ICEServers: []string{u}, ICEUsername: "u", ICECredential: "p"}); err != nil {
			t.Errorf("New refused ICE server %q: %v", u, err)
		}
	}
}

// A WebRTC link closed cleanly by one side (its Exchange closes, as on
// SIGINT) ends at the other as a disconnect without a reason and no error:
// pion's user-initiated ABORT is the peer closing, not a failure.
func TestCleanCloseIsNoError(t *testing.T) {
	_, b, c, bc, cc := introduce(t)
	if bc.Transport() != "webrtc" {
		t.Fatalf("GetNewPeer: %s", bc.Transport())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	// Drain what happened so far.
	for len(c.Events()) > 0 {
		<-c.Events()
	}
	b.Close()
	if _, err := io.ReadAll(cc); err != nil {
		t.Fatalf("c's stream ended with %v, want EOF", err)
	}
	for {
		select {
		case ev := <-c.Events():
			switch {
			case ev.Type == pxp.EventError:
				t.Fatalf("clean close reported as an error: %v", ev.Err)
			case ev.Type == pxp.EventDisconnect && ev.Peer.Transport() == "webrtc":
				if ev.Err != nil {
					t.Fatalf("clean close has a reason: %v", ev.Err)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no disconnect at c")
		}
	}
}
