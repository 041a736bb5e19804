package nat

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// BEP 55 with libtorrent 2.0.8 (python3-libtorrent) as a real peer in
// each of the scenarios: two libtorrents through a pex relay, and
// pex with pex, and pex with libtorrent on either side, through a
// libtorrent relay. As in TestHolepunchAcrossNATs, B joins first and must
// not dial A, so that a link can only come of a punch: a pex B runs
// --no-pex; a libtorrent B, which has no such switch, is held apart by
// BEP 11's pace (a relay tells a peer of newcomers at most once a minute:
// B has had its first message, naming a filler peer, when A joins, and A
// is told of B at once).

// ltScenario is who relays, who asks (A) and who is asked for (B): each
// "libtorrent", or "pex" and flags of its own. A pex B runs --no-pex
// unless bPEX: a link then can only come of A's dial or of a punch.
type ltScenario struct {
	relay, a, b string
	bPEX        bool
}

func (sc ltScenario) String() string {
	return fmt.Sprintf("%s and %s through a %s relay", sc.a, sc.b, sc.relay)
}

// ltRun is one pair of routers in one scenario: its hosts, and how it
// ended.
type ltRun struct {
	sc                    ltScenario
	relay, filler, ha, hb *natlab.Host
	r                     punchResult
	ran                   bool // got as far as A's start
	introduced            bool // the relay introduced the two (introduce.go)
}

// runLTMatrix makes the hosts of every pair of routers in every scenario
// in labs of their own (a lab for every four scenarios: room for 16
// Firewall homes, 4 a scenario), then runs the pairs at once, in the
// package's pairSlots, as subtests of one named name: most of a pair's
// time is waiting for BEP 11's pace, not CPU. prepare, when not nil, is
// given each run's hosts before it starts.
func runLTMatrix(t *testing.T, name, torrent string, scenarios []ltScenario, pairs [][2]natlab.Router, prepare func(t *testing.T, run *ltRun)) []*ltRun {
	var l *natlab.Lab
	var runs []*ltRun
	for k, sc := range scenarios {
		if k%4 == 0 {
			l = natlab.New(t) // a lab has room for 16 Firewall homes, 4 a scenario
		}
		for _, pr := range pairs {
			n := len(runs) + 1
			run := &ltRun{sc: sc, r: punchResult{a: pr[0], b: pr[1]},
				relay:  l.PublicHost(fmt.Sprintf("ltr%d", n)),
				filler: l.PublicHost(fmt.Sprintf("ltf%d", n)),
				ha:     l.HomeHost(fmt.Sprintf("lta%d", n), pr[0], 5000),
				hb:     l.HomeHost(fmt.Sprintf("ltb%d", n), pr[1], 5000),
			}
			if prepare != nil {
				prepare(t, run)
			}
			runs = append(runs, run)
		}
	}
	t.Run(name, func(t *testing.T) {
		concurrently(t, len(runs), func(i int) string {
			return fmt.Sprintf("%s/%sx%s", strings.ReplaceAll(runs[i].sc.String(), " ", "_"), runs[i].r.a, runs[i].r.b)
		}, func(t *testing.T, i int) { runLTPairOnce(t, runs[i], torrent) })
	})
	return runs
}

// pairSlots is the pairs that run at once across the package: the
// libtorrent tables run side by side (ltParallel), and their pairs share
// these slots, so that PEX_NAT_PARALLEL (default 12) bounds the lab's load
// whichever tests are running.
var pairSlots = make(chan struct{}, envInt("PEX_NAT_PARALLEL", 12))

// ltParallel runs a libtorrent table beside the others: the package's
// other tests (the ICE matrices above all, whose punched paths must win
// within ICE's timers) run first and alone, since Go starts parallel tests
// once the sequential ones have ended; then the tables' pairs share the
// pairSlots, the slot a pair frees taken by the next pair of any table.
// scripts/test gives -parallel 3, one for each table.
func ltParallel(t *testing.T) { t.Parallel() }

// concurrently runs n subtests of t at once, holding a pairSlots slot
// each, and returns when all have ended. Not t.Parallel: that is held to
// -test.parallel (GOMAXPROCS, 2 here), and these subtests spend their
// time waiting on other processes, not on CPU.
func concurrently(t *testing.T, n int, name func(i int) string, f func(t *testing.T, i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pairSlots <- struct{}{}
			defer func() { <-pairSlots }()
			t.Run(name(i), func(t *testing.T) { f(t, i) })
		}()
	}
	wg.Wait()
}

