package nat

import (
	"testing"
	"time"
)

// A Go node behind every kind of router reaches a JS reference node behind
// every kind of router, with STUN and TURN: every pair connects, directly
// wherever a punch can join them.
func TestGoMeetsJSAcrossNATs(t *testing.T) {
	script := jsScript(t)
	w := newWorld(t, false)
	goHosts, jsHosts := w.homes("g", fourKinds), w.homes("j", fourKinds)
	var results []outcome
	for _, kg := range fourKinds {
		for _, kj := range fourKinds {
			o := outcome{a: kg, b: kj}
			func() {
				js := startJS(t, jsHosts[kj], script, append([]string{"--network", network, "--connect", w.relayAddr()}, w.ice(true)...)...)
				defer js.Stop()
				if js.Wait("peer", 10*time.Second, nil) == nil {
					o.reason = "the JS node did not reach the relay"
					return
				}
				g := w.goNode(t, goHosts[kg], 2)
				defer g.Stop()
				o.getNewPeer(g, 25*time.Second)
			}()
			results = append(results, o)
		}
	}
	report(t, "Go (A) meets the JS reference (B), STUN and TURN", results)
	check(t, "Go", "JS", results, true)
}

// The other direction: the JS reference behind each kind of router asks
// the relay for a new peer and reaches a Go node behind each kind of
// router. How the pair connected is read from the Go node's connect event.
func TestJSMeetsGoAcrossNATs(t *testing.T) {
	script := jsScript(t)
	w := newWorld(t, false)
	goHosts, jsHosts := w.homes("g", fourKinds), w.homes("j", fourKinds)
	var results []outcome
	for _, kj := range fourKinds {
		for _, kg := range fourKinds {
			o := outcome{a: kj, b: kg}
			func() {
				g := w.answerer(t, goHosts[kg])
				if g == nil {
					o.reason = "the Go node did not reach the relay"
					return
				}
				defer g.Stop()
				js := startJS(t, jsHosts[kj], script, append([]string{"--network", network, "--connect", w.relayAddr()}, w.ice(true)...)...)
				defer js.Stop()
				if js.Wait("peer", 10*time.Second, nil) == nil {
					o.reason = "the JS node did not reach the relay"
					return
				}
				js.Send("getnewpeer")
				ev := g.Wait("connect", 25*time.Second, func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
				asked := js.Wait("getnewpeer", 5*time.Second, nil)
				if ev == nil {
					o.reason = "no WebRTC link within 25 s"
					if asked != nil {
						o.reason, _ = asked["error"].(string)
					}
					return
				}
				o.connected(ev)
				o.ms = 0
				if asked != nil {
					o.ms, _ = asked["ms"].(float64)
				}
			}()
			results = append(results, o)
		}
	}
	report(t, "the JS reference (A) meets Go (B), STUN and TURN", results)
	// Which pair of candidates carries the link is the requester's choice
	// here: the JS node's libwebrtc is the controlling agent and may
	// nominate a relayed pair that succeeded first, where pion,
	// controlling in the other direction, waits for a direct one
	// (TestGoMeetsJSAcrossNATs holds that direction to it).
	check(t, "JS", "Go", results, false)
}
