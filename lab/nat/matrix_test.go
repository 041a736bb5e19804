package nat

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

var pexBin string

func TestMain(m *testing.M) {
	if helper() {
		return
	}
	var err error
	if pexBin, err = proc.BuildPex(); err != nil {
		fmt.Fprintln(os.Stderr, "nat:", err)
		os.Exit(1)
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "nat: leaked goroutines:", err)
			code = 1
		}
	}
	proc.Cleanup()
	os.Exit(code)
}

// The matrix: for every pair of router behaviours, a node behind one asks
// the public relay for a new peer and must reach the node behind the
// other. With a STUN server only, every pair a hole punch can join
// connects directly over WebRTC; with a TURN server too, every pair
// connects, those no punch can join through the relay.
func TestIntroductionsAcrossNATs(t *testing.T) {
	w := newWorld(t, false)
	kinds := []natlab.Router{natlab.Public, natlab.EIM, natlab.Forward, natlab.Symmetric, natlab.Firewall}
	if only := os.Getenv("PEX_NAT_ROUTERS"); only != "" { // e.g. "eim,symmetric", to look at a few
		kinds = slices.DeleteFunc(kinds, func(k natlab.Router) bool { return !slices.Contains(strings.Split(only, ","), k.String()) })
	}
	as, bs := w.homes("a", kinds), w.homes("b", kinds)
	modes := []bool{false, true}
	if os.Getenv("PEX_NAT_STUN_ONLY") != "" {
		modes = modes[:1]
	}
	for _, withTURN := range modes {
		name := "stun"
		if withTURN {
			name = "stun+turn"
		}
		t.Run(name, func(t *testing.T) {
			var results []outcome
			for i, ka := range kinds {
				for _, kb := range kinds[i:] {
					// A pair no punch can join is given one upgrade's time.
					limit := 25 * time.Second
					if !withTURN && !punchable(ka, kb) {
						limit = 12 * time.Second
					}
					results = append(results, meet(t, as[ka], bs[kb], w.relayAddr(), w.ice(withTURN), limit))
				}
			}
			report(t, name, results)
			for _, o := range results {
				switch {
				case withTURN && !o.ok:
					t.Errorf("%s x %s: not connected with TURN: %s", o.a, o.b, o.reason)
				case !withTURN && punchable(o.a, o.b) && !o.ok:
					t.Errorf("%s x %s: a hole punch can join them, but they did not connect: %s", o.a, o.b, o.reason)
				case !withTURN && o.ok && o.candidate == "relay":
					t.Errorf("%s x %s: relayed without a TURN server", o.a, o.b)
				case withTURN && punchable(o.a, o.b) && o.candidate == "relay":
					t.Errorf("%s x %s: relayed, though a direct path exists", o.a, o.b)
				}
			}
		})
	}
}

// punchable says whether two routers' peers can meet directly: not when
// one maps per destination and the other filters by address and port
// (its mapping is not the one the other side learned from STUN). A router
// forwarding a port filters every other port, and WebRTC's ports are
// ephemeral: for ICE it is one more filtering router.
func punchable(a, b natlab.Router) bool {
	filters := func(r natlab.Router) bool {
		return r != natlab.Public
	}
	if a == natlab.Symmetric && filters(b) || b == natlab.Symmetric && filters(a) {
		return false
	}
	return true
}

// meet starts B, then A wanting two peers (the relay and one more), and
// reports how A's GetNewPeer reached B.
func meet(t *testing.T, ha, hb *natlab.Host, relayAddr string, ice []string, limit time.Duration) outcome {
	o := outcome{a: ha.Router, b: hb.Router}
	run := func(h *natlab.Host, args ...string) *proc.Proc {
		p, err := startProc(h, append(args, ice...)...)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	b := run(hb, "node", "--network", network, "--connect", relayAddr, "--no-direct")
	defer b.Stop()
	if b.Wait("connect", 10*time.Second, nil) == nil {
		o.reason = "B did not reach the relay"
		return o
	}
	a := run(ha, "node", "--network", network, "--connect", relayAddr, "--no-direct", "--want", "2")
	defer a.Stop()
	o.getNewPeer(a, limit)
	return o
}

// report logs the matrix and the shares connected.
func report(t *testing.T, name string, results []outcome) {
	sort.SliceStable(results, func(i, j int) bool { return results[i].a < results[j].a })
	var sb strings.Builder
	fmt.Fprintf(&sb, "\n%s: A's router x B's router -> how A's GetNewPeer reached B\n", name)
	direct, total := 0, 0
	for _, o := range results {
		if o.ok {
			total++
			if o.candidate != "relay" {
				direct++
			}
			fmt.Fprintf(&sb, "  %-9s x %-9s  %s/%s  %.0f ms  %s\n", o.a, o.b, o.transport, o.candidate, o.ms, o.remote)
		} else {
			fmt.Fprintf(&sb, "  %-9s x %-9s  not connected: %s\n", o.a, o.b, o.reason)
		}
	}
	fmt.Fprintf(&sb, "  %d of %d pairs connected, %d directly (%.0f %%)\n", total, len(results), direct, 100*float64(direct)/float64(len(results)))
	t.Log(sb.String())
}