// The whole table runs in CI: every pair of the three router kinds no
// direct dial crosses (the other kinds are TestBitTorrentAcrossNATs'),
// in each of the four scenarios. The pairs of a round run at once
// (PEX_NAT_PARALLEL at a time, default 12), each in hosts of its own:
// most of a pair's time is waiting for BEP 11's pace, not CPU.
// PEX_NAT_ROUNDS repeats the table, for the punch times' percentiles.
func TestHolepunchWithLibtorrent(t *testing.T) {
	needLibtorrent(t)
	ltParallel(t)
	torrent := ltTorrent(t, t.TempDir())
	scenarios := []ltScenario{
		{relay: "pex", a: "libtorrent", b: "libtorrent"},
		{relay: "libtorrent", a: "pex", b: "pex"},
		{relay: "libtorrent", a: "libtorrent", b: "pex"},
		{relay: "libtorrent", a: "pex", b: "libtorrent"},
	}
	if only := os.Getenv("PEX_NAT_SCENARIO"); only != "" { // 1 to 4, to look at one
		k, _ := strconv.Atoi(only)
		if k < 1 || k > len(scenarios) {
			t.Fatalf("PEX_NAT_SCENARIO=%s: 1 to %d", only, len(scenarios))
		}
		scenarios = scenarios[k-1 : k]
	}
	pairs := slices.Clone(allPairs)
	if only := os.Getenv("PEX_NAT_ROUTERS"); only != "" { // e.g. "eim,firewall": the pairs of those kinds
		pairs = slices.DeleteFunc(pairs, func(p [2]natlab.Router) bool {
			kinds := strings.Split(only, ",")
			return !slices.Contains(kinds, p[0].String()) || !slices.Contains(kinds, p[1].String())
		})
	}
	var all []*ltRun
	for round := 1; round <= envInt("PEX_NAT_ROUNDS", 1); round++ {
		all = append(all, runLTMatrix(t, fmt.Sprintf("round%d", round), torrent, scenarios, pairs, nil)...)
	}
	times := map[string][]float64{} // punch times by the relay's kind
	for _, sc := range scenarios {
		var results []punchResult
		for _, run := range all {
			if run.sc != sc || !run.ran {
				continue
			}
			r := run.r
			results = append(results, r)
			if r.joined && r.punched && r.punchMS > 0 {
				times[sc.relay] = append(times[sc.relay], r.punchMS)
			}
			want := punchable(r.a, r.b)
			switch {
			case want && !r.joined:
				t.Errorf("%s, %s x %s: a punch can join them, but they did not link (A's punch log %v)", sc, r.a, r.b, r.outcomes)
			case want && !r.punched && (sc.b == "pex" || sc.relay == "pex" && os.Getenv("PEX_NAT_STRICT") != ""):
				// A libtorrent B cannot be kept from dialing A (it has no
				// --no-pex): the two may meet by their dials crossing,
				// which the table reports. A pex B never dials A.
				t.Errorf("%s, %s x %s: linked, but not by a punch", sc, r.a, r.b)
			case want && sc.a == "libtorrent" && sc.b == "libtorrent" && !r.data:
				t.Errorf("%s, %s x %s: linked, but the download did not finish over the link", sc, r.a, r.b)
			case !want && r.joined:
				t.Errorf("%s, %s x %s: linked, though no punch can join them", sc, r.a, r.b)
			}
		}
		reportPunches(t, sc.String(), results)
	}
	var sb strings.Builder
	sb.WriteString("\nBEP 55 punch times (the initiator's rendezvous to the link), by relay, this run:")
	for _, relay := range []string{"pex", "libtorrent"} {
		fmt.Fprintf(&sb, "\n  %s relay: %s", relay, percentiles(times[relay]))
	}
	t.Log(sb.String())
}

