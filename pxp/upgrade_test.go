package pxp

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// fakeUpgrader is a stand-in for WebRTC: signals are the strings "offer"
// and "answer", and the direct transport is an in-memory pipe. Its
// initiator returns from Start only after the answer was sent, so the
// answer always arrives before Start has returned.
type fakeUpgrader struct {
	a, b      *memnet.Conn
	answered  chan struct{}
	breakConn bool // the answerer's "data channel" closes as soon as it opens
	// loseFirst: the answerer's first write (its magic) never arrives, as
	// a browser may lose the first message it sends on a data channel.
	loseFirst bool
}

// firstLost is a connection whose first write is lost on the way.
type firstLost struct {
	net.Conn
	once sync.Once
}

func (c *firstLost) Write(p []byte) (int, error) {
	lost := false
	c.once.Do(func() { lost = true })
	if lost {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func newFakeUpgrader() *fakeUpgrader {
	a, b := memnet.Pipe("fake-init", "fake-answer")
	return &fakeUpgrader{a: a, b: b, answered: make(chan struct{})}
}

func (f *fakeUpgrader) Transport() string { return "webrtc" }

func (f *fakeUpgrader) Start(ctx context.Context, initiator bool, signal func(json.RawMessage) error) (Upgrade, error) {
	s := &fakeSession{f: f, initiator: initiator, signal: signal, got: make(chan string, 4)}
	if initiator {
		if err := signal(json.RawMessage(`"offer"`)); err != nil {
			return nil, err
		}
		select {
		case <-f.answered:
			time.Sleep(10 * time.Millisecond) // let the answer reach us
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return s, nil
}

type fakeSession struct {
	f         *fakeUpgrader
	initiator bool
	signal    func(json.RawMessage) error
	got       chan string
}

func (s *fakeSession) Signal(raw json.RawMessage) error {
	var v string
	if json.Unmarshal(raw, &v) != nil {
		return errors.New("fake: bad signal")
	}
	if v == "offer" && !s.initiator {
		if err := s.signal(json.RawMessage(`"answer"`)); err != nil {
			return err
		}
		close(s.f.answered)
	}
	s.got <- v
	return nil
}

func (s *fakeSession) Conn(ctx context.Context) (net.Conn, error) {
	want := "answer"
	if !s.initiator {
		want = "offer"
	}
	for {
		select {
		case v := <-s.got:
			if v != want {
				continue
			}
			if s.initiator {
				return s.f.a, nil
			}
			if s.f.breakConn {
				s.f.b.Close()
			}
			if s.f.loseFirst {
				return &firstLost{Conn: s.f.b}, nil
			}
			return s.f.b, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (s *fakeSession) Close() error { return nil }

// upgradeVia links two exchanges with up to a hub without one, has the
// first ask the hub for a new peer, and returns both ends of the upgraded
// link it gets.
func upgradeVia(t *testing.T, up *fakeUpgrader) (bc, cc *Conn) {
	t.Helper()
	hub := newExchange(t, nil)
	b := newExchange(t, &Config{Upgrader: up})
	c := newExchange(t, &Config{Upgrader: up})
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	bc, err := b.GetNewPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bc.Transport() != "webrtc" || bc.Peer().ID() != c.ID() {
		t.Fatalf("got %s to %q", bc.Transport(), bc.Peer().ID())
	}
	select {
	case cc = <-c.Incoming():
	case <-time.After(5 * time.Second):
		t.Fatal("the answerer never handed over the upgraded link")
	}
	if cc.Transport() != "webrtc" {
		t.Fatalf("answerer got %s", cc.Transport())
	}
	return bc, cc
}

// The answer to an offer can arrive while the requester's Upgrader.Start is
// still running; it must not be lost (it was, once, under load).
func TestUpgradeAnswerBeforeStartReturns(t *testing.T) {
	bc, cc := upgradeVia(t, newFakeUpgrader())
	writeLine(t, bc, "upgraded")
	if got := readLine(t, cc); got != "upgraded" {
		t.Fatalf("got %q", got)
	}
}

// The direct transport closes in the middle of the PXP handshake over it:
// GetNewPeer fails in bounded time, both nodes keep their other links, and
// nothing leaks.
func TestUpgradeConnClosesMidHandshake(t *testing.T) {
	up := newFakeUpgrader()
	up.breakConn = true
	hub := newExchange(t, nil)
	b := newExchange(t, &Config{Upgrader: up})
	c := newExchange(t, &Config{Upgrader: up})
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if conn, err := b.GetNewPeer(ctx); err == nil {
		t.Fatalf("got a %s link over a closed transport", conn.Transport())
	}
	if ctx.Err() != nil {
		t.Fatal("GetNewPeer took until the deadline")
	}
	if len(b.Peers()) != 1 || len(c.Peers()) != 1 || len(hub.Peers()) != 2 {
		t.Fatalf("peers b=%d c=%d hub=%d", len(b.Peers()), len(c.Peers()), len(hub.Peers()))
	}
}

// A requester ends the relayed session as soon as its upgraded link is up
// (JS nodes and Go nodes alike). The answerer may not have handed its side
// of that link over yet; the link must survive the relayed session's end.
// (It did not: under load a JS requester saw its data channel close right
// after getNewPeer returned.)
func TestUpgradedLinkSurvivesEarlyRelayClose(t *testing.T) {
	testHookUpgraded = func(relayed *Peer) {
		select {
		case <-relayed.Done(): // the requester's END arrived first
		case <-time.After(5 * time.Second):
			t.Error("the requester did not end the relayed session")
		}
	}
	// Registered first, so it runs after the exchanges have closed.
	t.Cleanup(func() { testHookUpgraded = nil })
	bc, cc := upgradeVia(t, newFakeUpgrader())
	writeLine(t, bc, "still here")
	if got := readLine(t, cc); got != "still here" {
		t.Fatalf("got %q", got)
	}
}

// The answerer's first message on the upgraded link, its magic, is lost
// (Chromium does this now and then to a page answering a data channel):
// the link begins with the frame that opens the answerer's "pxp" stream,
// and the requester takes it, since the answerer spoke PXP over the
// session the upgrade was signaled on.
func TestUpgradedLinkTakesALostMagic(t *testing.T) {
	up := newFakeUpgrader()
	up.loseFirst = true
	bc, cc := upgradeVia(t, up)
	writeLine(t, bc, "no magic needed")
	if got := readLine(t, cc); got != "no magic needed" {
		t.Fatalf("got %q", got)
	}
	writeLine(t, cc, "and back")
	if got := readLine(t, bc); got != "and back" {
		t.Fatalf("got %q", got)
	}
}

// Only an upgraded link is taken without its magic: a link the
// application made (TCP, WebSocket, a pipe) that begins the same way is
// refused with ErrBadMagic.
func TestLostMagicRefusedOnDirectLinks(t *testing.T) {
	a, b := newExchange(t, nil), newExchange(t, nil)
	ca, cb := memnet.Pipe("a", "b")
	errc := make(chan error, 1)
	go func() {
		_, err := a.Connect(context.Background(), &firstLost{Conn: ca})
		errc <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := b.Accept(ctx, cb); !errors.Is(err, ErrBadMagic) {
		t.Fatalf("Accept: %v, want ErrBadMagic", err)
	}
	select {
	case <-errc:
	case <-time.After(5 * time.Second):
		t.Fatal("Connect did not end once the other side refused the link")
	}
}
