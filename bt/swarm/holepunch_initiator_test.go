package swarm

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
	"github.com/seed0021ed4d/pex/bt/pex"
)

// initiatorLab is a lab swarm at a private address with public peers
// linked to it that take hole punches; what they name in PEX is too local
// for the swarm to dial (dialpolicy.go), so its failed dials are played by
// calling undialableLocked, which the dial's failure calls.
type initiatorLab struct {
	t *testing.T
	a *node
}

func newInitiatorLab(t *testing.T, hc HolepunchConfig) (*initiatorLab, *lab) {
	l := newLab(t)
	return &initiatorLab{t: t, a: hpLabNode(l, "10.0.0.1", [20]byte{28, 4}, hc)}, l
}

// relay links a public peer at ip that takes hole punches and names the
// targets in PEX, flagged as taking them too.
func (il *initiatorLab) relay(l *lab, ip string, targets ...netip.AddrPort) *labPeer {
	r := linkLabPeer(il.t, l, ip, il.a.ap, il.a.s.InfoHash(), labPeerOpts{holepunch: true, port: 6881})
	il.name(r, targets...)
	return r
}

// name has r name the targets in PEX, flagged 0x08.
func (il *initiatorLab) name(r *labPeer, targets ...netip.AddrPort) {
	ps := make([]pex.Peer, len(targets))
	for i, tg := range targets {
		ps[i] = pex.Peer{Addr: tg, Flags: pex.FlagHolepunch}
	}
	r.sendPEX(ps...)
	synctest.Wait()
	if st := il.a.s.Stats(); st.Dialing != 0 || st.Learned[SourcePEX] != 0 {
		il.t.Fatalf("the swarm dialed what PEX named: %+v", st)
	}
}

// fail plays a failed dial of each target.
func (il *initiatorLab) fail(targets ...netip.AddrPort) {
	s := il.a.s
	for _, tg := range targets {
		s.mu.Lock()
		s.undialableLocked(tg)
		s.mu.Unlock()
	}
}

// asked lists the targets of the rendezvous r received since the last
// call.
func asked(t *testing.T, r *labPeer) []netip.AddrPort {
	t.Helper()
	var out []netip.AddrPort
	for _, m := range r.take() {
		if m.Type != holepunch.Rendezvous {
			t.Errorf("the relay was sent %+v, want only rendezvous", m)
			continue
		}
		out = append(out, m.Addr)
	}
	return out
}

func targets(n int) []netip.AddrPort {
	out := make([]netip.AddrPort, n)
	for i := range out {
		out[i] = netip.MustParseAddrPort(fmt.Sprintf("10.0.1.%d:6881", i+1))
	}
	return out
}

// wantAsked checks that got holds the targets in want, in any order (each
// message is sent on a goroutine of its own).
func wantAsked(t *testing.T, what string, got []netip.AddrPort, want ...netip.AddrPort) {
	t.Helper()
	slices.SortFunc(got, netip.AddrPort.Compare)
	want = slices.Clone(want)
	slices.SortFunc(want, netip.AddrPort.Compare)
	if !slices.Equal(got, want) {
		t.Errorf("%s: rendezvous for %v, want %v", what, got, want)
	}
}

