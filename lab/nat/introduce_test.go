package nat

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/lab/natlab"
)

// Beyond BEP 55 (issue 28, item 7): what a pex relay joins that
// libtorrent's cannot.

// allPairs is every pair of the router kinds no direct dial crosses.
var allPairs = [][2]natlab.Router{{natlab.EIM, natlab.EIM}, {natlab.EIM, natlab.Firewall}, {natlab.Firewall, natlab.Firewall},
	{natlab.EIM, natlab.Symmetric}, {natlab.Firewall, natlab.Symmetric}, {natlab.Symmetric, natlab.Symmetric}}

// Simultaneous introductions (bt/swarm introduce.go): A and B behind
// routers, one of them without ut_holepunch, so that BEP 55 cannot join
// them. B takes PEX, but the relay's first message to it named the
// filler, so its next comes a minute later: within that minute, B can
// learn of A only from an introduction. With introductions on, the relay
// names A to B as it names B to A, both dial at once, and every pair a
// punch can join ends linked; with them off (--no-introductions), none
// does. A libtorrent on one side shows it works with a peer that knows
// nothing of it.
func TestSimultaneousIntroductionsAcrossNATs(t *testing.T) {
	needLibtorrent(t)
	ltParallel(t)
	torrent := ltTorrent(t, t.TempDir())
	base := []ltScenario{
		{relay: "pex", a: "pex", b: "pex --no-holepunch", bPEX: true},
		{relay: "pex", a: "libtorrent", b: "pex --no-holepunch", bPEX: true},
		{relay: "pex", a: "pex --no-holepunch", b: "libtorrent", bPEX: true},
	}
	// Both halves at once: the pairs with introductions and those
	// without share the package's pair slots.
	off := " --no-introductions"
	scenarios := slices.Clone(base)
	for _, sc := range base {
		sc.relay += off
		scenarios = append(scenarios, sc)
	}
	runs := runLTMatrix(t, "introductions", torrent, scenarios, allPairs, nil)
	joined, can := map[bool]int{}, map[bool]int{}
	for _, sc := range scenarios {
		on := !strings.HasSuffix(sc.relay, off)
		var results []punchResult
		for _, run := range runs {
			if run.sc != sc || !run.ran {
				continue
			}
			r := run.r
			r.punched = r.joined && run.introduced // the table's column: joined after an introduction
			results = append(results, r)
			want := on && punchable(r.a, r.b)
			switch {
			case want && !(r.joined && run.introduced) && (sc.a == "libtorrent" || sc.b == "libtorrent"):
				// With libtorrent on one side, the crossing of its
				// plain uTP connect (3 s) and pex's sometimes ends
				// with libtorrent's connect timed out and pex's uTP
				// link to it given no BitTorrent handshake: 1 to 3
				// of the 6 punchable pairs with libtorrent in a run.
				// Reported, not failed; pex with pex must join.
				t.Logf("%s, %s x %s: not joined (joined %v, introduced %v)", sc, r.a, r.b, r.joined, run.introduced)
			case want && !(r.joined && run.introduced):
				t.Errorf("%s, %s x %s: an introduction can join them, but joined %v, introduced %v (A's log %v)", sc, r.a, r.b, r.joined, run.introduced, r.outcomes)
			case !want && r.joined:
				t.Errorf("%s, %s x %s: linked, though nothing can join them", sc, r.a, r.b)
			}
			if r.joined {
				joined[on]++
			}
			if want {
				can[on]++
			}
		}
		reportPunches(t, sc.String(), results)
	}
	t.Logf("simultaneous introductions: %d of %d punchable pairs joined with them, %d without", joined[true], can[true], joined[false])
}

// A relay whose every link is TCP (its host drops UDP to its port, as a
// host whose router forwards only TCP would): libtorrent's relay finds a
// target only by the address its link comes from, an ephemeral TCP port,
// and answers not-connected; a pex relay finds it by its listen address
// too, and the punch (uTP, between A and B) joins every pair one can.
func TestHolepunchThroughTCPRelay(t *testing.T) {
	needLibtorrent(t)
	ltParallel(t)
	torrent := ltTorrent(t, t.TempDir())
	scenarios := []ltScenario{
		{relay: "pex", a: "pex", b: "pex"},
		{relay: "libtorrent", a: "pex", b: "pex"},
	}
	noUDP := func(t *testing.T, run *ltRun) {
		rules := "table inet relay {\n chain in {\n  type filter hook input priority 0;\n  udp dport 6881 drop\n }\n}\n"
		cmd := exec.Command("ip", "netns", "exec", run.relay.NS, "nft", "-f", "-")
		cmd.Stdin = strings.NewReader(rules)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("nft in %s: %v: %s", run.relay.NS, err, out)
		}
	}
	runs := runLTMatrix(t, "tcp-relay", torrent, scenarios, allPairs, noUDP)
	joined := map[string]int{}
	for _, sc := range scenarios {
		var results []punchResult
		for _, run := range runs {
			if run.sc != sc || !run.ran {
				continue
			}
			r := run.r
			results = append(results, r)
			if r.joined && r.punched {
				joined[sc.relay]++
			}
			want := punchable(r.a, r.b)
			switch {
			case sc.relay == "pex" && want && !(r.joined && r.punched):
				t.Errorf("%s, %s x %s: a punch can join them, but joined %v, punched %v (A's log %v)", sc, r.a, r.b, r.joined, r.punched, r.outcomes)
			case !want && r.joined:
				t.Errorf("%s, %s x %s: linked, though no punch can join them", sc, r.a, r.b)
			}
		}
		reportPunches(t, sc.String()+", every link to the relay over TCP", results)
	}
	t.Log(strings.TrimSpace(fmt.Sprintf("relays over TCP: a pex relay joined %d pairs by a punch, libtorrent's %d", joined["pex"], joined["libtorrent"])))
}
