package pxp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/pxp/psk"
	"github.com/seed0021ed4d/pex/transport/ws"
)

func testKey(t testing.TB) *psk.Key {
	t.Helper()
	k, err := psk.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func keyed(t testing.TB, k *psk.Key, cfg *Config) *Exchange {
	t.Helper()
	if cfg == nil {
		cfg = &Config{}
	}
	cfg.NetworkKey = k
	return newExchange(t, cfg)
}

// tryLink runs Connect from a and Accept on b over a pipe and returns both
// errors.
func tryLink(t testing.TB, a, b *Exchange) (aerr, berr error) {
	t.Helper()
	ca, cb := memnet.Pipe("a", "b")
	errc := make(chan error, 1)
	go func() {
		_, err := b.Accept(context.Background(), cb)
		errc <- err
	}()
	_, aerr = a.Connect(context.Background(), ca)
	return aerr, <-errc
}

// Nodes sharing a key link, exchange data, and introduce one another:
// relayed, upgraded, and over a direct TCP dial; the transport carries
// none of PXP's bytes in the clear.
func TestNetworkKeyLinksAndIntroduces(t *testing.T) {
	k := testKey(t)
	t.Run("pipe", func(t *testing.T) {
		a, b := keyed(t, k, nil), keyed(t, k, nil)
		ra, rb := memnet.Pipe("a", "b")
		ta := &teeConn{Conn: ra}
		var bc *Conn
		done := make(chan error, 1)
		go func() {
			var err error
			bc, err = b.Accept(context.Background(), rb)
			done <- err
		}()
		ac, err := a.Connect(context.Background(), ta)
		if err != nil || <-done != nil {
			t.Fatalf("Connect %v", err)
		}
		writeLine(t, ac, "secret line")
		if got := readLine(t, bc); got != "secret line" {
			t.Fatalf("got %q", got)
		}
		wire, _ := hexBytes(ta.transcript())
		if !bytes.HasPrefix(wire, []byte(psk.Preamble)) {
			t.Fatalf("the link opens with %q", wire[:min(len(wire), 5)])
		}
		for _, clear := range []string{"#PXP#", "hello", testNet, "secret line", a.ID()} {
			if bytes.Contains(wire, []byte(clear)) {
				t.Errorf("%q travels in the clear", clear)
			}
		}
		if ac.Peer().NetConn() != ta || ac.Transport() != "memnet" {
			t.Errorf("NetConn %T, transport %s", ac.Peer().NetConn(), ac.Transport())
		}
	})
	t.Run("relayed and upgraded", func(t *testing.T) {
		hub := keyed(t, k, nil)
		up := newFakeUpgrader()
		b, c := keyed(t, k, &Config{Upgrader: up}), keyed(t, k, &Config{Upgrader: up})
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
		cc := <-c.Incoming()
		writeLine(t, bc, "over the upgrade")
		if got := readLine(t, cc); got != "over the upgrade" {
			t.Fatalf("got %q", got)
		}
		if _, ok := bc.Peer().conn.(*magicConn).Conn.(*psk.Conn); !ok {
			t.Error("the upgraded link is not keyed")
		}
		// And relayed, without an upgrader.
		d, e := keyed(t, k, nil), keyed(t, k, nil)
		link(t, d, hub)
		link(t, e, hub)
		for {
			dc, err := d.GetNewPeer(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if dc.Peer().ID() != e.ID() {
				continue
			}
			if dc.Transport() != "relay" {
				t.Fatalf("transport %s", dc.Transport())
			}
			break
		}
	})
	t.Run("the upgrade proves the key", func(t *testing.T) {
		// c is given another key once linked to the hub, as if it had
		// only seen the signaling: its upgraded link is refused.
		hub := keyed(t, k, nil)
		up := newFakeUpgrader()
		b, c := keyed(t, k, &Config{Upgrader: up}), keyed(t, k, &Config{Upgrader: up})
		link(t, b, hub)
		link(t, c, hub)
		c.cfg.NetworkKey = testKey(t)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		conn, err := b.GetNewPeer(ctx)
		if err == nil && conn.Transport() == "webrtc" {
			t.Fatal("an upgraded link without the key")
		}
		if errors.Is(err, ErrNetworkKey) {
			return
		}
		// Else the refusal was told as an event, by the requester or the
		// answerer, whichever ended the relayed session first.
		for {
			select {
			case ev := <-b.Events():
				if ev.Type == EventError && errors.Is(ev.Err, ErrNetworkKey) {
					return
				}
			case ev := <-c.Events():
				if ev.Type == EventError && errors.Is(ev.Err, ErrNetworkKey) {
					return
				}
			case <-ctx.Done():
				t.Fatalf("no network-key error (GetNewPeer: %v)", err)
			}
		}
	})
	t.Run("tcp and dial-back", func(t *testing.T) {
		var d net.Dialer
		x := keyed(t, k, &Config{Dialer: d.DialContext})
		y := keyed(t, k, nil)
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go x.Serve(ln)
		yl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go y.Serve(yl)
		// z, advertising its address, is introduced to x by y: x dials it.
		z := keyed(t, k, nil)
		zl, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go z.Serve(zl)
		z.SetAdvertiseAddr(zl.Addr().String())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for _, from := range []*Exchange{x, z} {
			c, err := net.Dial("tcp", yl.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			if _, err := from.Connect(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		xc, err := x.GetNewPeer(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if xc.Transport() != "tcp" || xc.Peer().ID() != z.ID() {
			t.Fatalf("introduced over %s to %q", xc.Transport(), xc.Peer().ID())
		}
		if _, ok := xc.Peer().NetConn().(*net.TCPConn); !ok {
			t.Errorf("NetConn is %T", xc.Peer().NetConn())
		}
		ok, err := x.DialBack(ctx, ln.Addr().(*net.TCPAddr).Port)
		if err != nil || !ok {
			t.Fatalf("dial-back: %v %v", ok, err)
		}
		// A keyless node listening there does not pass a keyed dial-back.
		plain := newExchange(t, nil)
		pl, _ := net.Listen("tcp", "127.0.0.1:0")
		go plain.Serve(pl)
		if ok, err := x.DialBack(ctx, pl.Addr().(*net.TCPAddr).Port); ok || err != nil {
			t.Fatalf("dial-back to a keyless node: %v %v", ok, err)
		}
	})
	t.Run("websocket", func(t *testing.T) {
		a, b := keyed(t, k, nil), keyed(t, k, nil)
		got := make(chan *Conn, 1)
		srv := httptest.NewServer(&ws.Handler{Serve: func(c *ws.Conn) {
			bc, err := b.Accept(context.Background(), c)
			if err != nil {
				t.Error(err)
				return
			}
			got <- bc
		}})
		defer srv.Close()
		c, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"))
		if err != nil {
			t.Fatal(err)
		}
		ac, err := a.Connect(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		bc := <-got
		if ac.Transport() != "ws" || bc.Transport() != "ws" {
			t.Fatalf("transports %s %s", ac.Transport(), bc.Transport())
		}
		writeLine(t, bc, "over ws")
		if got := readLine(t, ac); got != "over ws" {
			t.Fatalf("got %q", got)
		}
		b.Close() // closes the WebSocket before the server is closed
	})
}

func hexBytes(s string) ([]byte, error) {
	var out []byte
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		b := make([]byte, len(l)/2)
		for i := range b {
			var v byte
			for _, c := range l[2*i : 2*i+2] {
				v <<= 4
				switch {
				case c >= '0' && c <= '9':
					v |= byte(c - '0')
				default:
					v |= byte(c-'a') + 10
				}
			}
			b[i] = v
		}
		out = append(out, b...)
	}
	return out, nil
}

// A keyless node, a node with another key, and a peer speaking plain PXP
// (as the JS reference does) are refused on both sides with
// ErrNetworkKey, and the keyed node's other link carries on.
func TestNetworkKeyRefusals(t *testing.T) {
	k := testKey(t)
	node, friend := keyed(t, k, nil), keyed(t, k, nil)
	nc, fc := link(t, node, friend)
	check := func(what string) {
		t.Helper()
		writeLine(t, nc, "still there after "+what)
		if got := readLine(t, fc); got != "still there after "+what {
			t.Fatalf("got %q", got)
		}
		if len(node.Peers()) != 1 {
			t.Fatalf("%s: node has %d peers", what, len(node.Peers()))
		}
	}
	wantKeyErr := func(what string, err error, reason error) {
		t.Helper()
		var nk *NetworkKeyError
		if !errors.Is(err, ErrNetworkKey) || !errors.As(err, &nk) || !errors.Is(err, reason) {
			t.Errorf("%s: %v, want ErrNetworkKey for %v", what, err, reason)
		}
	}
	for _, tc := range []struct {
		name  string
		other *Exchange
		// why each side says the other failed, as dialer and as acceptor
		ours, theirs error
	}{
		{"keyless", newExchange(t, nil), psk.ErrPeerKeyless, ErrPeerKeyed},
		{"another key", keyed(t, testKey(t), nil), psk.ErrKeyMismatch, psk.ErrKeyMismatch},
	} {
		aerr, berr := tryLink(t, node, tc.other)
		wantKeyErr(tc.name+": node dialing", aerr, tc.ours)
		wantKeyErr(tc.name+": other accepting", berr, tc.theirs)
		aerr, berr = tryLink(t, tc.other, node)
		wantKeyErr(tc.name+": other dialing", aerr, tc.theirs)
		wantKeyErr(tc.name+": node accepting", berr, tc.ours)
		if len(tc.other.Peers()) != 0 {
			t.Errorf("%s: the other node holds a link", tc.name)
		}
		check(tc.name)
	}
	// A peer speaking plain PXP as the reference does (magic and hello at
	// once), on a Serve listener: the node reports the refusal as an event.
	nw := memnet.NewNetwork()
	ln, _ := nw.Listen("node")
	go node.Serve(ln)
	c, _ := nw.DialFrom("js", "node")
	rp := newRawPeer(t, c)
	rp.start(`[1,{"pxp":true,"relay":true,"webrtc":true},["` + testNet + `"]]`)
	head := make([]byte, 5)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, head); err != nil || string(head) != psk.Preamble {
		t.Fatalf("the node opened with %q %v", head, err)
	}
	if _, err := io.Copy(io.Discard, c); err != nil {
		t.Fatalf("the node did not close: %v", err)
	}
	ev := waitEvent(t, node, EventError, func(ev Event) bool { return errors.Is(ev.Err, ErrNetworkKey) })
	wantKeyErr("reference", ev.Err, psk.ErrPeerKeyless)
	if !strings.Contains(ev.Err.Error(), "memnet js") {
		t.Errorf("the event does not name the peer: %v", ev.Err)
	}
	check("reference")
	if node.Stats().ProtocolErrors["network-key"] < 3 {
		t.Errorf("protocol errors %v", node.Stats().ProtocolErrors)
	}
}

// An outsider sending garbage or an oversized handshake frame is cut at
// once, without the node reading what it announced; a silent one is cut
// at HandshakeTimeout, and neither keeps a handshake slot past it; a key
// holder sending a frame that does not open (or an oversized one) loses
// its link, alone.
func TestNetworkKeyHostilePeersBounded(t *testing.T) {
	k := testKey(t)
	node := keyed(t, k, &Config{HandshakeTimeout: 300 * time.Millisecond, MaxHandshakes: 4, MaxHandshakesPerIP: 4})
	friend := keyed(t, k, nil)
	nc, fc := link(t, friend, node)
	for _, in := range [][]byte{
		[]byte("GET / HTTP/1.1\r\n\r\n"),
		append([]byte(psk.Preamble), 0xff, 0xff),
		append(append([]byte(psk.Preamble), 0, 48), make([]byte, 48)...),
	} {
		a, b := memnet.Pipe("hostile", "node")
		go a.Write(in)
		start := time.Now()
		_, err := node.Accept(context.Background(), b)
		if err == nil || time.Since(start) > 200*time.Millisecond {
			t.Errorf("%.20q: %v after %v", in, err, time.Since(start))
		}
		a.Close()
	}
	// Silent outsiders, more than the handshake budget: each is cut by
	// HandshakeTimeout (or to make room), and a keyed peer still gets in.
	var conns []net.Conn
	errs := make(chan error, 8)
	start := time.Now()
	for range 8 {
		a, b := memnet.Pipe("silent", "node")
		conns = append(conns, a)
		go func() {
			_, err := node.Accept(context.Background(), b)
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err == nil {
			t.Error("a silent peer got a link")
		}
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("silent peers held their handshakes %v", d)
	}
	for _, c := range conns {
		c.Close()
	}
	other := keyed(t, k, nil)
	link(t, other, node)

	// A key holder's bad frames: its link alone ends.
	for _, frame := range [][]byte{{0, 40}, {0xff, 0xff}} {
		a, b := memnet.Pipe("holder", "node")
		done := make(chan error, 1)
		go func() {
			_, err := node.Accept(context.Background(), b)
			done <- err
		}()
		kc, err := psk.Client(context.Background(), a, k)
		if err != nil {
			t.Fatal(err)
		}
		garbage := append(frame, bytes.Repeat([]byte{0x55}, int(binary.BigEndian.Uint16(frame)))...)
		kc.NetConn().Write(garbage)
		if err := <-done; !errors.Is(err, psk.ErrBadFrame) {
			t.Errorf("bad frame of %d: %v", len(garbage), err)
		}
		a.Close()
	}
	writeLine(t, nc, "unharmed")
	if got := readLine(t, fc); got != "unharmed" {
		t.Fatalf("got %q", got)
	}
}

// Refused peers leave nothing behind: after many keyless and wrong-key
// attempts over TCP, the keyed node's goroutines and file descriptors are
// back where they were.
func TestNetworkKeyRefusalsLeakNothing(t *testing.T) {
	k := testKey(t)
	node := keyed(t, k, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go node.Serve(ln)
	friend := keyed(t, k, nil)
	c, _ := net.Dial("tcp", ln.Addr().String())
	fc, err := friend.Connect(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	nc := <-node.Incoming()
	time.Sleep(50 * time.Millisecond)
	goroutines, fds := runtime.NumGoroutine(), openFDs(t)
	for i := range 40 {
		var other *Exchange
		if i%2 == 0 {
			other = newExchange(t, nil)
		} else {
			other = keyed(t, testKey(t), nil)
		}
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := other.Connect(context.Background(), c); !errors.Is(err, ErrNetworkKey) {
			t.Fatalf("attempt %d: %v", i, err)
		}
		other.Close()
	}
	writeLine(t, fc, "after 40 refusals")
	if got := readLine(t, nc); got != "after 40 refusals" {
		t.Fatalf("got %q", got)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		g, f := runtime.NumGoroutine(), openFDs(t)
		if g <= goroutines && f <= fds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("goroutines %d (were %d), fds %d (were %d)", g, goroutines, f, fds)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func openFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}

var _ http.Handler = (*ws.Handler)(nil)
