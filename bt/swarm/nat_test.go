package swarm

import (
	"io"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// Two peers agreeing on yourip make it the observed address (an event
// says so, once); a public port set before the handshake is the one peers
// learn to dial; connected events say who dialed.
func TestObservedAndPublicPort(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xae}
		a := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		b := l.node("10.0.0.2", ih, Config{})
		c := l.node("10.0.0.3", ih, Config{NoAZMP: true})
		b.s.SetPublicPort(7000)
		b.s.AddPeer(a.addr(), SourceManual)
		ev := waitEvent(t, a.s, EventConnected, nil)
		if want := netip.MustParseAddrPort("10.0.0.2:7000"); ev.Listen != want || ev.Outgoing {
			t.Fatalf("A saw B listen at %v (outgoing %v); want %v, incoming", ev.Listen, ev.Outgoing, want)
		}
		if ev := waitEvent(t, b.s, EventConnected, nil); !ev.Outgoing {
			t.Fatal("B's connected event does not say B dialed")
		}
		synctest.Wait()
		if a.s.Observed().IsValid() {
			t.Fatalf("one peer's yourip made %v observed", a.s.Observed())
		}
		c.s.AddPeer(a.addr(), SourceManual)
		ev = waitEvent(t, a.s, EventObserved, nil)
		if want := netip.MustParseAddrPort("10.0.0.1:6881"); ev.Peer != want || a.s.Observed() != want.Addr() {
			t.Fatalf("observed event %v, Observed %v; want %v", ev.Peer, a.s.Observed(), want)
		}
	})
}

// A peer that lists us back to ourselves, at the address its yourip says
// it sees us at and the port we tell, is not dialed: no dial of our own
// address, no rendezvous asking a relay for ourselves.
func TestOwnAddressFromPeersPEXNotDialed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{8, 8}
		a := l.node("10.0.0.1", ih, Config{NoAZMP: true})
		c, err := l.dial("10.0.0.9", a.addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The peer tells a it sees it at 198.51.100.7, then lists that
		// address with a's port, and one other peer.
		ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, YourIP: netip.MustParseAddr("198.51.100.7")}
		msgs := append(ltepHandshake(ih, "-XX0001-mirror000000"), wire.AppendExtended(nil, 0, ext.Bytes())...)
		own := netip.MustParseAddrPort("198.51.100.7:6881")
		other := netip.MustParseAddrPort("198.51.100.8:6881")
		payload, err := pex.Append(nil, &pex.Msg{Added: []pex.Peer{{Addr: own}, {Addr: other}}})
		if err != nil {
			t.Fatal(err)
		}
		msgs = wire.AppendExtended(msgs, utPexID, payload) // a's id for ut_pex
		go io.Copy(io.Discard, c)
		if _, err := c.Write(msgs); err != nil {
			t.Fatal(err)
		}
		ev := waitEvent(t, a.s, EventDiscovered, nil)
		time.Sleep(time.Second)
		synctest.Wait()
		if ev.Peer != other {
			t.Fatalf("discovered %v first, want only %v", ev.Peer, other)
		}
		if n := a.s.Stats().Learned[SourcePEX]; n != 1 {
			t.Fatalf("took %d peers from the PEX message, want 1 (not our own address)", n)
		}
	})
}