// The swarm's own rendezvous are bounded three ways (HolepunchConfig): a
// target is asked for once in RendezvousBackoff, however often its dial
// fails; one relay is asked PerRelayBurst times at once and PerRelayRate
// a second after (past that, another peer that named the target is asked,
// or none); and all relays together RendezvousBurst times at once and
// RendezvousRate a second after, the rest counted as limited.
func TestRendezvousBounded(t *testing.T) {
	t.Run("per target", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			il, l := newInitiatorLab(t, HolepunchConfig{RendezvousBackoff: time.Minute, RendezvousTimeout: 15 * time.Second})
			tg := targets(1)[0]
			r := il.relay(l, "198.51.100.9", tg)
			il.fail(tg)
			wantAsked(t, "first failure", asked(t, r), tg)
			il.fail(tg)
			wantAsked(t, "again, the rendezvous unanswered", asked(t, r))
			time.Sleep(16 * time.Second) // the rendezvous is given up
			if n := il.a.s.Stats().Holepunch.Outcomes[OutcomeNoAnswer]; n != 1 {
				t.Fatalf("%d rendezvous given up, want 1", n)
			}
			il.fail(tg)
			wantAsked(t, "again within the backoff", asked(t, r))
			time.Sleep(45 * time.Second) // a minute since the rendezvous
			il.fail(tg)
			wantAsked(t, "again after the backoff", asked(t, r), tg)
			if st := il.a.s.Stats().Holepunch; st.RendezvousSent != 2 {
				t.Errorf("stats %+v: want 2 rendezvous sent", st)
			}
		})
	})
	t.Run("per relay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			il, l := newInitiatorLab(t, HolepunchConfig{PerRelayRate: 0.1, PerRelayBurst: 2, RendezvousBurst: 100})
			ts := targets(5)
			r2 := il.relay(l, "198.51.100.10", ts[2]) // named first: asked after r1
			r1 := il.relay(l, "198.51.100.9", ts[:4]...)
			il.fail(ts[:4]...)
			wantAsked(t, "r1, four targets at once", asked(t, r1), ts[0], ts[1])
			wantAsked(t, "r2, the other peer that named the third", asked(t, r2), ts[2])
			time.Sleep(10 * time.Second) // one more through r1
			il.name(r1, ts[4])
			il.fail(ts[3], ts[4])
			wantAsked(t, "r1, ten seconds later", asked(t, r1), ts[3])
		})
	})
	t.Run("overall", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			il, l := newInitiatorLab(t, HolepunchConfig{RendezvousRate: 0.05, RendezvousBurst: 3, PerRelayRate: 10, PerRelayBurst: 100})
			ts := targets(5)
			r1 := il.relay(l, "198.51.100.9", ts[:3]...)
			r2 := il.relay(l, "198.51.100.10", ts[3:]...)
			il.fail(ts...)
			got := append(asked(t, r1), asked(t, r2)...)
			wantAsked(t, "five targets at once", got, ts[0], ts[1], ts[2])
			if st := il.a.s.Stats().Holepunch; st.Limited != 2 || st.RendezvousSent != 3 {
				t.Errorf("stats %+v: want 3 rendezvous sent, 2 limited", st)
			}
			time.Sleep(20 * time.Second) // one more, overall
			il.fail(ts[3], ts[4])
			wantAsked(t, "twenty seconds later", asked(t, r2), ts[3])
		})
	})
}

// An initiator counts the BEP 55 errors its relays answer, by code, in
// ErrorsReceived (never ErrorsSent), and only answers to rendezvous it
// sent, to the relay it sent them to: an error from another peer, or for
// a target nobody asked for, is not counted.
func TestInitiatorCountsErrorsReceived(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		il, l := newInitiatorLab(t, HolepunchConfig{})
		tg := targets(3)
		r := il.relay(l, "198.51.100.1", tg...)
		other := il.relay(l, "198.51.100.2")
		il.fail(tg[0], tg[1])
		synctest.Wait()
		wantAsked(t, "two failed dials", asked(t, r), tg[0], tg[1])
		r.sendHP(holepunch.Msg{Type: holepunch.Error, Addr: tg[0], Err: holepunch.NotConnected}, 1)
		other.sendHP(holepunch.Msg{Type: holepunch.Error, Addr: tg[1], Err: holepunch.NoSupport}, 1) // not the relay asked
		r.sendHP(holepunch.Msg{Type: holepunch.Error, Addr: tg[2], Err: holepunch.NoSelf}, 1)        // never asked for
		r.sendHP(holepunch.Msg{Type: holepunch.Error, Addr: tg[1], Err: holepunch.NoSupport}, 1)
		synctest.Wait()
		st := il.a.s.Stats().Holepunch
		want := map[string]uint64{"not-connected": 1, "no-support": 1}
		if len(st.ErrorsReceived) != len(want) || st.ErrorsReceived["not-connected"] != 1 || st.ErrorsReceived["no-support"] != 1 || len(st.ErrorsSent) != 0 {
			t.Errorf("errors received %v, sent %v: want received %v, none sent", st.ErrorsReceived, st.ErrorsSent, want)
		}
	})
}
