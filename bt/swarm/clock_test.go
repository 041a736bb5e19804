package swarm

import (
	"testing"
	"testing/synctest"
	"time"
)

// On a clock sixty times faster than real time, BEP 11's minute between
// two PEX messages to a peer lasts a second, and events carry protocol
// time: a minute apart.
func TestScaledClock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xc1}
		clock := ScaledClock{Start: time.Now(), Scale: 60}
		cfg := Config{NoAZMP: true, Clock: clock}
		a := l.node("10.0.0.1", ih, cfg)
		b := l.node("10.0.0.2", ih, cfg)
		b.s.AddPeer(a.addr(), SourceManual)
		waitEvent(t, a.s, EventConnected, nil)
		sentToB := func() Event {
			return waitEventWithin(t, a.s, EventPEXSent, 5*time.Minute, func(ev Event) bool { return ev.Peer.Addr() == b.addr().Addr() })
		}
		l.node("10.0.0.3", ih, cfg).s.AddPeer(a.addr(), SourceManual)
		first := sentToB()
		start := time.Now()
		l.node("10.0.0.4", ih, cfg).s.AddPeer(a.addr(), SourceManual)
		second := sentToB()
		real := time.Since(start)
		if gap := second.Time.Sub(first.Time); gap < time.Minute || gap > time.Minute+5*time.Second {
			t.Fatalf("PEX messages %v apart in protocol time, want a minute", gap)
		}
		if real > 2*time.Second {
			t.Fatalf("the second message took %v of real time, want about a second", real)
		}
	})
}
