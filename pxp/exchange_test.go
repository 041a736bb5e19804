package pxp

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func TestConnectAcceptData(t *testing.T) {
	a, b := newExchange(t, nil), newExchange(t, nil)
	ac, bc := link(t, a, b)
	if ac.Transport() != "memnet" || !ac.Peer().Outgoing() || bc.Peer().Outgoing() {
		t.Fatalf("transport %q outgoing %v/%v", ac.Transport(), ac.Peer().Outgoing(), bc.Peer().Outgoing())
	}
	writeLine(t, ac, "from a")
	if got := readLine(t, bc); got != "from a" {
		t.Fatalf("b read %q", got)
	}
	writeLine(t, bc, "from b")
	if got := readLine(t, ac); got != "from b" {
		t.Fatalf("a read %q", got)
	}
	if len(a.Peers()) != 1 || len(b.Peers()) != 1 {
		t.Fatalf("peers %d/%d", len(a.Peers()), len(b.Peers()))
	}
	if a.Peers()[0].ID() != b.ID() || b.Peers()[0].ID() != a.ID() {
		t.Fatalf("ids not exchanged")
	}
	waitEvent(t, a, EventPeer, nil)
	waitEvent(t, a, EventConnect, nil)
	ac.Peer().Close()
	waitEvent(t, b, EventDisconnect, nil)
	if len(b.Peers()) != 0 {
		t.Fatalf("b still lists %d peers", len(b.Peers()))
	}
}

// mesh connects every node in leaves to hub and returns them.
func star(t *testing.T, n int, cfg *Config) (*Exchange, []*Exchange) {
	hub := newExchange(t, cfg)
	leaves := make([]*Exchange, n)
	for i := range leaves {
		leaves[i] = newExchange(t, cfg)
		link(t, leaves[i], hub)
	}
	return hub, leaves
}

func TestGetNewPeerThroughRelay(t *testing.T) {
	hub, l := star(t, 2, nil)
	b, c := l[0], l[1]
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	bc, err := b.GetNewPeer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if bc.Transport() != "relay" || bc.Peer().Via() == nil || bc.Peer().ID() != c.ID() {
		t.Fatalf("got transport %q id %q, want relay to %s", bc.Transport(), bc.Peer().ID(), c.ID())
	}
	var cc *Conn
	select {
	case cc = <-c.Incoming():
	case <-ctx.Done():
		t.Fatal("c got no incoming connection")
	}
	writeLine(t, bc, "hello c")
	if got := readLine(t, cc); got != "hello c" {
		t.Fatalf("c read %q", got)
	}
	writeLine(t, cc, "hello b")
	if got := readLine(t, bc); got != "hello b" {
		t.Fatalf("b read %q", got)
	}
	if st := hub.Stats(); st.Relays != 1 || st.RelayedBytes == 0 {
		t.Fatalf("hub stats %+v", st)
	}
	// b already has c: no second link to it.
	if _, err := b.GetNewPeer(ctx); !errors.Is(err, ErrNoCandidates) {
		t.Fatalf("second GetNewPeer: %v, want ErrNoCandidates", err)
	}
	if len(b.Peers()) != 2 || len(c.Peers()) != 2 || len(hub.Peers()) != 2 {
		t.Fatalf("peers b=%d c=%d hub=%d", len(b.Peers()), len(c.Peers()), len(hub.Peers()))
	}
	// Closing the relayed link leaves both direct links up.
	bc.Peer().Close()
	waitEvent(t, c, EventDisconnect, func(ev Event) bool { return ev.Peer.Transport() == "relay" })
	deadline := time.Now().Add(5 * time.Second)
	for hub.Stats().Relays != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := hub.Stats(); st.Relays != 0 || st.Peers != 2 {
		t.Fatalf("after closing the relayed link: hub %+v", st)
	}
}

func TestGetNewPeerNoPeers(t *testing.T) {
	a := newExchange(t, nil)
	if _, err := a.GetNewPeer(context.Background()); !errors.Is(err, ErrNoPeers) {
		t.Fatalf("got %v", err)
	}
	hub, l := star(t, 1, nil)
	_ = hub
	if _, err := l[0].GetNewPeer(context.Background()); !errors.Is(err, ErrNoCandidates) {
		t.Fatalf("got %v, want ErrNoCandidates", err)
	}
}

