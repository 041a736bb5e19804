package swarm

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/mse"
)

// stranger listens on addr in the lab and runs serve on every connection.
func stranger(t *testing.T, l *lab, addr string, serve func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := l.nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(addr)
}

// A dialed peer that fails the handshakes is a dial-failed event whose
// Err says why, on the first failure and not after a timeout when the
// first bytes tell: a swarm of another infohash, an HTTP server, a PXP
// node, a peer that closes, one that says nothing.
func TestDialedHandshakeFailuresSayWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xd1}
		a := l.node("10.0.0.1", ih, Config{})
		other := l.node("10.0.0.2", [20]byte{0xd2}, Config{})
		httpd := stranger(t, l, "10.0.0.3:80", func(c net.Conn) {
			io.ReadFull(c, make([]byte, 10))
			io.WriteString(c, "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\n\r\n")
		})
		pxp := stranger(t, l, "10.0.0.4:7000", func(c net.Conn) {
			io.WriteString(c, "#PXP#\x01")
			io.Copy(io.Discard, c) // waits for ours, as a PXP node does
		})
		closer := stranger(t, l, "10.0.0.5:6881", func(net.Conn) {})
		silent := stranger(t, l, "10.0.0.6:6881", func(c net.Conn) { io.Copy(io.Discard, c) })
		for _, c := range []struct {
			peer  netip.AddrPort
			is    error
			words string
			after time.Duration // at most
		}{
			{other.addr(), ErrWrongInfoHash, fmt.Sprintf("for swarm %x", [20]byte{0xd2}), time.Second},
			{httpd, ErrNotBitTorrent, `answered "HTTP/1.1 400 Bad Request`, time.Second},
			{pxp, ErrNotBitTorrent, `answered "#PXP#\x01"`, time.Second},
			{closer, ErrClosedEarly, "before its BitTorrent handshake", time.Second},
			{silent, ErrHandshakeTimeout, "no BitTorrent handshake from the peer within 10s", DefaultHandshakeTimeout + time.Second},
		} {
			start := time.Now()
			a.s.AddPeer(c.peer, SourceManual)
			ev := waitEventWithin(t, a.s, EventDialFailed, 20*time.Second, func(ev Event) bool { return ev.Peer == c.peer })
			if !errors.Is(ev.Err, c.is) || !strings.Contains(ev.Err.Error(), c.words) || ev.Retry != RedialFirst || ev.Source != SourceManual {
				t.Errorf("dial of %v failed with %v (retry %v), want %v saying %q and a retry", c.peer, ev.Err, ev.Retry, c.is, c.words)
			}
			if d := time.Since(start); d > c.after {
				t.Errorf("dial of %v: the failure took %v, want at most %v", c.peer, d, c.after)
			}
		}
		// The other swarm saw a's handshake for a swarm it is not in: an
		// incoming link ended in its handshakes, never connected.
		ev := waitEvent(t, other.s, EventDisconnected, nil)
		if !ev.Handshaking || !errors.Is(ev.Err, ErrWrongInfoHash) || ev.Peer.Addr() != a.addr().Addr() || ev.Source != SourceIncoming {
			t.Errorf("the listener's event %+v, want a disconnected in the handshakes for a wrong infohash", ev)
		}
	})
}

