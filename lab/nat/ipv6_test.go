package nat

import (
	"net/netip"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
)

// Over IPv6 there is no NAT, only the routers' stateful firewalls, which
// a WebRTC punch opens from both sides at once: with STUN only, every
// pair of the four router kinds connects directly, the pairs IPv4 cannot
// join (a symmetric NAT with a filtering router) over IPv6.
func TestIntroductionsOverIPv6(t *testing.T) {
	w := newWorldWith(t, false, natlab.Options{IPv6: true})
	as, bs := w.homes("a", fourKinds), w.homes("b", fourKinds)
	var results []outcome
	for i, ka := range fourKinds {
		for _, kb := range fourKinds[i:] {
			results = append(results, meet(t, as[ka], bs[kb], w.relayAddr(), w.ice(false), 25*time.Second))
		}
	}
	report(t, "dual-stack, STUN only", results)
	for _, o := range results {
		ap, err := netip.ParseAddrPort(o.remote)
		v6 := err == nil && ap.Addr().Is6() && !ap.Addr().Is4In6()
		switch {
		case !o.ok:
			t.Errorf("%s x %s: not connected: %s", o.a, o.b, o.reason)
		case o.transport != "webrtc" || o.candidate == "relay":
			t.Errorf("%s x %s: %s/%s, not a direct WebRTC link", o.a, o.b, o.transport, o.candidate)
		case !punchable(o.a, o.b) && !v6:
			t.Errorf("%s x %s: joined over %q; only IPv6 can join them", o.a, o.b, o.remote)
		}
	}
}