// runLTPairOnce runs one pair, and once more when a libtorrent of it
// crashed (ltCrash): python3-libtorrent 2.0.8 died now and then with
// SIGSEGV, between two libtorrents as well as with pex (4 times in some
// ten runs of these tables), and a pair whose real client died says
// nothing of pex. faulthandler's stacks put the crashes on lt_node.py's
// wait_for_alert, whose alert reference the binding can leave dangling
// (arvidn/libtorrent#8299): lt_node.py no longer calls it, and this stays
// as a net. A second crash, or any other failure, fails the pair.
func runLTPairOnce(t *testing.T, run *ltRun, torrent string) {
	err := runLTPair(t, run, torrent)
	if crash := (*ltCrash)(nil); errors.As(err, &crash) {
		t.Logf("%v; the pair runs again on its hosts", err)
		run.r, run.ran, run.introduced = punchResult{a: run.r.a, b: run.r.b}, false, false
		err = runLTPair(t, run, torrent)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// runLTPair runs one pair: the relay and the filler, then B, then A; it
// fills run.r. It fails with an ltCrash when a libtorrent of the pair
// died of a signal it was not sent.
func runLTPair(t *testing.T, run *ltRun, torrent string) (err error) {
	sc, r := run.sc, &run.r
	var sides []*ltSide
	defer func() {
		if crash := crashed(sides, err != nil); crash != nil {
			err = crash
		}
		for _, s := range sides {
			s.p.Stop()
		}
	}()
	start := func(h *natlab.Host, kind string, port int, seed, target bool, peers ...string) *ltSide {
		s := startSide(t, h, kind, torrent, port, seed, target, peers...)
		sides = append(sides, s)
		return s
	}
	relayAddr := run.relay.Addr.String() + ":6881"
	rs := start(run.relay, sc.relay, 6881, false, false)
	// The filler gives the relay a peer to tell B of before A comes.
	fs := start(run.filler, "pex", 6881, false, true, relayAddr)
	if fs.p.Wait("connected", 20*time.Second, nil) == nil {
		return errors.New("the filler did not reach the relay")
	}
	// B seeds where A, a libtorrent, downloads from it; a libtorrent
	// relay drops a link between two seeds ("upload to upload").
	b := start(run.hb, sc.b, 5000, sc.a == "libtorrent" && strings.HasPrefix(sc.relay, "pex"), !sc.bPEX, relayAddr)
	fillerAddr := run.filler.Addr.String() + ":6881"
	if b.kind == "libtorrent" && strings.HasPrefix(sc.relay, "pex") && !b.p.Until(45*time.Second, func() bool { return b.heardOf(run.filler.Addr.String()) }) {
		return errors.New("B never heard of the filler from the relay")
	}
	if b.kind == "pex" && b.p.Wait("connected", 45*time.Second, nil) == nil { // a libtorrent relay under load takes its time
		return errors.New("B did not reach the relay")
	}
	if b.kind == "pex" && sc.bPEX && !b.p.Until(30*time.Second, func() bool { return pexReceived(b.p, relayAddr, "added", fillerAddr) }) {
		return errors.New("B never heard of the filler from the relay")
	}
	if b.kind == "libtorrent" && !b.p.Until(30*time.Second, func() bool { ok, _ := b.linkTo(run.relay.Addr.String()); return ok }) {
		return fmt.Errorf("B did not reach the relay: its peers %+v", ltPeersOf(b.p))
	}
	begun := time.Now()
	a := start(run.ha, sc.a, 5000, false, false, relayAddr)
	run.ran = true
	bIP, aIP := run.hb.Public.String(), run.ha.Public.String()
	limit := 55 * time.Second
	if sc.relay == "libtorrent" {
		limit = 90 * time.Second // libtorrent's ut_pex goes out once a minute
	}
	if sc.bPEX {
		limit = 45 * time.Second // before the relay's next message to B could name A
	}
	// A libtorrent A downloading from B, the only seed, may fetch the
	// whole torrent over the punched link and drop it (two seeds) between
	// two of its peers lists, half a second apart: having the torrent is
	// the link's proof then.
	seedB := b.seeds
	downloaded := func() bool {
		ev := a.p.Last("peers")
		return seedB && a.kind == "libtorrent" && ev != nil && strings.Contains(fmt.Sprint(ev["state"]), "seeding")
	}
	var linkedAt time.Time // a libtorrent A's first peers list with B linked
	a.p.Until(limit, func() bool {
		ok, _ := a.linkTo(bIP)
		ok = ok || downloaded()
		if ok && linkedAt.IsZero() && a.kind == "libtorrent" {
			linkedAt = eventTime(a.p.Last("peers"))
		}
		return ok
	})
	r.joined, r.punched = a.linkTo(bIP)
	r.joined = r.joined || downloaded()
	if r.joined {
		r.took = time.Since(begun)
	}
	if _, bp := b.linkTo(aIP); bp {
		r.punched = true
	}
	// libtorrent flags a link holepunched only on the side whose own
	// punch made it; a pex relay says when it sent connect to the pair.
	// B heard of the filler first, so the relay cannot have told B of A
	// before a minute had passed: a link within that minute, after a
	// connect, is the punch's. After: the connect's stamp is no later
	// than A's first sight of the link (a pex A's connected event, a
	// libtorrent A's first peers list with B linked, printed within half
	// a second of it).
	linkSeen := linkedAt
	if a.kind == "pex" {
		for _, e := range a.p.Events() {
			if e["event"] == "connected" && strings.HasPrefix(fmt.Sprint(e["peer"]), bIP+":") {
				linkSeen = eventTime(e)
				break
			}
		}
	}
	for _, e := range rs.p.Events() {
		if rs.kind != "pex" || e["event"] != "holepunch" {
			continue
		}
		peer, from := fmt.Sprint(e["peer"]), fmt.Sprint(e["newcomer"])
		switch e["outcome"] {
		case "connect-sent":
			if !r.punched && r.joined && r.took < time.Minute && strings.HasPrefix(peer, bIP+":") && (linkSeen.IsZero() || !eventTime(e).After(linkSeen)) {
				r.punched = true
			}
		case "introduced":
			if strings.HasPrefix(peer, bIP+":") && strings.HasPrefix(from, aIP+":") || strings.HasPrefix(peer, aIP+":") && strings.HasPrefix(from, bIP+":") {
				run.introduced = true
			}
		}
	}
	// The punch's time: from A's rendezvous for B to the link. pex says
	// it in its holepunch event; for libtorrent it is the stamp of its
	// "==> HOLEPUNCH [ msg: rendezvous to: B" line to that of its first
	// peers list with B linked (both read every half second).
	var rendezvous time.Time
	for _, e := range a.p.Events() {
		if e["event"] != "holepunch" {
			continue
		}
		if a.kind == "pex" {
			if e["role"] == "initiator" && e["outcome"] == "connected" && strings.HasPrefix(fmt.Sprint(e["peer"]), bIP+":") {
				if ms, ok := e["took_ms"].(float64); ok {
					r.punchMS = ms
				}
			}
			r.outcomes = append(r.outcomes, fmt.Sprintf("%v(%v)", e["outcome"], e["peer"]))
			continue
		}
		msg := fmt.Sprint(e["msg"])
		if rendezvous.IsZero() && strings.Contains(msg, "==> HOLEPUNCH [ msg: rendezvous to: "+bIP) {
			rendezvous = eventTime(e)
		}
		r.outcomes = append(r.outcomes, msg)
	}
	if a.kind == "libtorrent" && r.punched && !rendezvous.IsZero() && !linkedAt.IsZero() && !linkedAt.Before(rendezvous) {
		r.punchMS = float64(linkedAt.Sub(rendezvous).Milliseconds())
	}
	if len(r.outcomes) > 4 {
		r.outcomes = r.outcomes[:4]
	}
	// Data moves over the link: a libtorrent A downloads the torrent
	// from B, the seed.
	if r.joined && a.kind == "libtorrent" && b.kind == "libtorrent" {
		r.data = a.p.Until(30*time.Second, downloaded)
	}
	if !r.joined && punchable(r.a, r.b) {
		// What each side said of the other, for the failure the parent
		// reports.
		for _, side := range []struct {
			name string
			s    *ltSide
		}{{"A", a}, {"B", b}, {"relay", rs}} {
			var said []string
			for _, e := range side.s.p.Events() {
				if e["event"] == "holepunch" || e["event"] == "disconnected" || e["event"] == "connected" || e["event"] == "dial-failed" {
					said = append(said, fmt.Sprint(e))
				}
			}
			if len(said) > 30 {
				said = said[len(said)-30:]
			}
			t.Logf("%s (%s) said:\n%s", side.name, side.s.kind, strings.Join(said, "\n"))
		}
	}
	return nil
}

// eventTime is an event's "time" stamp (pex's and lt_node.py's), or zero.
func eventTime(ev proc.Event) time.Time {
	if ev == nil {
		return time.Time{}
	}
	at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(ev["time"]))
	return at
}

// envInt is the positive integer in the environment variable, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
