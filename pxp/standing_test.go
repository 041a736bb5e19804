package pxp

import (
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// A relay that names candidates and then refuses to introduce them (the
// pex sim's hoard attackers do) loses its standing: a node whose
// bootstrap it is, so that it is asked first, asks it in its first
// RelayFailures (3) GetNewPeer calls, each of which then takes its link
// from an honest relay, and not again until RelayBackoff (30 s) has
// passed; asked then, it fails once more and is held back for twice as
// long. With RelayFailures negative it is asked in every call. A node
// whose only relay it is asks it every time: standing never leaves a node
// with nobody to ask.
func TestSynctestRelayStanding(t *testing.T) {
	// setup starts the refusing relay and, with honest, a relay with 30
	// peers to introduce; node links to the refusing one first.
	setup := func(t *testing.T, cfg Config, honest bool) (*Exchange, *aimingRelay) {
		nw := memnet.NewNetwork()
		bad := listenAimingRelay(t, nw, "198.51.100.66:7000", "192.0.2.1:7000")
		if honest {
			listening(t, nw, "198.51.100.1:7000")
			for i := range 30 {
				listening(t, nw, fmt.Sprintf("10.%d.0.1:7000", i+1), "198.51.100.1:7000")
			}
		}
		// The refusing relay's candidates name an address where nobody
		// listens: the dial fails, and the relay is asked to introduce.
		cfg.Dialer = memDialer(nw, "203.0.113.9")
		node := newExchange(t, &cfg)
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.66:7000")
		if honest {
			joinVia(t, nw, node, "203.0.113.9:2", "198.51.100.1:7000")
		}
		synctest.Wait()
		return node, bad
	}
	// calls makes n GetNewPeer calls a second apart (within every
	// relay's GetPeersRate) and returns the links made.
	calls := func(node *Exchange, n int) (links int) {
		for range n {
			ps, _ := grow(node, 1)
			links += len(ps)
			time.Sleep(time.Second)
		}
		return links
	}
	t.Run("held back", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			node, bad := setup(t, Config{}, true)
			if links := calls(node, 10); links != 10 {
				t.Fatalf("%d links of 10 calls; want every call to bring one through the honest relay", links)
			}
			if asked, refused := bad.counts(); asked != 3 || refused == 0 {
				t.Fatalf("the refusing relay was asked in %d of 10 calls, and refused %d introductions; want the first 3 only, and some refused", asked, refused)
			}
			time.Sleep(30 * time.Second) // its backoff is over
			calls(node, 10)
			if asked, _ := bad.counts(); asked != 4 {
				t.Fatalf("after its backoff the refusing relay was asked %d times in all; want once more (4)", asked)
			}
			time.Sleep(40 * time.Second) // past 30 s, not past 60 s
			calls(node, 1)
			if asked, _ := bad.counts(); asked != 4 {
				t.Fatalf("asked %d times in all 50 s after failing once more; want it held back for 60 s (4)", asked)
			}
			time.Sleep(20 * time.Second)
			calls(node, 1)
			if asked, _ := bad.counts(); asked != 5 {
				t.Fatalf("asked %d times in all once its second backoff was over; want 5", asked)
			}
		})
	})
	t.Run("rule off", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			node, bad := setup(t, Config{RelayFailures: -1}, true)
			calls(node, 10)
			if asked, _ := bad.counts(); asked != 10 {
				t.Fatalf("with RelayFailures -1 the refusing relay was asked in %d of 10 calls; want all", asked)
			}
		})
	})
	t.Run("only relay", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			node, bad := setup(t, Config{}, false)
			if links := calls(node, 6); links != 0 {
				t.Fatalf("%d links through a relay that refuses every introduction", links)
			}
			if asked, _ := bad.counts(); asked != 6 {
				t.Fatalf("a node's only relay was asked in %d of 6 calls; want all", asked)
			}
		})
	})
}
