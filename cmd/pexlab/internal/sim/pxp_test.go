package sim

import (
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A reduced run: 500 nodes through one seed, each growing to 8 peers.
// Every node gets there, the overlay is one component, and it is no
// hub-and-spoke: no node takes more than the engine's MaxPeers, and paths
// are short.
func TestPXPRun(t *testing.T) {
	synctest.Test(t, testPXPRun)
}

func testPXPRun(t *testing.T) {
	res, err := RunPXP(t.Context(), PXPConfig{Nodes: 500, Want: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	o := res.Overlay
	t.Logf("join p50 %.0f ms, p99 %.0f ms; %+v", Percentile(res.JoinMS, 50), Percentile(res.JoinMS, 99), o)
	if res.Failed != 0 || len(res.JoinMS) != 500 || res.AtTarget != 500 {
		t.Fatalf("%d failed, %d at target", res.Failed, res.AtTarget)
	}
	if o.Nodes != 500 || o.Largest != 500 {
		t.Fatalf("largest component %d of %d", o.Largest, o.Nodes)
	}
	if o.MeanDegree < 8 || len(res.InDegree) > 65 || o.PathLength > 2*o.RandPathLength+1 {
		t.Fatalf("overlay %+v, in-degrees up to %d", o, len(res.InDegree)-1)
	}
}

// A mass failure of half the nodes: the survivors heal into one
// component at their target. On virtual time: healing is timed in it,
// and the machine's load does not move it.
func TestPXPMassFailure(t *testing.T) {
	synctest.Test(t, testPXPMassFailure)
}

func testPXPMassFailure(t *testing.T) {
	res, err := RunPXP(t.Context(), PXPConfig{Nodes: 300, Want: 6, Seed: 2, Kill: 0.5, HealFor: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	k := res.Kill
	t.Logf("killed %d: largest %.2f, at target %.2f right after; healed in %v", k.Killed, k.LargestAfter, k.AtTargetAfter, k.Healed)
	if k.Killed != 150 || k.Healed == 0 || k.HealedLinks == 0 || k.HealedLinks > k.Healed || k.KillTook <= 0 || k.KillTook > k.Healed || k.Introductions == 0 || res.AtTarget != res.Alive || res.Alive != 150 || k.Final.Largest != 150 {
		t.Fatalf("kill %+v, %d of %d at target", k, res.AtTarget, res.Alive)
	}
	// The first point is the overlay the moment the victims crashed: with
	// half the nodes gone, not every survivor can still have its 6.
	if k.AtTargetAfter >= 1 || k.Series[0].T != 0 {
		t.Fatalf("right after the kill: %+v", k.Series[0])
	}
}

// A link to a killed node stops counting toward Want at once, before the
// survivor has read the link's end: otherwise, on a loaded machine, a mass
// failure looked healed the moment after it (every survivor still "at
// Want" through the dead) and the run ended with survivors below it.
func TestOverlayPeersSkipTheDead(t *testing.T) {
	w := &pxpWorld{cfg: PXPConfig{Seeds: 1}, byID: map[string]int{}}
	w.cfg.defaults()
	w.nw = memnet.NewNetwork()
	defer w.closeAll()
	var nodes []*pxpNode
	for i := range 3 {
		n, err := w.newNode(i, 8)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, n)
	}
	link := func(a, b *pxpNode) {
		c, err := w.nw.DialFrom(nodeAddr(a.i, 9000).String(), b.addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := a.ex.Connect(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	link(nodes[1], nodes[0]) // to the seed: never counts
	link(nodes[1], nodes[2])
	if got := w.overlayPeers(nodes[1]); got != 1 {
		t.Fatalf("node 1 counts %d overlay peers, want 1 (node 2; the seed aside)", got)
	}
	nodes[2].mu.Lock()
	nodes[2].dead = true // killed, its links not yet closed
	nodes[2].mu.Unlock()
	if got := w.overlayPeers(nodes[1]); got != 0 {
		t.Fatalf("node 1 still counts %d overlay peers after node 2 died", got)
	}
	if at, alive := w.atTarget(); at != 0 || alive != 1 {
		t.Fatalf("atTarget = %d of %d, want 0 of 1", at, alive)
	}
	nodes[2].kill()
}

// A node killed while the top-up waited for a slot is not joined again:
// its exchange is closed for good, and retrying the seed held one of the
// Joining slots for 51 tries, 2.5 s, while live survivors waited for it
// (after a mass failure, every slot at once for about 2 s).
func TestKilledNodeNotJoined(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		w := &pxpWorld{cfg: PXPConfig{Seeds: 1}, byID: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
		w.cfg.defaults()
		w.nw = memnet.NewNetwork()
		defer w.closeAll()
		for i := range 2 {
			if _, err := w.newNode(i, 8); err != nil {
				t.Fatal(err)
			}
		}
		n := w.node(1)
		n.kill()
		start := time.Now()
		if w.join(t.Context(), n) {
			t.Fatal("a killed node joined")
		}
		if took := time.Since(start); took > 0 {
			t.Fatalf("joining a killed node took %v (retrying the seed), want no wait", took)
		}
		if got := len(w.node(0).ex.Peers()); got != 0 {
			t.Fatalf("the seed has %d peers, want 0", got)
		}
	})
}
