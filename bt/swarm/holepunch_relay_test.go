package swarm

import (
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/holepunch"
)

// wantOne checks that msgs is exactly want.
func wantOne(t *testing.T, who string, msgs []holepunch.Msg, want holepunch.Msg) {
	t.Helper()
	if len(msgs) != 1 || msgs[0] != want {
		t.Errorf("%s received %+v, want exactly %+v", who, msgs, want)
	}
}

// A relay answers every rendezvous it cannot put through with the BEP 55
// error that says why, addressed to the target asked for: an address no
// peer can have (no-such-peer), one it holds no live link at, nobody's or
// a link still in its handshakes (not-connected), a peer whose extended
// handshake lacked ut_holepunch (no-support), the relay itself or the
// asker itself (no-self). A target it holds is put through: connect to
// both sides, each naming the other's listen address.
func TestRelayAnswersEveryErrorCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{28, 1}
		r := hpLabNode(l, "10.0.0.1", ih, HolepunchConfig{RelayBurst: 16})
		asker := linkLabPeer(t, l, "10.0.0.9", r.ap, ih, labPeerOpts{holepunch: true, port: 6881})
		hp := linkLabPeer(t, l, "10.0.0.3", r.ap, ih, labPeerOpts{holepunch: true, port: 6881})
		noHP := linkLabPeer(t, l, "10.0.0.4", r.ap, ih, labPeerOpts{port: 6881})
		half := linkLabPeer(t, l, "10.0.0.5", r.ap, ih, labPeerOpts{holepunch: true, noExt: true})
		synctest.Wait()
		if n := len(r.s.Peers()); n != 3 {
			t.Fatalf("the relay has %d live links, want 3 (the fourth still in its handshakes): %+v", n, r.s.Peers())
		}
		cases := []struct {
			name   string
			target netip.AddrPort
			want   holepunch.ErrCode
		}{
			{"port 0", netip.MustParseAddrPort("10.0.0.7:0"), holepunch.NoSuchPeer},
			{"unspecified address", netip.MustParseAddrPort("0.0.0.0:6881"), holepunch.NoSuchPeer},
			{"held by nobody", netip.MustParseAddrPort("10.0.0.6:6881"), holepunch.NotConnected},
			{"a link still in its handshakes", half.addr(), holepunch.NotConnected},
			{"a peer without ut_holepunch", noHP.listen, holepunch.NoSupport},
			{"the relay itself", r.ap, holepunch.NoSelf},
			{"the asker's listen address", asker.listen, holepunch.NoSelf},
			{"the asker's link", asker.addr(), holepunch.NoSelf},
		}
		for _, tc := range cases {
			asker.sendHP(holepunch.Msg{Type: holepunch.Rendezvous, Addr: tc.target}, 1)
			wantOne(t, tc.name+": the asker", asker.take(), holepunch.Msg{Type: holepunch.Error, Addr: tc.target, Err: tc.want})
			for _, p := range []*labPeer{hp, noHP, half} {
				if got := p.take(); len(got) != 0 {
					t.Errorf("%s: a bystander at %v was sent %+v", tc.name, p.addr(), got)
				}
			}
		}
		asker.sendHP(holepunch.Msg{Type: holepunch.Rendezvous, Addr: hp.listen}, 1)
		wantOne(t, "put through: the asker", asker.take(), holepunch.Msg{Type: holepunch.Connect, Addr: hp.listen})
		wantOne(t, "put through: the target", hp.take(), holepunch.Msg{Type: holepunch.Connect, Addr: asker.listen})

		st := r.s.Stats().Holepunch
		want := map[string]uint64{"no-such-peer": 2, "not-connected": 2, "no-support": 1, "no-self": 3}
		for k, n := range want {
			if st.Outcomes[k] != n {
				t.Errorf("relay outcomes %v: %s %d, want %d", st.Outcomes, k, st.Outcomes[k], n)
			}
			if st.ErrorsSent[k] != n {
				t.Errorf("relay errors sent %v: %s %d, want %d", st.ErrorsSent, k, st.ErrorsSent[k], n)
			}
		}
		if len(st.ErrorsSent) != len(want) || len(st.ErrorsReceived) != 0 {
			t.Errorf("relay errors sent %v, received %v: want the four codes sent, none received", st.ErrorsSent, st.ErrorsReceived)
		}
		if st.RendezvousReceived != uint64(len(cases)+1) || st.ConnectsRelayed != 1 || st.Limited != 0 {
			t.Errorf("relay stats %+v: want %d rendezvous, 1 put through, none limited", st, len(cases)+1)
		}
	})
}

