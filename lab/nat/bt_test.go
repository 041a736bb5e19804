package nat

import (
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/lab/natlab"
	"github.com/seed0021ed4d/pex/lab/proc"
)

// btHost is one `pex bt swarm` of the BitTorrent lab.
type btHost struct {
	label     string // router kind, and "-nomap" when --no-portmap
	kind      natlab.Router
	h         *natlab.Host
	p         *proc.Proc
	reachable bool // what the lab's router lets in: a peer can dial it
	mapping   string
}

// BitTorrent behind NAT: one swarm of peers behind every kind of router
// (two of each, and UPnP routers' hosts once with their port mapping and
// once without), bootstrapped from two public seeds that tell everyone
// about everyone by PEX. Each peer learns its public address from the
// seeds' yourip, maps its port where the router speaks NAT-PMP or UPnP,
// and proves itself reachable when a stranger dials in. A pair connects
// when one of the two can be dialed (a public host, a port forward, or a
// mapping), or else when a hole punch can join them: the seeds, linked to
// both, relay BEP 55's rendezvous, and the two open uTP to each other at
// once. Only a symmetric NAT facing another filtering router stays apart.
// A link counts as a punch's only when it followed a connect message;
// two peers told of each other at once by PEX dial each other at once,
// and their uTP SYNs can cross both routers by chance: the table tells
// the two apart.
func TestBitTorrentAcrossNATs(t *testing.T) {
	l := natlab.New(t)
	const ih = "0123456789abcdef0123456789abcdef01234567"
	var seeds []string
	for _, name := range []string{"s1", "s2"} {
		h := l.PublicHost(name)
		addr := h.Addr.String() + ":6881"
		// The seeds speak the extension protocol (BEP 10) to everyone: its
		// handshake carries yourip, AZMP's has nothing like it.
		if start(t, h, "bt", "swarm", "--infohash", ih, "--listen", addr, "--no-azmp").Wait("listening", 10*time.Second, nil) == nil {
			t.Fatal("a seed did not start")
		}
		seeds = append(seeds, "--peer", addr)
	}
	type kind struct {
		r         natlab.Router
		noMap     bool
		reachable bool
		mapping   string
	}
	kinds := []kind{
		{natlab.Public, false, true, "none"},
		{natlab.Forward, false, true, "none"},
		{natlab.UPnP, false, true, "natpmp"},
		{natlab.UPnP, true, false, "none"},
		{natlab.EIM, false, false, "none"},
		{natlab.Symmetric, false, false, "none"},
		{natlab.Firewall, false, false, "none"},
	}
	if only := os.Getenv("PEX_NAT_BT_KINDS"); only != "" { // e.g. "eim,firewall", to look at a few
		kinds = slices.DeleteFunc(kinds, func(k kind) bool { return !slices.Contains(strings.Split(only, ","), k.r.String()) })
	}
	var hosts []*btHost
	byIP := map[netip.Addr]*btHost{}
	for _, k := range kinds {
		for i := range 2 {
			label := k.r.String()
			if k.noMap {
				label += "-nomap"
			}
			b := &btHost{label: fmt.Sprintf("%s%d", label, i+1), kind: k.r, reachable: k.reachable, mapping: k.mapping}
			b.h = l.HomeHost(fmt.Sprintf("t%s%d", strings.ReplaceAll(label, "-", ""), i), k.r, 5000)
			args := append([]string{"bt", "swarm", "--infohash", ih, "--listen", "0.0.0.0:5000"}, seeds...)
			if k.noMap {
				args = append(args, "--no-portmap")
			}
			if os.Getenv("PEX_NAT_BT_DEBUG") != "" {
				args = append(args, "--log-level", "debug")
			}
			b.p = start(t, b.h, args...)
			hosts = append(hosts, b)
			byIP[b.h.Public] = b
		}
	}
	// Who is connected to whom, and who dialed, from the connected events.
	links := func(b *btHost) map[*btHost]string {
		m := map[*btHost]string{}
		for _, ev := range b.p.Events() {
			if ev["event"] != "connected" {
				continue
			}
			ap, err := netip.ParseAddrPort(fmt.Sprint(ev["peer"]))
			o := byIP[ap.Addr().Unmap()]
			if err != nil || o == nil {
				continue
			}
			switch {
			case ev["holepunch"] == true:
				m[o] = "punch"
			case m[o] == "punch":
			case ev["outgoing"] == true:
				m[o] = "out"
			case m[o] == "":
				m[o] = "in"
			}
		}
		return m
	}
	connected := func(a, b *btHost) bool { _, ok := links(a)[b]; return ok }
	// canJoin: one side can be dialed, or a punch can join them.
	canJoin := func(a, b *btHost) bool {
		return a.reachable || b.reachable || punchable(a.kind, b.kind)
	}
	punched := func(a, b *btHost) bool { return links(a)[b] == "punch" || links(b)[a] == "punch" }
	natOK := func(b *btHost) bool {
		nat := b.p.Last("nat")
		return nat != nil && nat["observed"] == b.h.Public.String() && nat["mapping"] == b.mapping && nat["reachable"] == b.reachable
	}
	// Wait until every pair that can connect has, and every host knows
	// its NAT.
	deadline := time.Now().Add(150 * time.Second)
	for {
		missing := 0
		for _, b := range hosts {
			if !natOK(b) {
				missing++
			}
		}
		for i, a := range hosts {
			for _, b := range hosts[i+1:] {
				if canJoin(a, b) && !connected(a, b) && !connected(b, a) {
					missing++
				}
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	var sb strings.Builder
	sb.WriteString("\nBitTorrent: row dialed column (out), column dialed row (in), a hole punch joined them (punch), or not connected (-)\n")
	labels := make([]string, len(hosts))
	for i, b := range hosts {
		labels[i] = b.label
	}
	writeMatrix(&sb, labels, 11, func(i, j int) string {
		if d := links(hosts[i])[hosts[j]]; d != "" {
			return d
		}
		return "-"
	})
	pairs, joined, needPunch, byPunch, byChance := 0, 0, 0, 0, 0
	for i, a := range hosts {
		for _, b := range hosts[i+1:] {
			pairs++
			want := canJoin(a, b)
			got := connected(a, b) || connected(b, a)
			if got {
				joined++
			}
			if !a.reachable && !b.reachable && want {
				needPunch++
				switch {
				case punched(a, b):
					byPunch++
				case got:
					byChance++
				}
			}
			if got != want {
				t.Errorf("%s and %s: connected %v, want %v", a.label, b.label, got, want)
			}
		}
	}
	fmt.Fprintf(&sb, "%d of %d pairs connected; of the %d pairs neither side of which can be dialed but a punch can join, %d joined by a BEP 55 punch (a link that followed a connect message), %d by their own dials crossing\n",
		joined, pairs, needPunch, byPunch, byChance)
	t.Log(sb.String())
	// A mapped router maps uTP's side of the port too (UDP), at the port
	// TCP's has: peers are told one port.
	for _, b := range hosts {
		if b.mapping == "none" {
			continue
		}
		udp := b.p.Wait("portmap", 5*time.Second, func(ev proc.Event) bool { return ev["protocol"] == "udp" })
		if udp == nil {
			t.Errorf("%s: no UDP port mapping for uTP (portmap events: %v)", b.label, b.p.Count("portmap", nil))
			continue
		}
		in := b.p.Count("connected", func(ev proc.Event) bool {
			return ev["transport"] == "utp" && ev["outgoing"] == false && ev["holepunch"] != true
		})
		t.Logf("%s: uTP mapped at %v (%v); %d uTP links came in", b.label, udp["external"], udp["method"], in)
		if udp["external"] != fmt.Sprintf("%s:5000", b.h.Public) {
			t.Errorf("%s: uTP mapped at %v, want %s:5000 (peers are told one port)", b.label, udp["external"], b.h.Public)
		}
	}
	for _, b := range hosts {
		if nat := b.p.Last("nat"); !natOK(b) {
			t.Errorf("%s: nat event %v; want observed %s, mapping %s, reachable %v", b.label, nat, b.h.Public, b.mapping, b.reachable)
		}
	}
}

// writeMatrix writes a table of every row label against every column
// label, width wide a column: "." on the diagonal, cell(row, column)
// elsewhere.
func writeMatrix(sb *strings.Builder, labels []string, width int, cell func(i, j int) string) {
	fmt.Fprintf(sb, "%*s", width, "")
	for _, l := range labels {
		fmt.Fprintf(sb, " %-*s", width, l)
	}
	sb.WriteString("\n")
	for i, l := range labels {
		fmt.Fprintf(sb, "%-*s", width, l)
		for j := range labels {
			c := "."
			if i != j {
				c = cell(i, j)
			}
			fmt.Fprintf(sb, " %-*s", width, c)
		}
		sb.WriteString("\n")
	}
}
