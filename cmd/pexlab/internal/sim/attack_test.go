package sim

import (
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// Hoard attackers, in a small run: they reach out to honest nodes up to
// their limit and no further, so they hold a share of the honest nodes'
// links; the figures hold together.
func TestAttackHoard(t *testing.T) { synctest.Test(t, testAttackHoard) }

func testAttackHoard(t *testing.T) {
	const links = 12
	res, err := RunPXP(t.Context(), PXPConfig{Nodes: 200, Want: 6, Seed: 3,
		Attack: AttackConfig{Fraction: 0.2, Links: links, For: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Attack
	e := a.End
	t.Logf("%+v; intros %d, %d to attackers (%d named by one)", e, a.Intros, a.IntrosToAttacker, a.IntrosNamed)
	if a.Attackers != 40 || a.Honest != 160 || e.Honest != 160 || e.Attackers != 40 || res.Alive != 160 {
		t.Fatalf("%d attackers and %d honest nodes (%d and %d live at the end, %d alive), want 40 and 160", a.Attackers, a.Honest, e.Attackers, e.Honest, res.Alive)
	}
	// Each attacker opens links up to its limit and not past it: with
	// 160 honest nodes to find, most get there.
	if e.LinksIn > a.Attackers*links || e.LinksIn < a.Attackers*links/2 {
		t.Fatalf("the attackers opened %d links to honest nodes; their limit is %d each, %d in all", e.LinksIn, links, a.Attackers*links)
	}
	checkAttackFigures(t, res)
}

// checkAttackFigures holds an attack's figures to each other.
func checkAttackFigures(t *testing.T, res *PXPResult) {
	t.Helper()
	a := res.Attack
	e := a.End
	if e.ShareMean <= 0 || e.ShareP99 < e.ShareMean || e.ShareMax < e.ShareP99 || e.ShareMax > 1 {
		t.Errorf("share mean %v, p99 %v, max %v: want 0 < mean <= p99 <= max <= 1", e.ShareMean, e.ShareP99, e.ShareMax)
	}
	if e.HonestLargest > e.Honest || e.Eclipsed+e.Isolated > e.Honest || e.AtWantHonest > e.AtWant || e.AtWant > e.Honest {
		t.Errorf("end point %+v does not hold together", e)
	}
	if a.PeakShareMean < e.ShareMean || a.PeakEclipsed < e.Eclipsed || a.LowLargest > e.HonestLargest {
		t.Errorf("the extremes over the attack (%v, %d, %d) miss its end (%+v)", a.PeakShareMean, a.PeakEclipsed, a.LowLargest, e)
	}
	if a.IntrosToAttacker > a.Intros || a.IntrosNamed > a.IntrosToAttacker || a.IntrosToAttacker == 0 {
		t.Errorf("introductions: %d, %d to attackers, %d named by one", a.Intros, a.IntrosToAttacker, a.IntrosNamed)
	}
	if len(a.Series) < 2 || !slices.IsSortedFunc(a.Series, func(x, y AttackPoint) int { return int(x.T - y.T) }) || a.Stop <= a.Start {
		t.Errorf("%d points over the run, attack from %v to %v", len(a.Series), a.Start, a.Stop)
	}
}

// Eclipse attackers link to their targets and keep at it; the targets'
// figures are recorded.
func TestAttackEclipse(t *testing.T) { synctest.Test(t, testAttackEclipse) }

func testAttackEclipse(t *testing.T) {
	res, err := RunPXP(t.Context(), PXPConfig{Nodes: 200, Want: 6, Seed: 4,
		Attack: AttackConfig{Fraction: 0.2, Strategy: AttackEclipse, Targets: 3, For: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Attack
	t.Logf("%+v; targets %+v", a.End, a.Targets)
	if len(a.Targets) != 3 {
		t.Fatalf("%d targets, want 3", len(a.Targets))
	}
	fewest := -1
	for _, tf := range a.Targets {
		// Every attacker aims at every target, and a target takes 56
		// incoming links: each holds links to attackers, many of them.
		if tf.EndLinks-tf.EndHonest < a.Attackers/2 {
			t.Errorf("target %d holds %d links to attackers of %d", tf.Node, tf.EndLinks-tf.EndHonest, a.Attackers)
		}
		if tf.MinHonest >= 0 && (fewest < 0 || tf.MinHonest < fewest) {
			fewest = tf.MinHonest
		}
	}
	if a.TargetsMinHonest != fewest {
		t.Errorf("targets_min_honest %d, the targets' fewest %d", a.TargetsMinHonest, fewest)
	}
	checkAttackFigures(t, res)
}

// Churn attackers come and go during the attack, a new one taking each
// leaver's place: never fewer live than at its start (a few more, when
// caught between a successor's start and its leaver's going).
func TestAttackChurn(t *testing.T) { synctest.Test(t, testAttackChurn) }

func testAttackChurn(t *testing.T) {
	res, err := RunPXP(t.Context(), PXPConfig{Nodes: 200, Want: 6, Seed: 5,
		Attack: AttackConfig{Fraction: 0.2, Strategy: AttackChurn, Links: 8, Lifetime: time.Second, For: 4 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	a := res.Attack
	t.Logf("%+v; %d joined, %d left", a.End, a.Joined, a.Left)
	// 40 attackers staying a second on average, for 4 s: about 160.
	if a.Left < int64(a.Attackers) || a.Joined != a.Left || a.End.Attackers < a.Attackers || a.End.Attackers > a.Attackers+a.Attackers/4 {
		t.Fatalf("%d attackers joined and %d left in 4 s of stays of 1 s; %d live at the end of %d", a.Joined, a.Left, a.End.Attackers, a.Attackers)
	}
	checkAttackFigures(t, res)
}

// The figures of one moment, on a world built by hand: honest nodes h1
// to h4, attackers a5 to a7; h1-h2 and h1→a5 (h1 opened it), a5→h3 and
// a6→h3 (the attackers opened them), h4 alone. And an attacker's answer
// to getpeers names attackers only, though it could offer an honest
// peer, and never itself nor the asker.
func TestAttackPoint(t *testing.T) { synctest.Test(t, testAttackPoint) }

func testAttackPoint(t *testing.T) {
	w := &pxpWorld{cfg: PXPConfig{Seeds: 1, Want: 2, Attack: AttackConfig{Fraction: 0.5}}, byID: map[string]int{}, rng: rand.New(rand.NewPCG(1, 2))}
	w.cfg.defaults()
	w.nw = memnet.NewNetwork()
	defer w.closeAll()
	w.atk = newAttackWorld(t.Context(), w)
	defer w.atk.stop()
	nodes := map[int]*pxpNode{}
	for i := range 5 {
		n, err := w.newNode(i, 8)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	for i := 5; i <= 7; i++ {
		n, err := w.atk.newAttacker(i, i)
		if err != nil {
			t.Fatal(err)
		}
		nodes[i] = n
	}
	link := func(a, b int) {
		c, err := w.nw.DialFrom(w.localAddr(nodes[a]), nodes[b].addr)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nodes[a].ex.Connect(t.Context(), c); err != nil {
			t.Fatal(err)
		}
	}
	link(4, 0) // the seed: never counted
	link(1, 2)
	link(1, 5)
	link(5, 3)
	link(6, 3)
	synctest.Wait() // both ends have joined every link
	p := w.atk.point()
	t.Logf("%+v", p)
	// No honest node opened a link to h1 (it opened both of its own, one
	// to an attacker) nor to h3 (it opened none).
	want := AttackPoint{T: p.T, Honest: 4, Attackers: 3, ShareMean: 0.5, ShareP99: 1, ShareMax: 1, OutShareMean: 0.5, Eclipsed: 1, Isolated: 1, NoHonestIn: 2, OutShareNoHonestIn: 0.5,
		HonestLargest: 2, AtWant: 2, AtWantHonest: 0, LinksIn: 2, LinksOut: 1, TargetsMinHonest: -1}
	if p != want {
		t.Fatalf("point %+v, want %+v", p, want)
	}
	// h3 is the eclipsed one: two links, both opened by attackers; h1
	// (an attacker among its links) and h4 (none) are not.
	if got, want := w.atk.eclipsedFigures(), []EclipsedFigures{{Node: 3, In: 2}}; !slices.Equal(got, want) {
		t.Fatalf("eclipsed nodes %+v, want %+v", got, want)
	}

	var toA5 *pxpNode
	for _, l := range nodes[1].ex.Peers() {
		if l.ID() != nodes[5].ex.ID() {
			continue
		}
		cands, err := l.GetPeers(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		var named []string
		for _, c := range cands {
			id, addr := candidateAddr(c.ConnectInfo)
			q, _ := w.nodeByID(id)
			if q == nil || q.atk == nil || addr != q.addr {
				t.Fatalf("attacker 5 named %s at %s, not an attacker", id, addr)
			}
			named = append(named, id)
		}
		slices.Sort(named)
		others := []string{nodes[6].ex.ID(), nodes[7].ex.ID()}
		slices.Sort(others)
		if !slices.Equal(named, others) {
			t.Fatalf("attacker 5 named %v, want the other attackers %v", named, others)
		}
		toA5 = nodes[5]
	}
	if toA5 == nil {
		t.Fatal("node 1 has no link to attacker 5")
	}
}

// Attackers sit in /24s of their own, apart from the honest nodes' and
// private like them; each has an address of its own; P prefixes are P
// /24s.
func TestAttackAddrs(t *testing.T) {
	honest := map[netip.Prefix]bool{}
	for i := range 1 << 16 {
		p, _ := nodeAddr(i, 7000).Addr().Prefix(24)
		honest[p] = true
	}
	for _, prefixes := range []int{1, 16, 5000} {
		seen := map[netip.AddrPort]bool{}
		nets := map[netip.Prefix]bool{}
		per := map[int]int{}
		for j := range 6000 {
			k := j % prefixes
			ap := attackAddr(k, per[k%attackPrefixes])
			per[k%attackPrefixes]++
			p, _ := ap.Addr().Prefix(24)
			if seen[ap] || honest[p] || !ap.Addr().IsPrivate() {
				t.Fatalf("attacker %d of %d prefixes at %v: taken %v, an honest /24 %v", j, prefixes, ap, seen[ap], honest[p])
			}
			seen[ap] = true
			nets[p] = true
		}
		if len(nets) != min(prefixes, attackPrefixes) {
			t.Fatalf("%d prefixes give %d /24s", prefixes, len(nets))
		}
	}
}