// A relay never bridges a peer on a LAN (or loopback) and one on the
// internet, nor an IPv4 link and an IPv6 one: neither side could reach the
// address it would be named. It answers no-such-peer and tells the target
// nothing. Two peers on the same side of both edges are put through.
func TestRelayRefusesLocalBridgeAndMixedFamilies(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{28, 2}
		r := hpLabNode(l, "203.0.113.1", ih, HolepunchConfig{})
		peer := func(ip string) *labPeer {
			return linkLabPeer(t, l, ip, r.ap, ih, labPeerOpts{holepunch: true, port: 6881})
		}
		pub1, pub2 := peer("198.51.100.9"), peer("198.51.100.10")
		lan1, lan2 := peer("10.0.0.9"), peer("192.168.1.3")
		loop := peer("127.0.0.2")
		v6a, v6b := peer("2001:db8::9"), peer("2001:db8::10")
		synctest.Wait()
		if n := len(r.s.Peers()); n != 7 {
			t.Fatalf("the relay has %d links, want 7: %+v", n, r.s.Peers())
		}
		cases := []struct {
			name          string
			asker, target *labPeer
			through       bool
		}{
			{"public to public", pub1, pub2, true},
			{"LAN to LAN", lan1, lan2, true},
			{"IPv6 to IPv6", v6a, v6b, true},
			{"public to LAN", pub1, lan1, false},
			{"LAN to public", lan2, pub2, false},
			{"loopback to public", loop, pub1, false},
			{"IPv6 to IPv4", v6a, pub2, false},
			{"IPv4 to IPv6", pub1, v6b, false},
		}
		for _, tc := range cases {
			tc.asker.sendHP(holepunch.Msg{Type: holepunch.Rendezvous, Addr: tc.target.listen}, 1)
			if tc.through {
				wantOne(t, tc.name+": the asker", tc.asker.take(), holepunch.Msg{Type: holepunch.Connect, Addr: tc.target.listen})
				wantOne(t, tc.name+": the target", tc.target.take(), holepunch.Msg{Type: holepunch.Connect, Addr: tc.asker.listen})
				continue
			}
			wantOne(t, tc.name+": the asker", tc.asker.take(), holepunch.Msg{Type: holepunch.Error, Addr: tc.target.listen, Err: holepunch.NoSuchPeer})
			if got := tc.target.take(); len(got) != 0 {
				t.Errorf("%s: the target was sent %+v", tc.name, got)
			}
		}
	})
}

// A rendezvous over the relay's connect budget is answered with an error,
// never with connect, until a second budget of the same size runs out;
// past both, the relay is silent. So a flood of rendezvous from one peer
// brings it RelayBurst connects and RelayBurst errors at once, its target
// RelayBurst connects, and each budget refills at RelayRate. A rendezvous
// that would be refused anyway is refused with its own code.
func TestRelayOverLimitAnsweredWithinBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{28, 3}
		const burst, flood = 4, 50
		r := hpLabNode(l, "10.0.0.1", ih, HolepunchConfig{RelayRate: 0.5, RelayBurst: burst})
		asker := linkLabPeer(t, l, "10.0.0.9", r.ap, ih, labPeerOpts{holepunch: true, port: 6881})
		tg := linkLabPeer(t, l, "10.0.0.3", r.ap, ih, labPeerOpts{holepunch: true, port: 6881})
		synctest.Wait()
		count := func(msgs []holepunch.Msg) (connects, notConnected, other int) {
			for _, m := range msgs {
				switch {
				case m.Type == holepunch.Connect:
					connects++
				case m.Type == holepunch.Error && m.Err == holepunch.NotConnected:
					notConnected++
				default:
					other++
				}
			}
			return
		}
		asker.sendHP(holepunch.Msg{Type: holepunch.Rendezvous, Addr: tg.listen}, flood)
		c, e, o := count(asker.take())
		if c != burst || e != burst || o != 0 {
			t.Errorf("%d rendezvous: the asker got %d connects, %d not-connected, %d other; want %d, %d, 0", flood, c, e, o, burst, burst)
		}
		if c, _, _ := count(tg.take()); c != burst {
			t.Errorf("%d rendezvous: the target got %d connects, want %d", flood, c, burst)
		}
		if st := r.s.Stats().Holepunch; st.ConnectsRelayed != burst || st.Limited != flood-burst {
			t.Errorf("relay stats %+v: want %d put through, %d limited", st, burst, flood-burst)
		}

		// Two seconds refill one token of each budget: one more connect,
		// one more error, then silence again.
		time.Sleep(2 * time.Second)
		asker.sendHP(holepunch.Msg{Type: holepunch.Rendezvous, Addr: tg.listen}, 5)
		if c, e, o := count(asker.take()); c != 1 || e != 1 || o != 0 {
			t.Errorf("after 2 s: the asker got %d connects, %d not-connected, %d other; want 1, 1, 0", c, e, o)
		}

		// Over the budget, a target that would be refused anyway is
		// refused with its own code.
		time.Sleep(2 * time.Second)
		self := holepunch.Msg{Type: holepunch.Rendezvous, Addr: r.ap}
		asker.sendHP(self, 2) // the first takes the connect budget's token
		got := asker.take()
		want := holepunch.Msg{Type: holepunch.Error, Addr: r.ap, Err: holepunch.NoSelf}
		if len(got) != 2 || got[0] != want || got[1] != want {
			t.Errorf("two rendezvous for the relay itself, the second over budget: got %+v, want twice %+v", got, want)
		}
	})
}