// A peer that connects and fails the handshakes is a disconnected event
// with Handshaking set and an Err that says why.
func TestIncomingHandshakeFailuresSayWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xd3}
		a := l.node("10.0.0.1", ih, Config{})
		noise := make([]byte, 700)
		rand.Read(noise)
		for i, c := range []struct {
			name  string
			talk  func(net.Conn)
			is    error
			words string
		}{
			{"http", func(c net.Conn) {
				io.WriteString(c, "GET /announce HTTP/1.1\r\nHost: x\r\n\r\n")
				io.Copy(io.Discard, c)
			}, ErrNotBitTorrent, `opened with "GET /announce HTTP/1"`},
			{"pxp", func(c net.Conn) { io.WriteString(c, "#PXP#\x01"); io.Copy(io.Discard, c) }, ErrNotBitTorrent, `opened with "#PXP#\x01"`},
			{"mse for another swarm", func(c net.Conn) {
				mse.Initiate(c, [20]byte{0xee}, mse.CryptoRC4, nil, time.Now().Add(time.Minute))
			}, ErrWrongInfoHash, "MSE handshake is for another swarm"},
			{"plain for another swarm", func(c net.Conn) {
				c.Write(ltepHandshake([20]byte{0xee}, "-XX0001-"))
				io.Copy(io.Discard, c)
			}, ErrWrongInfoHash, fmt.Sprintf("for swarm %x", [20]byte{0xee})},
			{"noise", func(c net.Conn) { c.Write(noise); io.Copy(io.Discard, c) }, ErrMSEFailed, "no synchronisation"},
			{"closes", func(net.Conn) {}, ErrClosedEarly, "before its handshake"},
			{"half a handshake", func(c net.Conn) { c.Write(ltepHandshake(ih, "-XX0001-")[:30]) }, ErrClosedEarly, "30 bytes into its BitTorrent handshake"},
			{"silent", func(c net.Conn) { io.Copy(io.Discard, c) }, ErrHandshakeTimeout, "no handshake from the peer within 10s"},
		} {
			ip := fmt.Sprintf("10.1.0.%d", i+1)
			c0, err := l.dial(ip, a.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer c0.Close()
				c.talk(c0)
			}()
			ev := waitEventWithin(t, a.s, EventDisconnected, 20*time.Second, nil)
			if ev.Peer.Addr().String() != ip || !ev.Handshaking || !errors.Is(ev.Err, c.is) || !strings.Contains(ev.Err.Error(), c.words) {
				t.Errorf("%s: event %+v (%v), want %v saying %q", c.name, ev, ev.Err, c.is, c.words)
			}
			c0.Close()
		}
	})
}

// A peer added by hand at the swarm's own listen address is not dialed,
// and the swarm says so.
func TestOwnAddressAsPeerSaysWhy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		a := l.node("10.0.0.1", [20]byte{0xd4}, Config{})
		synctest.Wait() // Serve has recorded the address it listens on
		own := a.addr()
		a.s.AddPeer(own, SourceManual)
		ev := waitEvent(t, a.s, EventDialFailed, nil)
		if ev.Peer != own || !strings.Contains(ev.Err.Error(), "own listen address") {
			t.Fatalf("dial-failed %+v (%v), want its own address refused", ev, ev.Err)
		}
	})
}

// A flood of failing openings is reported within FailedOpeningEventRate:
// it cannot fill the Events channel, and an honest peer's connected event
// still comes.
func TestFailedOpeningsAreReportedWithinBounds(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xd5}
		a := l.node("10.0.0.1", ih, Config{EventBuffer: 2 * FailedOpeningEventBurst})
		for i := range 1000 {
			c, err := l.dial(fmt.Sprintf("10.2.%d.%d", i/250, i%250+1), a.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			go func() {
				defer c.Close()
				io.WriteString(c, "GET / HTTP/1.1\r\n\r\n")
				io.Copy(io.Discard, c)
			}()
		}
		synctest.Wait()
		honest := l.node("10.0.0.2", ih, Config{})
		honest.s.AddPeer(a.addr(), SourceManual)
		failed, connected := 0, false
		for deadline := time.After(10 * time.Second); !connected; {
			select {
			case ev := <-a.s.Events():
				switch {
				case ev.Type == EventDisconnected && ev.Handshaking:
					failed++
				case ev.Type == EventConnected:
					connected = true
				}
			case <-deadline:
				t.Fatalf("no connected event after the flood (%d failed openings reported)", failed)
			}
		}
		if failed > FailedOpeningEventBurst+1 || failed < FailedOpeningEventBurst {
			t.Errorf("%d of 1000 failed openings reported at once, want the burst, %d", failed, FailedOpeningEventBurst)
		}
		if st := a.s.Stats(); st.EventsDropped != 0 {
			t.Errorf("%d events dropped", st.EventsDropped)
		}
	})
}
