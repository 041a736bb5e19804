package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// A libtorrent node that knows only a full pex swarm is turned away with a
// referral (a ut_pex message naming the swarm's peer, then the link's
// end), and dials the peer it was referred to.
func TestLibtorrentFollowsReferral(t *testing.T) {
	requireLibtorrent(t)
	t.Parallel()
	dir := t.TempDir()
	torrent, ih := makeTorrent(t, dir)
	os.MkdirAll(filepath.Join(dir, "leech"), 0o755)

	other, otherAddr, _ := startSwarm(t, ih, "127.0.2.2")
	full, fullAddr, _ := startSwarmConfig(t, ih, swarm.Config{MaxPeers: 1}, "127.0.2.1")
	full.AddPeer(otherAddr, swarm.SourceManual) // its one slot: a peer it dialed, never let go
	proc.WaitFor(t, 10*time.Second, "the full swarm's one link", func() bool { return full.Stats().Peers == 1 })

	lt := startLibtorrent(t, torrent, filepath.Join(dir, "leech"), "127.0.2.3", false, time.Minute, 0, fullAddr.String())
	followed := func() bool {
		ps, _ := lt.snapshot()
		for _, p := range ps {
			if p.IP == otherAddr.Addr().String() && p.Port == int(otherAddr.Port()) && p.Source&4 != 0 {
				return true
			}
		}
		return false
	}
	proc.WaitFor(t, 45*time.Second, "libtorrent to dial the peer the full swarm referred it to", followed)
	if got := full.Stats().Referrals; got == 0 {
		t.Fatal("the full swarm counted no referral")
	}
	if got := other.Stats().Peers; got != 2 {
		t.Fatalf("the referred-to swarm holds %d peers, want the full swarm and libtorrent", got)
	}
	ps, reasons := lt.snapshot()
	t.Logf("libtorrent's peers %s; its disconnects %q; the full swarm sent %d referrals", fmt.Sprint(ps), reasons, full.Stats().Referrals)
}
