package swarm

import (
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/utp"
)

// Two peers behind firewalls, one of them without ut_holepunch, so BEP
// 55 cannot join them. b links to the relay after a filler peer f, so
// that the relay's first PEX message to b names f and its next is a
// minute away: b cannot learn a from PEX's pace within the test. When a
// comes, the relay's first message to it names b; with introductions, b
// is sent a message naming a at that moment, the two dial each other at
// once, and their uTP SYNs cross the firewalls. Without, a's dial dies
// at b's firewall and nothing else happens.
func TestIntroductionJoinsPeerWithoutHolepunch(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	for _, on := range []bool{true, false} {
		name := "introductions"
		if !on {
			name = "no-introductions"
		}
		t.Run(name, func(t *testing.T) {
			ih := [20]byte{9, 9}
			noTCP := map[uint16]bool{}
			r := newHPNode(t, ih, false, nil, HolepunchConfig{NoIntroductions: !on}, false)
			// The filler takes no PEX: it tells b of no one.
			f := newHPNode(t, ih, false, nil, HolepunchConfig{}, true)
			f.s.AddPeer(r.ap, SourceManual)
			if !until(10*time.Second, func() bool { _, ok := r.linkTo(f); return ok }) {
				t.Fatal("the filler did not link to the relay")
			}
			b := newHPNode(t, ih, true, noTCP, HolepunchConfig{Disable: true}, false)
			a := newHPNode(t, ih, true, noTCP, HolepunchConfig{}, false)
			noTCP[a.ap.Port()], noTCP[b.ap.Port()] = true, true
			b.s.AddPeer(r.ap, SourceManual)
			// b's first message from the relay, naming f.
			if !until(10*time.Second, func() bool { return len(b.events(EventPEXReceived)) > 0 }) {
				t.Fatal("b had no PEX message from the relay")
			}
			if p, _ := b.linkTo(r); !p.UTP || !p.Holepunch {
				t.Fatalf("b's link to the relay %+v: want uTP, to a relay that takes punches", p)
			}
			t.Logf("relay %v, filler %v, a %v, b %v", r.ap, f.ap, a.ap, b.ap)
			a.s.AddPeer(r.ap, SourceManual)
			joined := func() bool { _, okA := a.linkTo(b); _, okB := b.linkTo(a); return okA && okB }
			if !on {
				// a learns b, dials it and fails; b hears nothing of a.
				if !until(20*time.Second, func() bool {
					for _, e := range a.events(EventDialFailed) {
						if e.Peer == b.ap {
							return true
						}
					}
					return false
				}) {
					t.Fatalf("a never tried b: a's events %+v", a.events(EventDiscovered))
				}
				if joined() || until(3*time.Second, joined) {
					t.Fatalf("joined without an introduction: a %+v, b %+v; b's PEX %+v; f's holepunch events %+v", a.s.Peers(), b.s.Peers(), b.events(EventPEXReceived), f.events(EventHolepunch))
				}
				if st := r.s.Stats().Holepunch; st.Introductions != 0 {
					t.Fatalf("introductions off, yet %d sent", st.Introductions)
				}
				return
			}
			if !until(20*time.Second, joined) {
				t.Fatalf("not joined: a %+v, b %+v; relay %+v; b's PEX %+v", a.s.Peers(), b.s.Peers(), r.s.Stats().Holepunch, b.events(EventPEXReceived))
			}
			if st := r.s.Stats().Holepunch; st.Introductions == 0 || st.ConnectsRelayed != 0 {
				t.Errorf("relay %+v: want an introduction and no BEP 55 connect", st)
			}
			var told bool
			for _, e := range r.events(EventHolepunch) {
				told = told || e.Outcome == OutcomeIntroduced && (e.Peer == b.ap && e.From == a.ap || e.Peer == a.ap && e.From == b.ap)
			}
			if !told {
				t.Errorf("relay events %+v: no introduction of a to b", r.events(EventHolepunch))
			}
			if p, _ := a.linkTo(b); !p.UTP {
				t.Errorf("a's link to b %+v: want uTP", p)
			}
		})
	}
}

// A crowd of newcomers cannot make the relay flood one link with
// introductions: b is sent IntroduceBurst of them, the rest are counted
// as limited, and b keeps its link (no PEX flood rule broken).
func TestIntroductionsBounded(t *testing.T) {
	if !utp.Supported() {
		t.Skip("no uTP in this build")
	}
	ih := [20]byte{9, 10}
	r := newHPNode(t, ih, false, nil, HolepunchConfig{}, false)
	b := newHPNode(t, ih, false, nil, HolepunchConfig{Disable: true}, false)
	b.s.AddPeer(r.ap, SourceManual)
	if !until(10*time.Second, func() bool { _, ok := r.linkTo(b); return ok }) {
		t.Fatal("b did not link to the relay")
	}
	const newcomers = 6
	for range newcomers {
		n := newHPNode(t, ih, false, nil, HolepunchConfig{}, false)
		n.s.AddPeer(r.ap, SourceManual)
	}
	start := time.Now()
	if !until(20*time.Second, func() bool {
		st := r.s.Stats().Holepunch
		return st.Limited > 0 && st.Introductions+st.Limited >= newcomers
	}) {
		t.Fatalf("relay %+v: not every newcomer's first message came", r.s.Stats().Holepunch)
	}
	allowed := DefaultIntroduceBurst + int(time.Since(start).Seconds()*DefaultIntroduceRate)
	// An introduction is counted before its event is sent, and the events
	// reach the test through the swarm's channel: read them once they have
	// caught up with the count.
	st := r.s.Stats().Holepunch
	introduced := func() (all, toB int) {
		for _, e := range r.events(EventHolepunch) {
			if e.Outcome == OutcomeIntroduced {
				all++
				if e.Peer == b.ap {
					toB++
				}
			}
		}
		return all, toB
	}
	until(5*time.Second, func() bool { all, _ := introduced(); return all >= int(st.Introductions) })
	_, toB := introduced()
	t.Logf("%d newcomers: %d introductions to b (%d in all), %d limited", newcomers, toB, st.Introductions, st.Limited)
	if toB == 0 || toB > allowed || st.Limited == 0 {
		t.Fatalf("relay %+v: %d introductions to b, want 1 to %d, the rest limited", st, toB, allowed)
	}
	if _, ok := b.linkTo(r); !ok {
		t.Fatal("b lost its link to the relay")
	}
}
