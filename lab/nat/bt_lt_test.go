package nat

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
)

// ltHome is one peer of TestLibtorrentAcrossNATs: a pex bt swarm or a
// libtorrent 2.0.8 behind a router of one kind.
type ltHome struct {
	label     string // "pex:" or "lt:", and the router's kind
	kind      natlab.Router
	h         *natlab.Host
	side      *ltSide
	reachable bool // its router lets a stranger's dial in
}

// links is who h is linked to, of homes, by IP: "punch" where the link
// followed a BEP 55 connect message, "link" otherwise. pex's are every
// link it ever made (its connected events); libtorrent's, those of its
// last peers list.
func (h *ltHome) links(byIP map[string]*ltHome) map[*ltHome]string {
	m := map[*ltHome]string{}
	mark := func(ip string, punched bool) {
		o := byIP[ip]
		switch {
		case o == nil:
		case punched:
			m[o] = "punch"
		case m[o] == "":
			m[o] = "link"
		}
	}
	if h.side.kind == "pex" {
		for _, ev := range h.side.p.Events() {
			if ev["event"] != "connected" {
				continue
			}
			if ap, err := netip.ParseAddrPort(fmt.Sprint(ev["peer"])); err == nil {
				mark(ap.Addr().Unmap().String(), ev["holepunch"] == true)
			}
		}
		return m
	}
	for _, p := range ltPeersOf(h.side.p) {
		if p.Linked {
			mark(p.IP, p.Holepunched)
		}
	}
	return m
}

// libtorrent behind every kind of router, beside pex behind the same
// kinds, in one swarm bootstrapped from two public pex seeds that tell
// everyone about everyone by PEX (TestBitTorrentAcrossNATs is its pex-only
// twin). A libtorrent behind a UPnP router maps its port there itself
// (its UPnP and NAT-PMP on, talking to the lab's miniupnpd). Every pair
// of which one side can be dialed, or which a punch can join, must end
// linked, whichever client each side runs; no other pair may. The pairs a
// punch can join are told apart by how they met: a link that followed a
// BEP 55 connect message (the pex seeds relay it), or their own uTP dials
// crossing both routers, since PEX names them to each other at once.
func TestLibtorrentAcrossNATs(t *testing.T) {
	needLibtorrent(t)
	ltParallel(t)
	torrent := ltTorrent(t, t.TempDir())
	l := natlab.New(t)
	var seeds []string
	for _, name := range []string{"ls1", "ls2"} {
		h := l.PublicHost(name)
		addr := h.Addr.String() + ":6881"
		if start(t, h, "bt", "swarm", "--torrent", torrent, "--listen", addr, "--no-azmp").Wait("listening", 10*time.Second, nil) == nil {
			t.Fatal("a seed did not start")
		}
		seeds = append(seeds, addr)
	}
	kinds := []struct {
		r         natlab.Router
		noMap     bool
		reachable bool
	}{
		{natlab.Public, false, true},
		{natlab.Forward, false, true},
		{natlab.UPnP, false, true},
		{natlab.UPnP, true, false},
		{natlab.EIM, false, false},
		{natlab.Symmetric, false, false},
		{natlab.Firewall, false, false},
	}
	var homes []*ltHome
	byIP := map[string]*ltHome{}
	for i, k := range kinds {
		label := k.r.String()
		if k.noMap {
			label += "-nomap"
		}
		for _, client := range []string{"pex", "lt"} {
			h := &ltHome{label: client + ":" + label, kind: k.r, reachable: k.reachable}
			h.h = l.HomeHost(fmt.Sprintf("lh%s%d", client, i), k.r, 5000)
			if client == "pex" {
				args := []string{"bt", "swarm", "--torrent", torrent, "--listen", "0.0.0.0:5000"}
				if k.noMap {
					args = append(args, "--no-portmap")
				}
				for _, s := range seeds {
					args = append(args, "--peer", s)
				}
				h.side = &ltSide{kind: "pex", p: start(t, h.h, args...)}
			} else {
				h.side = &ltSide{kind: "libtorrent", p: startLibtorrent(t, h.h, torrent, 5000, ltOptions{portmap: k.r == natlab.UPnP && !k.noMap}, seeds...)}
			}
			homes = append(homes, h)
			byIP[h.h.Public.String()] = h
		}
	}
	connected := func(a, b *ltHome) bool {
		_, ab := a.links(byIP)[b]
		_, ba := b.links(byIP)[a]
		return ab || ba
	}
	punched := func(a, b *ltHome) bool { return a.links(byIP)[b] == "punch" || b.links(byIP)[a] == "punch" }
	canJoin := func(a, b *ltHome) bool { return a.reachable || b.reachable || punchable(a.kind, b.kind) }
	// A libtorrent behind a UPnP router with mapping says where it mapped.
	for _, h := range homes {
		if h.side.kind == "libtorrent" && h.kind == natlab.UPnP && h.reachable && h.side.p.Wait("portmap", 30*time.Second, nil) == nil {
			t.Errorf("%s did not map its port at its router: %s", h.label, h.side.p.Log())
		}
	}
	// Wait until every pair that can link has (BEP 11's pace: a seed
	// names a newcomer to its older peers a minute later at most).
	deadline := time.Now().Add(170 * time.Second)
	for time.Now().Before(deadline) {
		missing := 0
		for i, a := range homes {
			for _, b := range homes[i+1:] {
				if canJoin(a, b) && !connected(a, b) {
					missing++
				}
			}
		}
		if missing == 0 {
			break
		}
		time.Sleep(time.Second)
	}
	var sb strings.Builder
	sb.WriteString("\nlibtorrent and pex behind routers: linked (link), joined by a BEP 55 punch (punch), or not (-)\n")
	labels := make([]string, len(homes))
	for i, h := range homes {
		labels[i] = h.label
	}
	writeMatrix(&sb, labels, 15, func(i, j int) string {
		switch a, b := homes[i], homes[j]; {
		case punched(a, b):
			return "punch"
		case connected(a, b):
			return "link"
		}
		return "-"
	})
	type tally struct{ pairs, joined, needPunch, byPunch, byChance int }
	var withLT, ltLT tally
	for i, a := range homes {
		for _, b := range homes[i+1:] {
			want, got := canJoin(a, b), connected(a, b)
			if got != want {
				t.Errorf("%s and %s: linked %v, want %v", a.label, b.label, got, want)
			}
			if a.side.kind == "pex" && b.side.kind == "pex" {
				continue // TestBitTorrentAcrossNATs' pairs
			}
			for _, c := range []*tally{&withLT, &ltLT} {
				if c == &ltLT && (a.side.kind != "libtorrent" || b.side.kind != "libtorrent") {
					continue
				}
				c.pairs++
				if got {
					c.joined++
				}
				if want && !a.reachable && !b.reachable {
					c.needPunch++
					switch {
					case punched(a, b):
						c.byPunch++
					case got:
						c.byChance++
					}
				}
			}
		}
	}
	for _, c := range []struct {
		name string
		t    tally
	}{{"pairs with libtorrent on a side", withLT}, {"of them, libtorrent on both", ltLT}} {
		fmt.Fprintf(&sb, "%s: %d of %d linked; of the %d neither side of which can be dialed but a punch can join, %d by a BEP 55 punch, %d by their own dials crossing\n",
			c.name, c.t.joined, c.t.pairs, c.t.needPunch, c.t.byPunch, c.t.byChance)
	}
	t.Log(sb.String())
}
