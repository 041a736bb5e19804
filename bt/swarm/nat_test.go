package swarm

import (
	"net/netip"
	"testing"
	"testing/synctest"
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
