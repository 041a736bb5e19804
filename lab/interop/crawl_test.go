package interop

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/crawl"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// The crawler maps a swarm of 203 peers on loopback, in the test's
// network namespace: 200 pex swarms (each told of three earlier ones,
// room for 20 peers, half over ut_pex only) and three real clients
// (two libtorrent seeds, one aria2 seed), each dialed by two swarms. Given
// one swarm's address (a full one, as in a formed swarm: it makes room or
// sends a referral), it knows 95 % of the peers within two minutes,
// reaches the real clients and reads their handshakes; the coverage curve
// is logged.
func TestCrawlCoverage(t *testing.T) {
	requireLibtorrent(t)
	aria2 := requireProgram(t, "aria2c", "aria2")
	if testing.Short() {
		t.Skip("runs for two minutes")
	}
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	const n = 200
	// The real clients join through two swarms each, which dial them
	// first, before the swarm has filled their room (aria2 takes no peers
	// on its command line, and libtorrent's own dials leave from
	// 127.0.0.1, so a swarm it dialed would tell others a listen address
	// on the wrong host).
	lt1 := startLibtorrent(t, torrent, filepath.Join(dir, "seed"), "127.0.0.2", true, 4*time.Minute, 0)
	lt2 := startLibtorrent(t, torrent, filepath.Join(dir, "seed"), "127.0.0.3", true, 4*time.Minute, 0)
	ariaAddr, ariaProc := startAria2(t, aria2, torrent, filepath.Join(dir, "seed"), "127.0.0.4", true)
	real := map[netip.AddrPort]string{lt1.addr(): "libtorrent", lt2.addr(): "libtorrent", ariaAddr: "aria2"}
	dials := map[int]netip.AddrPort{10: lt1.addr(), 120: lt1.addr(), 60: lt2.addr(), 180: lt2.addr(), 30: ariaAddr, 150: ariaAddr}
	rng := rand.New(rand.NewPCG(1, 2))
	addrs := make([]netip.AddrPort, n)
	var swarms []*swarm.Swarm
	events := map[int]func() []swarm.Event{}
	for i := range n {
		var s *swarm.Swarm
		var evs func() []swarm.Event
		s, addrs[i], evs = startSwarmConfig(t, ih, swarm.Config{MaxPeers: 20, NoAZMP: i%2 == 1}, fmt.Sprintf("127.0.1.%d", i+1))
		events[i] = evs
		if a, ok := dials[i]; ok {
			s.AddPeer(a, swarm.SourceManual)
		}
		for k := 0; k < 3 && i > 0; k++ {
			s.AddPeer(addrs[rng.IntN(i)], swarm.SourceManual)
		}
		swarms = append(swarms, s)
	}
	// connectedTo reports whether a real client is linked to one of the
	// swarms that dial it: only then can PEX name it to the crawler.
	connectedTo := func(a netip.AddrPort) bool {
		for i, to := range dials {
			if to != a {
				continue
			}
			for _, p := range swarms[i].Peers() {
				if p.Addr == a || p.Listen == a {
					return true
				}
			}
		}
		return false
	}
	total := n + len(real)

	exists := map[netip.AddrPort]bool{}
	for _, a := range addrs {
		exists[a] = true
	}
	for a := range real {
		exists[a] = true
	}
	covered := func(r *crawl.Report) (n int) {
		for _, p := range r.Peers {
			if exists[p.Addr] {
				n++
			}
		}
		return n
	}
	// A second round a minute on learns the peers that joined after a
	// peer's first message to the crawler.
	// A crawler meets a swarm that has formed: each swarm past its first
	// PEX round (half its room taken), the real clients dialed.
	// The crawler's first peer is full, as peers in a formed swarm are:
	// it learns the others from the referral a full peer sends.
	first := -1 // the crawler's first peer: a full swarm
	proc.WaitFor(t, 60*time.Second, "the swarm to form, each real client linked to a swarm that dialed it", func() bool {
		for _, s := range swarms {
			if s.Stats().Peers < 10 {
				return false
			}
		}
		for a := range real {
			if !connectedTo(a) {
				return false
			}
		}
		// The first full swarm, the newest first (any will do: the
		// newest, which joined last, may wait a while for its last slot).
		for i := n - 1; i >= 0; i-- {
			if swarms[i].Stats().Peers == 20 {
				first = i
				return true
			}
		}
		return false
	}, func() string {
		below := 0
		for _, s := range swarms {
			if s.Stats().Peers < 10 {
				below++
			}
		}
		var unlinked []string
		for a, name := range real {
			if connectedTo(a) {
				continue
			}
			unlinked = append(unlinked, fmt.Sprintf("%s %v", name, a))
			// What the swarms that dial it saw of it.
			for i, to := range dials {
				if to != a {
					continue
				}
				for _, ev := range events[i]() {
					if ev.Peer.Addr() == a.Addr() || ev.Listen.Addr() == a.Addr() || ev.Peer.Addr() == netip.MustParseAddr("127.0.0.1") {
						unlinked = append(unlinked, fmt.Sprintf("\n  swarm %d: %v %v listen %v outgoing %v err %v", i, ev.Type, ev.Peer, ev.Listen, ev.Outgoing, ev.Err))
					}
				}
			}
		}
		var ended []string
		for _, p := range []*proc.Proc{lt1.Proc, lt2.Proc, ariaProc} {
			select {
			case <-p.Done():
				ended = append(ended, p.Name())
			default:
			}
		}
		return fmt.Sprintf("%d swarms below 10 peers; real clients not linked to a swarm that dialed them: %v (ended: %v); no swarm full",
			below, unlinked, ended)
	})
	cr, err := crawl.New(ih, &crawl.Config{Concurrency: 64, PEXWait: 100 * time.Second, Revisit: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	cr.Add(addrs[first], crawl.SourceManual, netip.AddrPort{}, "")
	refBefore := swarms[first].Stats().Referrals
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); cr.Run(ctx) }()
	go func() {
		for range cr.Events() {
		}
	}()
	start := time.Now()
	var at95 time.Duration
	for ctx.Err() == nil {
		time.Sleep(time.Second)
		r := cr.Report()
		if at95 == 0 && covered(r)*100 >= total*95 {
			at95 = time.Since(start)
		}
		realVisited := 0
		for _, p := range r.Peers {
			if _, ok := real[p.Addr]; ok && p.Visited > 0 {
				realVisited++
			}
		}
		if covered(r) == total && realVisited == len(real) && r.Visited == r.Known {
			break
		}
	}
	cancel()
	<-done
	r := cr.Report()
	var curve strings.Builder
	for _, p := range r.Coverage {
		fmt.Fprintf(&curve, "  %6.1f s  known %3d  visited %3d  reached %3d\n", p.Seconds, p.Known, p.Visited, p.Reached)
	}
	t.Logf("coverage of %d peers: 95%% known after %v, %d known in the %.1f s run (and %d addresses no peer listens on: libtorrent's dials leave from 127.0.0.1, so peers it dialed name it there):\n%s",
		total, at95.Round(100*time.Millisecond), covered(r), r.Elapsed, r.Known-covered(r), curve.String())
	if covered(r)*100 < total*95 {
		for i, p := range r.Peers {
			if i < 30 {
				t.Logf("peer %+v", p)
			}
		}
		t.Fatalf("knew %d of the %d peers", covered(r), total)
	}
	ours := map[netip.AddrPort]bool{}
	for _, a := range addrs {
		ours[a] = true
	}
	for _, p := range r.Peers {
		want, ok := real[p.Addr]
		if !ok {
			if !ours[p.Addr] {
				t.Logf("other peer %+v", p)
			}
			continue
		}
		t.Logf("real client %v: reached %v, client %q, listen %d, yourip %v, pex %v (named %d) %s", p.Addr, p.Reached, p.Client, p.Listen, p.YourIP, p.PEX, p.Named, p.Err)
		if !p.Reached || !strings.Contains(strings.ToLower(p.Client), want) {
			t.Errorf("real client %v: reached %v, client %q; want %s", p.Addr, p.Reached, p.Client, want)
		}
		delete(real, p.Addr)
	}
	if len(real) > 0 {
		t.Errorf("real clients never learned: %v", real)
	}
	// A full peer makes room for the crawler by closing an idle incoming
	// link when it has one, and refers it elsewhere when it has none.
	t.Logf("the full first peer (swarm %d) sent %d referrals", first, swarms[first].Stats().Referrals-refBefore)
}