func TestMeshGrows(t *testing.T) {
	const n = 6
	_, l := star(t, n, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, e := range l {
		go func() {
			for c := range e.Incoming() {
				_ = c
			}
		}()
	}
	for _, e := range l {
		for len(e.Peers()) < 4 {
			if _, err := e.GetNewPeer(ctx); err != nil && !errors.Is(err, ErrNoCandidates) {
				t.Fatalf("GetNewPeer: %v", err)
			}
			if ctx.Err() != nil {
				t.Fatal("mesh did not grow in time")
			}
		}
	}
	for i, e := range l {
		seen := map[string]bool{}
		for _, p := range e.Peers() {
			if p.ID() != "" && seen[p.ID()] {
				t.Fatalf("node %d connected twice to %s", i, p.ID())
			}
			seen[p.ID()] = true
		}
	}
}

func TestDuplicateAndSelfLinksRefused(t *testing.T) {
	a, b := newExchange(t, nil), newExchange(t, nil)
	link(t, a, b)
	// A second direct link between the same two nodes.
	ca, cb := pipe()
	go b.Accept(context.Background(), cb)
	if _, err := a.Connect(context.Background(), ca); !errors.Is(err, ErrDuplicatePeer) {
		t.Fatalf("second link: %v, want ErrDuplicatePeer", err)
	}
	// A node connected to itself.
	s1, s2 := pipe()
	go a.Accept(context.Background(), s2)
	if _, err := a.Connect(context.Background(), s1); !errors.Is(err, ErrSelf) && !errors.Is(err, ErrDuplicatePeer) {
		t.Fatalf("self link: %v, want ErrSelf", err)
	}
	if len(a.Peers()) != 1 {
		t.Fatalf("a has %d peers", len(a.Peers()))
	}
}

func TestMaxPeers(t *testing.T) {
	hub := newExchange(t, &Config{MaxPeers: 1})
	link(t, newExchange(t, nil), hub)
	ca, cb := pipe()
	go hub.Accept(context.Background(), cb)
	if _, err := newExchange(t, nil).Connect(context.Background(), ca); !errors.Is(err, ErrPeerFull) {
		t.Fatalf("second peer beyond MaxPeers: %v, want ErrPeerFull", err)
	}
	if len(hub.Peers()) != 1 {
		t.Fatalf("hub has %d peers", len(hub.Peers()))
	}
}

func TestCloseEndsEverything(t *testing.T) {
	hub, l := star(t, 3, nil)
	if _, err := l[0].GetNewPeer(context.Background()); err != nil {
		t.Fatal(err)
	}
	hub.Close()
	for _, e := range l {
		deadline := time.Now().Add(5 * time.Second)
		for len(e.Peers()) > 1 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if _, err := hub.GetNewPeer(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("GetNewPeer after Close: %v", err)
	}
	for range hub.Events() {
	}
}

// Serve runs the incoming side for every connection a listener accepts and
// sends the data streams to Incoming; Close ends it with nil and closes
// the listener.
func TestServe(t *testing.T) {
	nw := memnet.NewNetwork()
	ln, err := nw.Listen("relay")
	if err != nil {
		t.Fatal(err)
	}
	srv := newExchange(t, nil)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for range 2 {
		cl := newExchange(t, nil)
		c, err := nw.Dial("relay")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := cl.Connect(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		writeLine(t, conn, "hi")
		select {
		case sc := <-srv.Incoming():
			if line := readLine(t, sc); line != "hi" {
				t.Fatalf("got %q", line)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Serve handed over no data stream")
		}
	}
	// A bad client is reported and does not stop Serve.
	bad, _ := nw.Dial("relay")
	bad.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	srv.Close()
	if err := <-served; err != nil {
		t.Fatalf("Serve after Close: %v", err)
	}
	if _, err := nw.Dial("relay"); err == nil {
		t.Fatal("the listener is still open")
	}
}

// A stream of a link Serve accepted waits for room on Incoming rather than
// being dropped: with room for one, three links' streams all arrive, each
// carrying its own line.
func TestServeWaitsForRoomOnIncoming(t *testing.T) {
	nw := memnet.NewNetwork()
	ln, err := nw.Listen("srv")
	if err != nil {
		t.Fatal(err)
	}
	srv := newExchange(t, &Config{IncomingBuffer: 1})
	go srv.Serve(ln)
	want := map[string]bool{}
	for i := range 3 {
		cl := newExchange(t, nil)
		c, err := nw.Dial("srv")
		if err != nil {
			t.Fatal(err)
		}
		conn, err := cl.Connect(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		line := fmt.Sprintf("from client %d", i)
		writeLine(t, conn, line)
		want[line] = true
	}
	for range 3 {
		select {
		case sc := <-srv.Incoming():
			line := readLine(t, sc)
			if !want[line] {
				t.Fatalf("got %q, want one of %v", line, want)
			}
			delete(want, line)
		case <-time.After(5 * time.Second):
			t.Fatalf("streams never arrived: %v", want)
		}
	}
}

// Each failed handshake is reported once: to the caller of Connect or
// Accept by the returned error (no EventError besides), and by Serve,
// which has no caller to tell, as one EventError.
func TestFailedHandshakeReportedOnce(t *testing.T) {
	errorsOf := func(e *Exchange) (n int) {
		for {
			select {
			case ev := <-e.Events():
				if ev.Type == EventError {
					n++
				}
			case <-time.After(200 * time.Millisecond):
				return n
			}
		}
	}
	nw := memnet.NewNetwork()
	ln, err := nw.Listen("srv")
	if err != nil {
		t.Fatal(err)
	}
	srv := newExchange(t, nil)
	other, err := New("another-network", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go srv.Serve(ln)
	c, err := nw.Dial("srv")
	if err != nil {
		t.Fatal(err)
	}
	_, err = other.Connect(context.Background(), c)
	var nm *NetworkMismatchError
	if !errors.Is(err, ErrNetworkMismatch) || !errors.As(err, &nm) || len(nm.Theirs) != 1 || nm.Ours == nm.Theirs[0] {
		t.Fatalf("Connect across networks: %v", err) // the error names both networks, for the command to say
	}
	if n := errorsOf(other); n != 0 {
		t.Fatalf("the connecting side got %d error events besides the returned error", n)
	}
	if n := errorsOf(srv); n != 1 {
		t.Fatalf("Serve reported the failed handshake %d times, want 1", n)
	}
	// Accept called directly returns the failure and reports nothing else.
	a, b := memnet.Pipe("a", "b")
	go other.Connect(context.Background(), a)
	if _, err := srv.Accept(context.Background(), b); !errors.Is(err, ErrNetworkMismatch) {
		t.Fatalf("Accept across networks: %v", err)
	}
	if n := errorsOf(srv); n != 0 {
		t.Fatalf("Accept's failure was also reported %d times as an event", n)
	}
}
