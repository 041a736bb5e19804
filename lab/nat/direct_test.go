package nat

import (
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
)

// Direct TCP introductions know when they can work: a node learns the
// address peers see it at (two public relays agree on it), asks its
// router for a port mapping (NAT-PMP, PCP, UPnP: the lab's UPnP router runs
// miniupnpd), asks the relays to dial it back, and advertises the address
// only when they reach it. A
// requester without WebRTC then dials it directly, or, where nobody can
// reach it, gets the relayed session.
func TestDirectTCPAcrossNATs(t *testing.T) {
	l := natlab.New(t)
	r1, r2 := l.PublicHost("r1"), l.PublicHost("r2")
	for _, r := range []*natlab.Host{r1, r2} {
		if start(t, r, "node", "--network", network, "--listen", r.Addr.String()+":7000", "--no-webrtc").Wait("listening", 10*time.Second, nil) == nil {
			t.Fatal("a relay did not start")
		}
	}
	for _, c := range []struct {
		router    natlab.Router
		reachable bool
		mapping   string
	}{
		{natlab.Public, true, "none"},
		{natlab.Forward, true, "none"},
		{natlab.UPnP, true, "natpmp"},
		{natlab.EIM, false, "none"},
		{natlab.Symmetric, false, "none"},
		{natlab.Firewall, false, "none"},
	} {
		t.Run(c.router.String(), func(t *testing.T) {
			b := l.HomeHost("d"+c.router.String(), c.router, 5000)
			a := l.HomeHost("q"+c.router.String(), natlab.Public, 0)
			bp, err := startProc(b, "node", "--network", network, "--listen", "0.0.0.0:5000", "--no-webrtc",
				"--connect", r1.Addr.String()+":7000", "--connect", r2.Addr.String()+":7000")
			if err != nil {
				t.Fatal(err)
			}
			defer bp.Stop()
			nat := bp.Wait("nat", 20*time.Second, nil)
			if nat == nil {
				t.Fatal("no nat event")
			}
			t.Logf("behind %s: %v", c.router, nat)
			if nat["observed"] != b.Public.String() || nat["reachable"] != c.reachable || nat["mapping"] != c.mapping {
				t.Fatalf("nat event %v; want observed %s, reachable %v, mapping %s", nat, b.Public, c.reachable, c.mapping)
			}
			ap, err := startProc(a, "node", "--network", network, "--no-webrtc", "--connect", r1.Addr.String()+":7000", "--want", "2")
			if err != nil {
				t.Fatal(err)
			}
			defer ap.Stop()
			ev := ap.Wait("getnewpeer", 20*time.Second, nil)
			if ev == nil {
				t.Fatal("no introduction")
			}
			want := "relay"
			if c.reachable {
				want = "tcp"
			}
			if ev["transport"] != want {
				t.Fatalf("A reached B over %v, want %s", ev["transport"], want)
			}
		})
	}
}
