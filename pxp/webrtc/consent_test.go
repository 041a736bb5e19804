package webrtc

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/pion/stun/v4"
	"github.com/pion/transport/v5"
)

func stunBytes(t *testing.T, typ stun.MessageType) []byte {
	t.Helper()
	m, err := stun.Build(stun.TransactionID, typ, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

// channelData wraps b as TURN ChannelData on channel 0x4001.
func channelData(b []byte) []byte {
	return append([]byte{0x40, 0x01, byte(len(b) >> 8), byte(len(b))}, b...)
}

func TestIsBindingRequest(t *testing.T) {
	req := stunBytes(t, stun.BindingRequest)
	for _, tc := range []struct {
		name string
		b    []byte
		want bool
	}{
		{"binding request", req, true},
		{"binding request in ChannelData", channelData(req), true},
		{"binding success", stunBytes(t, stun.BindingSuccess), false},
		{"binding indication", stunBytes(t, stun.NewType(stun.MethodBinding, stun.ClassIndication)), false},
		{"TURN refresh request", stunBytes(t, stun.NewType(stun.MethodRefresh, stun.ClassRequest)), false},
		{"DTLS record", append([]byte{23, 0xfe, 0xfd}, make([]byte, 30)...), false},
		{"DTLS in ChannelData", channelData(append([]byte{23, 0xfe, 0xfd}, make([]byte, 30)...)), false},
		{"short", req[:19], false},
		{"no magic cookie", append(append([]byte{0, 1, 0, 0}, 1, 2, 3, 4), make([]byte, 12)...), false},
	} {
		if got := isBindingRequest(tc.b); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
}

// The pacer holds nothing while ICE connects; once settled, the
// controlling side's checks go out at most once per interval and the
// controlled side's not at all; other packets always pass.
func TestConsentPacer(t *testing.T) {
	req, resp := stunBytes(t, stun.BindingRequest), stunBytes(t, stun.BindingSuccess)
	dtls := append([]byte{23, 0xfe, 0xfd}, make([]byte, 30)...)
	synctest.Test(t, func(t *testing.T) {
		p := &consentPacer{every: 5 * time.Second}
		for i := range 10 {
			if !p.allow(req) {
				t.Fatalf("check %d held while connecting", i)
			}
		}
		p.settle(true)
		if !p.allow(req) {
			t.Fatal("the first check after settling was held")
		}
		time.Sleep(4900 * time.Millisecond)
		if p.allow(req) || p.allow(channelData(req)) {
			t.Fatal("a check went out 4.9 s after the last, interval 5 s")
		}
		if !p.allow(resp) || !p.allow(dtls) {
			t.Fatal("an answer or data was held")
		}
		time.Sleep(100 * time.Millisecond)
		if !p.allow(channelData(req)) {
			t.Fatal("a check was held 5 s after the last")
		}
		if sent, held := p.counts(); sent != 2 || held != 2 {
			t.Fatalf("counts %d sent, %d held; want 2, 2", sent, held)
		}

		c := &consentPacer{every: 5 * time.Second}
		c.settle(false)
		for range 3 {
			if c.allow(req) {
				t.Fatal("the controlled side sent a check once settled")
			}
			time.Sleep(10 * time.Second)
		}
		if !c.allow(resp) {
			t.Fatal("the controlled side's answer was held")
		}

		off := &consentPacer{} // ConsentInterval negative: pion's schedule
		off.settle(true)
		if first, second := off.allow(req), off.allow(req); !first || !second {
			t.Fatal("an unpaced link held a check")
		}
		var none *consentPacer
		if !none.allow(req) {
			t.Fatal("a nil pacer held a check")
		}
	})
}

func TestConsentConfig(t *testing.T) {
	if _, err := New(&Config{ConsentInterval: 5 * time.Second, ConsentTimeout: 10 * time.Second}); err == nil {
		t.Fatal("a ConsentTimeout of two intervals was taken")
	}
	if _, err := New(&Config{ConsentTimeout: -time.Second}); err == nil {
		t.Fatal("a negative ConsentTimeout was taken")
	}
	if _, err := New(&Config{ConsentInterval: -1}); err != nil {
		t.Fatalf("pion's schedule refused: %v", err)
	}
	d := DefaultConfig()
	if d.ConsentInterval != DefaultConsentInterval || d.ConsentTimeout != DefaultConsentTimeout {
		t.Fatalf("defaults %v, %v", d.ConsentInterval, d.ConsentTimeout)
	}
	if dis, failed := iceTimeouts(30 * time.Second); dis+failed != 30*time.Second || dis != 15*time.Second {
		t.Fatalf("iceTimeouts(30s) = %v, %v", dis, failed)
	}
}

// muteNet is a network whose sockets drop every write while muted: a host
// that vanished without a word.
type muteNet struct {
	transport.Net
	muted *atomic.Bool
}

func (n muteNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &muteConn{UDPConn: c, muted: n.muted}, nil
}

type muteConn struct {
	transport.UDPConn
	muted *atomic.Bool
}

func (c *muteConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if c.muted.Load() {
		return len(p), nil
	}
	return c.UDPConn.WriteTo(p, addr)
}

func (c *muteConn) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	if c.muted.Load() {
		return len(p), nil
	}
	return c.UDPConn.WriteToUDP(p, addr)
}

func (c *muteConn) WriteMsgUDP(p, oob []byte, addr *net.UDPAddr) (int, int, error) {
	if c.muted.Load() {
		return len(p), len(oob), nil
	}
	return c.UDPConn.WriteMsgUDP(p, oob, addr)
}

// muted gives u a network that can be silenced.
func muted(t *testing.T, u *Upgrader) *atomic.Bool {
	t.Helper()
	if _, err := u.nets.get(); err != nil {
		t.Fatal(err)
	}
	m := new(atomic.Bool)
	u.nets.mu.Lock()
	u.nets.net = muteNet{Net: u.nets.net, muted: m}
	u.nets.mu.Unlock()
	return m
}

// upgradePair runs one upgrade between ua (the initiator, ICE
// controlling) and ub, signals passed in memory, and returns both
// sessions and their links, the first message (from b) read.
func upgradePair(t *testing.T, ua, ub *Upgrader) (sa, sb *session, ca, cb net.Conn) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	toA, toB := make(chan json.RawMessage, 256), make(chan json.RawMessage, 256)
	b, err := ub.Start(ctx, false, func(m json.RawMessage) error { toA <- m; return nil })
	if err != nil {
		t.Fatal(err)
	}
	a, err := ua.Start(ctx, true, func(m json.RawMessage) error { toB <- m; return nil })
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	pump := func(in chan json.RawMessage, to interface{ Signal(json.RawMessage) error }) {
		defer wg.Done()
		for {
			select {
			case m := <-in:
				to.Signal(m)
			case <-stop:
				return
			}
		}
	}
	wg.Add(2)
	go pump(toB, b)
	go pump(toA, a)
	defer func() { close(stop); wg.Wait() }()
	type res struct {
		c   net.Conn
		err error
	}
	bc := make(chan res, 1)
	go func() {
		c, err := b.Conn(ctx)
		if err == nil {
			_, err = c.Write([]byte("hello"))
		}
		bc <- res{c, err}
	}()
	ca, err = a.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r := <-bc
	if r.err != nil {
		t.Fatal(r.err)
	}
	buf := make([]byte, 5)
	if _, err := io.ReadFull(ca, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("first message %q, %v", buf, err)
	}
	t.Cleanup(func() { ca.Close(); r.c.Close() })
	return a.(*session), b.(*session), ca, r.c
}

// An idle link lives past ConsentTimeout on the controlling side's paced
// checks alone: the controlled side sends none, and both still hear each
// other.
func TestIdleLinkLivesOnPacedChecks(t *testing.T) {
	cfg := &Config{Loopback: true, ConsentInterval: 2 * time.Second, ConsentTimeout: 6 * time.Second}
	ua, _ := New(cfg)
	ub, _ := New(cfg)
	sa, sb, ca, cb := upgradePair(t, ua, ub)
	// Until the controlling side has let out five checks: 8 s after the
	// first, past the 6 s in which a side that heard nothing would fail
	// the link.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if sent, _ := sa.pace.counts(); sent >= 5 {
			break
		}
		if time.Now().After(deadline) {
			sent, held := sa.pace.counts()
			t.Fatalf("the controlling side let out %d checks in 30 s (%d held)", sent, held)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if sent, held := sb.pace.counts(); sent != 0 || held < 2 {
		t.Fatalf("the controlled side let out %d checks and held %d; want 0 and pion's own (>= 2)", sent, held)
	}
	for _, c := range []struct{ from, to net.Conn }{{ca, cb}, {cb, ca}} {
		if _, err := c.from.Write([]byte("still here")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 10)
		c.to.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadFull(c.to, buf); err != nil || string(buf) != "still here" {
			t.Fatalf("after the idle time: %q, %v", buf, err)
		}
	}
}

// A peer that goes silent without closing (its host gone) is noticed
// within ConsentTimeout, on either side: the link's Read returns
// ErrConsentLost, and the other side's link ends too.
func TestSilentPeerClosesLink(t *testing.T) {
	for _, silent := range []string{"controlled", "controlling"} {
		t.Run(silent+" side silent", func(t *testing.T) {
			cfg := &Config{Loopback: true, ConsentInterval: time.Second, ConsentTimeout: 3 * time.Second}
			ua, _ := New(cfg)
			ub, _ := New(cfg)
			mute := muted(t, ub)
			if silent == "controlling" {
				mute = muted(t, ua)
			}
			_, _, ca, cb := upgradePair(t, ua, ub)
			hearing, quiet := ca, cb // the side that keeps talking reads
			if silent == "controlling" {
				hearing, quiet = cb, ca
			}
			mute.Store(true)
			errc := make(chan error, 1)
			go func() {
				_, err := hearing.Read(make([]byte, 16))
				errc <- err
			}()
			select {
			case err := <-errc:
				if !errors.Is(err, ErrConsentLost) {
					t.Fatalf("the link ended with %v, want ErrConsentLost", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("a silent peer not noticed in 20 s, ConsentTimeout 3 s")
			}
			// The silent side hears the link close, or fails it itself.
			go func() {
				_, err := quiet.Read(make([]byte, 16))
				errc <- err
			}()
			select {
			case err := <-errc:
				if err == nil {
					t.Fatal("the silent side read data")
				}
			case <-time.After(20 * time.Second):
				t.Fatal("the silent side's link still open 20 s on")
			}
		})
	}
}

// Through an Exchange: a WebRTC peer that goes silent is dropped from
// Peers within ConsentTimeout, its slot freed.
func TestSilentPeerLeavesExchange(t *testing.T) {
	cfg := &Config{Loopback: true, ConsentInterval: time.Second, ConsentTimeout: 3 * time.Second}
	ub, _ := New(cfg)
	uc, _ := New(cfg)
	mute := muted(t, uc)
	hub := benchNode(t, nil, false, 0)
	b, c := benchNode(t, ub, true, 0), benchNode(t, uc, true, 0)
	link(t, b, hub)
	link(t, c, hub)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	bc, err := b.GetNewPeer(ctx)
	if err != nil || bc.Transport() != "webrtc" {
		t.Fatalf("GetNewPeer: %v", err)
	}
	webrtcPeers := func() (n int) {
		for _, p := range b.Peers() {
			if p.Transport() == "webrtc" {
				n++
			}
		}
		return n
	}
	if n := webrtcPeers(); n != 1 {
		t.Fatalf("%d WebRTC peers before the silence", n)
	}
	mute.Store(true)
	deadline := time.Now().Add(20 * time.Second)
	for webrtcPeers() != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the silent WebRTC peer still listed 20 s on, ConsentTimeout 3 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}
