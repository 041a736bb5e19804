package swarm

import (
	"errors"
	"io"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/wire"
)

// A second link from a peer already linked: within crossingWindow of the
// first's handshakes it is a crossing dial, and the link the peer with the
// greater peer id dialed stays; later it is a dial again, and the old link
// stays whoever's id is greater. B's id is the greater here, so the rule
// for crossing dials alone would keep B's second link and close A's.
func TestSecondLinkFromALinkedPeer(t *testing.T) {
	for _, tc := range []struct {
		name     string
		after    time.Duration
		keepsOld bool
	}{
		{"crossing", time.Second, false},
		{"dialed again", 2 * crossingWindow, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLab(t)
				ih := [20]byte{0xdd}
				var low, high [20]byte
				copy(low[:], "-PX0001-\x00")
				copy(high[:], "-PX0001-\xff")
				a := l.node("10.0.0.1", ih, Config{PeerID: low})
				b := l.node("10.0.0.2", ih, Config{PeerID: high})
				a.s.AddPeer(b.addr(), SourceManual)
				waitEvent(t, a.s, EventConnected, func(ev Event) bool { return ev.Peer == b.addr() })
				time.Sleep(tc.after)
				synctest.Wait()

				// B's second link, from another port of its address, as
				// far as its handshake.
				nc, err := l.dial("10.0.0.2", a.addr().String())
				if err != nil {
					t.Fatal(err)
				}
				defer nc.Close()
				hs := wire.Handshake{InfoHash: ih, PeerID: high}
				hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
				if _, err := nc.Write(hs.Append(nil)); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(nc, make([]byte, 68)); err != nil {
					t.Fatalf("A's handshake: %v", err)
				}
				synctest.Wait()
				old := false
				for _, p := range a.s.Peers() {
					if p.Addr == b.addr() && p.Outgoing {
						old = true
					}
				}
				if old != tc.keepsOld {
					t.Fatalf("A's first link to B kept: %v, want %v (A's peers %+v)", old, tc.keepsOld, a.s.Peers())
				}
				// The second link: closed at once when the old one stays,
				// and still open (its extended handshake to come) when
				// it took the old one's place.
				nc.SetReadDeadline(time.Now().Add(time.Second))
				_, err = nc.Read(make([]byte, 1))
				closed := errors.Is(err, io.EOF)
				if closed != tc.keepsOld {
					t.Fatalf("A's end of the second link: read %v; want it closed: %v", err, tc.keepsOld)
				}
				if !tc.keepsOld {
					ev := waitEvent(t, a.s, EventDisconnected, func(ev Event) bool { return ev.Peer == b.addr() })
					if !errors.Is(ev.Err, errDuplicate) {
						t.Fatalf("A's first link ended with %v, want errDuplicate", ev.Err)
					}
				}
				nc.Close()
				synctest.Wait()
			})
		})
	}
}

// Two links with one peer id from two IPs are not doubles: a multihomed
// peer (libtorrent dialing from another address than it listens on) keeps
// a link on each. From one IP, the second goes.
func TestDedupeOnlyFromOneIP(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{9, 1}
		a := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		link := func(ip string) {
			c, err := l.dial(ip, a.addr().String())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}}
			go io.Copy(io.Discard, c)
			c.Write(append(ltepHandshake(ih, "-XX0001-samepeerid00"), wire.AppendExtended(nil, 0, ext.Bytes())...))
		}
		link("10.0.0.8")
		link("10.0.0.9")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(a.s.Peers()); n != 2 {
			t.Fatalf("%d links from two IPs with one peer id, want 2: %+v", n, a.s.Peers())
		}
		link("10.0.0.9")
		time.Sleep(time.Second)
		synctest.Wait()
		if n := len(a.s.Peers()); n != 2 {
			t.Fatalf("%d links after a second from one IP, want 2: %+v", n, a.s.Peers())
		}
	})
}
