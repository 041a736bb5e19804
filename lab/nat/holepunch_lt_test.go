package nat

import (
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
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

// ltTorrent writes a one-file torrent and its data (in dir/seed).
func ltTorrent(t *testing.T, dir string) string {
	t.Helper()
	data := make([]byte, 2<<20)
	for i := range data {
		data[i] = byte(i * 131)
	}
	const pieceLen = 16 << 10
	var pieces []byte
	for i := 0; i < len(data); i += pieceLen {
		h := sha1.Sum(data[i : i+pieceLen])
		pieces = append(pieces, h[:]...)
	}
	info := map[string]any{"name": "pex-punch.bin", "length": int64(len(data)), "piece length": int64(pieceLen), "pieces": string(pieces)}
	tor, err := bencode.Encode(map[string]any{"info": info})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "punch.torrent")
	os.WriteFile(path, tor, 0o644)
	os.MkdirAll(filepath.Join(dir, "seed"), 0o755)
	os.WriteFile(filepath.Join(dir, "seed", "pex-punch.bin"), data, 0o644)
	return path
}

// ltSide is one side of a pair: pex or libtorrent.
type ltSide struct {
	kind string // "pex" or "libtorrent"
	p    *proc.Proc
}

// startSide starts kind in h, listening on port, dialing peers; a B side
// (target) of pex runs --no-pex; a libtorrent seed has the data.
func startSide(t *testing.T, h *natlab.Host, kind, torrent string, port int, seed, target bool, peers ...string) *ltSide {
	t.Helper()
	listen := fmt.Sprintf("0.0.0.0:%d", port)
	if kind == "pex" {
		args := []string{"bt", "swarm", "--torrent", torrent, "--listen", listen, "--no-portmap", "--duration", "4m"}
		if target {
			args = append(args, "--no-pex")
		}
		for _, p := range peers {
			args = append(args, "--peer", p)
		}
		return &ltSide{kind: kind, p: start(t, h, args...)}
	}
	if h.Addr6.IsValid() { // a dual-stack host: libtorrent dials only families it listens on
		listen += fmt.Sprintf(",[::]:%d", port)
	}
	save := t.TempDir()
	if seed {
		save = filepath.Join(filepath.Dir(torrent), "seed")
	}
	args := []string{filepath.Join(proc.Root(), "testdata", "bt", "lt_node.py"), "--torrent", torrent, "--save", save,
		"--listen", listen, "--utp", "--duration", "240", "--log-holepunch", "--connect-timeout", "5"}
	if seed {
		args = append(args, "--seed")
	}
	for _, p := range peers {
		args = append(args, "--peer", p)
	}
	p := proc.StartT(t, h.Command(context.Background(), "/usr/bin/python3", args...), proc.Name(h.NS+": libtorrent"), proc.Grace(0))
	if p.Wait("listening", 30*time.Second, nil) == nil {
		t.Fatalf("libtorrent in %s did not start", h.NS)
	}
	// A torrent still checking its files turns peers away: over uTP a
	// dial then fails (after its timeout), and the peer links over TCP,
	// which a libtorrent relay cannot find (it matches a target by its
	// link's address).
	if p.Wait("peers", 30*time.Second, func(ev proc.Event) bool { return !strings.Contains(fmt.Sprint(ev["state"]), "checking") }) == nil {
		t.Fatalf("libtorrent in %s still checking its files", h.NS)
	}
	return &ltSide{kind: kind, p: p}
}

// ltPeersOf is a libtorrent side's last peers.
func ltPeersOf(p *proc.Proc) []ltPeerInfo {
	var last struct {
		Peers []ltPeerInfo `json:"peers"`
	}
	if ev := p.Last("peers"); ev != nil {
		b, _ := json.Marshal(ev)
		json.Unmarshal(b, &last)
	}
	return last.Peers
}

type ltPeerInfo struct {
	IP          string `json:"ip"`
	Port        int    `json:"port"`
	Source      int    `json:"source"`
	UTP         bool   `json:"utp"`
	Holepunched bool   `json:"holepunched"`
	Linked      bool   `json:"linked"` // past its handshakes
}

