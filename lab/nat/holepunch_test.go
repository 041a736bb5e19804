package nat

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// punchResult is one pair of the BEP 55 table.
type punchResult struct {
	a, b     natlab.Router
	joined   bool          // A and B linked
	punched  bool          // the link followed a connect message (BEP 55)
	took     time.Duration // A's start to the link
	punchMS  float64       // the initiator's rendezvous to the link (its holepunch event)
	outcomes []string      // the initiator's holepunch outcomes, in order
	data     bool          // a download finished over the link (libtorrent pairs)
}

// Hole punching (BEP 55) through a pex relay, for every pair of routers
// neither side of which can be dialed: B joins the relay (a public pex bt
// swarm) first, with --no-pex, so that it never learns of A and never
// dials it; then A joins, learns B from the relay's PEX (flagged 0x08: B's
// extended handshake listed ut_holepunch), fails to dial it (B's router
// drops the SYNs), and asks the relay, which sends connect to both; both
// open uTP to each other at once. Every pair a punch can join must end
// linked by the punch, and no other: a symmetric NAT facing a filtering
// router stays apart. Since B never dials A, a link can only have come of
// the punch, and the test checks the link says so.
func TestHolepunchAcrossNATs(t *testing.T) {
	l := natlab.New(t)
	const ih = "4242424242424242424242424242424242424242"
	kinds := []natlab.Router{natlab.EIM, natlab.Firewall, natlab.Symmetric}
	if only := os.Getenv("PEX_NAT_ROUTERS"); only != "" { // e.g. "eim,symmetric", to look at a few
		kinds = slices.DeleteFunc(kinds, func(k natlab.Router) bool { return !slices.Contains(strings.Split(only, ","), k.String()) })
	}
	// Each pair has a relay of its own and runs beside the others: a pair
	// no punch can join waits out its whole limit.
	type pair struct{ relay, ha, hb *natlab.Host }
	var pairs []pair
	for i, ka := range kinds {
		for _, kb := range kinds[i:] {
			n := len(pairs) + 1
			pairs = append(pairs, pair{l.PublicHost(fmt.Sprintf("hpr%d", n)),
				l.HomeHost(fmt.Sprintf("hpa%d", n), ka, 5000), l.HomeHost(fmt.Sprintf("hpb%d", n), kb, 5000)})
		}
	}
	results := make([]punchResult, len(pairs))
	t.Run("pairs", func(t *testing.T) {
		concurrently(t, len(pairs), func(i int) string { return fmt.Sprintf("%sx%s", pairs[i].ha.Router, pairs[i].hb.Router) }, func(t *testing.T, i int) {
			p := pairs[i]
			relayAddr := p.relay.Addr.String() + ":6881"
			if start(t, p.relay, "bt", "swarm", "--infohash", ih, "--listen", relayAddr).Wait("listening", 10*time.Second, nil) == nil {
				t.Fatal("the relay did not start")
			}
			results[i] = punchPair(t, p.ha, p.hb, ih, relayAddr, punchable(p.ha.Router, p.hb.Router))
		})
	})
	reportPunches(t, "pex and pex through a pex relay", results)
	for _, r := range results {
		want := punchable(r.a, r.b)
		switch {
		case want && !r.joined:
			t.Errorf("%s x %s: a punch can join them, but they did not link (initiator's outcomes %v)", r.a, r.b, r.outcomes)
		case want && !r.punched:
			t.Errorf("%s x %s: linked, but not by a punch", r.a, r.b)
		case !want && r.joined:
			t.Errorf("%s x %s: linked, though no punch can join them", r.a, r.b)
		}
	}
}

// punchPair runs B, then A, behind their routers, with the relay at
// relayAddr, and reports how A reached B.
func punchPair(t *testing.T, ha, hb *natlab.Host, ih, relayAddr string, want bool) punchResult {
	t.Helper()
	r := punchResult{a: ha.Router, b: hb.Router}
	common := []string{"bt", "swarm", "--infohash", ih, "--listen", "0.0.0.0:5000", "--peer", relayAddr, "--no-portmap", "--duration", "3m"}
	if os.Getenv("PEX_NAT_BT_DEBUG") != "" {
		common = append(common, "--log-level", "debug")
	}
	b, err := startProc(hb, append(common, "--no-pex")...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	if b.Wait("connected", 20*time.Second, nil) == nil {
		t.Fatalf("%s: B did not reach the relay", hb.Router)
	}
	startA := time.Now()
	a, err := startProc(ha, common...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Stop()
	bPub := fmt.Sprintf("%s:5000", hb.Public)
	// A's direct dials take up to 15 s (uTP 5 s, TCP 10 s), the punch up
	// to 8 s after the relay's answer. A pair no punch can join is given
	// the same time, once.
	limit := 45 * time.Second
	ev := a.Wait("connected", limit, func(ev proc.Event) bool { return ev["peer"] == bPub })
	if ev != nil {
		r.joined, r.took = true, time.Since(startA)
		r.punched = ev["holepunch"] == true
	}
	for _, e := range a.Events() {
		if e["event"] != "holepunch" || e["role"] != "initiator" || e["peer"] != bPub {
			continue
		}
		r.outcomes = append(r.outcomes, fmt.Sprint(e["outcome"]))
		if e["outcome"] == "connected" {
			if ms, ok := e["took_ms"].(float64); ok {
				r.punchMS = ms
			}
		}
	}
	return r
}

// reportPunches logs the table of one scenario and its share, with the
// time a punch took (the initiator's rendezvous to the link), p50 and p95.
func reportPunches(t *testing.T, scenario string, results []punchResult) {
	var sb strings.Builder
	fmt.Fprintf(&sb, "\nBEP 55 hole punching, %s: A x B, A asks the relay for B\n", scenario)
	fmt.Fprintf(&sb, "%-10s %-10s %-8s %-8s %-9s %-9s %s\n", "A", "B", "joined", "punched", "took_s", "punch_ms", "initiator's outcomes")
	can, joined := 0, 0
	var times []float64
	for _, r := range results {
		fmt.Fprintf(&sb, "%-10s %-10s %-8v %-8v %-9.1f %-9.0f %s\n", r.a, r.b, r.joined, r.punched, r.took.Seconds(), r.punchMS, strings.Join(r.outcomes, ","))
		if punchable(r.a, r.b) {
			can++
			if r.joined && r.punched {
				joined++
				if r.punchMS > 0 { // 0: the side that logged the punch is not the one timed
					times = append(times, r.punchMS)
				}
			}
		}
	}
	fmt.Fprintf(&sb, "%d of %d pairs a punch can join were joined by one (%d pairs in all)", joined, can, len(results))
	if len(times) > 0 {
		fmt.Fprintf(&sb, "; punch time %s", percentiles(times))
	}
	t.Log(sb.String())
}

// percentiles says p50 and p95 of times (ms) and how many there are
// (nearest rank).
func percentiles(times []float64) string {
	if len(times) == 0 {
		return "none"
	}
	times = slices.Clone(times)
	sort.Float64s(times)
	rank := func(p int) float64 { return times[max(0, (len(times)*p+99)/100-1)] }
	return fmt.Sprintf("p50 %.0f ms, p95 %.0f ms (%d punches)", rank(50), rank(95), len(times))
}