// linkTo reports whether s is linked to a peer at ip, and whether that
// link says it followed a punch.
func (s *ltSide) linkTo(ip string) (linked, punched bool) {
	if s.kind == "pex" {
		for _, ev := range s.p.Events() {
			if ev["event"] == "connected" && strings.HasPrefix(fmt.Sprint(ev["peer"]), ip+":") {
				linked = true
				punched = punched || ev["holepunch"] == true
			}
		}
		return linked, punched
	}
	for _, p := range ltPeersOf(s.p) {
		if p.IP == ip && p.Linked {
			linked = true
			punched = punched || p.Holepunched
		}
	}
	return linked, punched
}

// heardOf reports whether a libtorrent side has a peer at ip (from PEX).
func (s *ltSide) heardOf(ip string) bool {
	for _, p := range ltPeersOf(s.p) {
		if p.IP == ip {
			return true
		}
	}
	return false
}

func TestHolepunchWithLibtorrent(t *testing.T) {
	if _, err := os.Stat("/usr/lib/python3/dist-packages/libtorrent.cpython-311-x86_64-linux-gnu.so"); err != nil {
		if matches, _ := filepath.Glob("/usr/lib/python3/dist-packages/libtorrent*.so"); len(matches) == 0 {
			if os.Getenv("CI") == "true" {
				t.Fatal("python3-libtorrent is not installed")
			}
			t.Skip("python3-libtorrent is not installed")
		}
	}
	l := natlab.New(t)
	torrent := ltTorrent(t, t.TempDir())
	type scenario struct{ relay, a, b string }
	scenarios := []scenario{
		{"pex", "libtorrent", "libtorrent"},
		{"libtorrent", "pex", "pex"},
		{"libtorrent", "libtorrent", "pex"},
		{"libtorrent", "pex", "libtorrent"},
	}
	pairs := [][2]natlab.Router{{natlab.EIM, natlab.Firewall}, {natlab.EIM, natlab.Symmetric}}
	if os.Getenv("PEX_NAT_FULL") != "" {
		pairs = [][2]natlab.Router{{natlab.EIM, natlab.EIM}, {natlab.EIM, natlab.Firewall}, {natlab.Firewall, natlab.Firewall},
			{natlab.EIM, natlab.Symmetric}, {natlab.Firewall, natlab.Symmetric}, {natlab.Symmetric, natlab.Symmetric}}
	}
	n := 0
	for i, sc := range scenarios {
		if only := os.Getenv("PEX_NAT_SCENARIO"); only != "" && only != fmt.Sprint(i+1) { // 1 to 4, to look at one
			continue
		}
		name := fmt.Sprintf("%s and %s through a %s relay", sc.a, sc.b, sc.relay)
		var results []punchResult
		for _, pr := range pairs {
			n++
			relay := l.PublicHost(fmt.Sprintf("ltr%d", n))
			filler := l.PublicHost(fmt.Sprintf("ltf%d", n))
			ha := l.HomeHost(fmt.Sprintf("lta%d", n), pr[0], 5000)
			hb := l.HomeHost(fmt.Sprintf("ltb%d", n), pr[1], 5000)
			relayAddr := relay.Addr.String() + ":6881"
			rs := startSide(t, relay, sc.relay, torrent, 6881, false, false)
			// The filler gives the relay a peer to tell B of before A comes.
			fs := startSide(t, filler, "pex", torrent, 6881, false, true, relayAddr)
			if fs.p.Wait("connected", 20*time.Second, nil) == nil {
				t.Fatalf("%s: the filler did not reach the relay", name)
			}
			// B seeds where A, a libtorrent, downloads from it; a libtorrent
			// relay drops a link between two seeds ("upload to upload").
			b := startSide(t, hb, sc.b, torrent, 5000, sc.a == "libtorrent" && sc.relay == "pex", true, relayAddr)
			if b.kind == "libtorrent" && sc.relay == "pex" && !b.p.Until(45*time.Second, func() bool { return b.heardOf(filler.Addr.String()) }) {
				t.Fatalf("%s: B never heard of the filler from the relay", name)
			}
			if b.kind == "pex" && b.p.Wait("connected", 20*time.Second, nil) == nil {
				t.Fatalf("%s: B did not reach the relay", name)
			}
			if b.kind == "libtorrent" && !b.p.Until(30*time.Second, func() bool { ok, _ := b.linkTo(relay.Addr.String()); return ok }) {
				t.Fatalf("%s: B did not reach the relay: its peers %+v; its events %v", name, ltPeersOf(b.p), b.p.Events())
			}
			begun := time.Now()
			a := startSide(t, ha, sc.a, torrent, 5000, false, false, relayAddr)
			r := punchResult{a: pr[0], b: pr[1]}
			bIP := hb.Public.String()
			limit := 55 * time.Second
			if sc.relay == "libtorrent" {
				limit = 90 * time.Second // libtorrent's ut_pex goes out once a minute
			}
			a.p.Until(limit, func() bool { ok, _ := a.linkTo(bIP); return ok })
			r.joined, r.punched = a.linkTo(bIP)
			if _, bp := b.linkTo(ha.Public.String()); bp {
				r.punched = true
			}
			// libtorrent flags a link holepunched only on the side whose
			// own punch made it; a pex relay says when it sent connect to
			// the pair. B heard of the filler first, so the relay cannot
			// have told B of A before a minute had passed: a link within
			// that minute, after a connect, is the punch's.
			if !r.punched && rs.kind == "pex" && r.joined && r.took < time.Minute {
				for _, e := range rs.p.Events() {
					if e["event"] == "holepunch" && e["outcome"] == "connect-sent" && strings.HasPrefix(fmt.Sprint(e["peer"]), bIP+":") {
						r.punched = true
					}
				}
			}
			// Data moves over the link: a libtorrent A downloads the
			// torrent from B, the seed.
			if r.joined && a.kind == "libtorrent" && b.kind == "libtorrent" {
				r.data = a.p.Until(30*time.Second, func() bool {
					ev := a.p.Last("peers")
					return ev != nil && strings.Contains(fmt.Sprint(ev["state"]), "seeding")
				})
			}
			if r.joined {
				r.took = time.Since(begun)
			}
			for _, e := range a.p.Events() {
				if e["event"] != "holepunch" {
					continue
				}
				if a.kind == "pex" {
					r.outcomes = append(r.outcomes, fmt.Sprintf("%v(%v)", e["outcome"], e["peer"]))
				} else {
					r.outcomes = append(r.outcomes, fmt.Sprint(e["msg"]))
				}
			}
			if len(r.outcomes) > 4 {
				r.outcomes = r.outcomes[:4]
			}
			results = append(results, r)
			for _, s := range []*ltSide{a, b, fs, rs} {
				s.p.Stop()
			}
		}
		reportPunches(t, name, results)
		for _, r := range results {
			want := punchable(r.a, r.b)
			switch {
			case want && !r.joined:
				t.Errorf("%s, %s x %s: a punch can join them, but they did not link", name, r.a, r.b)
			case want && !r.punched && (sc.b == "pex" || sc.relay == "pex" && os.Getenv("PEX_NAT_STRICT") != ""):
				// A libtorrent B cannot be kept from dialing A (it has no
				// --no-pex): the two may meet by their dials crossing,
				// which the table reports. A pex B never dials A.
				t.Errorf("%s, %s x %s: linked, but not by a punch", name, r.a, r.b)
			case want && sc.a == "libtorrent" && sc.b == "libtorrent" && !r.data:
				t.Errorf("%s, %s x %s: linked, but the download did not finish over the link", name, r.a, r.b)
			case !want && r.joined:
				t.Errorf("%s, %s x %s: linked, though no punch can join them", name, r.a, r.b)
			}
		}
	}
}
