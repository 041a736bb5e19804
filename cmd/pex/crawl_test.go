package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// pex bt crawl, given one of five chained swarms, finds and reaches all
// five, stops when --idle passes, and writes the report, the graph and
// the coverage curve.
func TestBTCrawlCommand(t *testing.T) {
	ih := [20]byte{0xcc, 1}
	var addrs []netip.AddrPort
	for i := range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s, err := swarm.New(ih, &swarm.Config{ListenPort: ln.Addr().(*net.TCPAddr).Port})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { defer close(done); s.Serve(ln) }()
		go func() {
			for range s.Events() {
			}
		}()
		t.Cleanup(func() { s.Close(); <-done })
		addrs = append(addrs, netip.MustParseAddrPort(ln.Addr().String()))
		if i > 0 {
			s.AddPeer(addrs[i-1], swarm.SourceManual)
		}
	}
	out := filepath.Join(t.TempDir(), "crawl.json")
	lines := newLines()
	code := run(context.Background(), []string{"bt", "crawl", "--infohash", "cc01000000000000000000000000000000000000", "--peer", addrs[4].String(),
		"--pex-wait", "5s", "--idle", "3s", "--duration", "60s", "--json", "--out", out}, lines, io.Discard)
	if code != 0 {
		t.Fatalf("exit %d: %v", code, lines.evs)
	}
	sum := lines.wait(t, "summary", nil)
	if sum["known"].(float64) != 5 || sum["reached"].(float64) != 5 {
		t.Fatalf("summary %v", sum)
	}
	if lines.count("visited") != 5 || lines.count("learned") != 5 {
		t.Fatalf("%d visited and %d learned events", lines.count("visited"), lines.count("learned"))
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		InfoHash string `json:"infohash"`
		Peers    []struct {
			Addr, Source, Client string
			Reached              bool
		}
		Edges    []struct{ From, To, Net string }
		Coverage []struct{ Known, Reached int }
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.InfoHash != "cc01000000000000000000000000000000000000" || len(rep.Peers) != 5 || len(rep.Edges) < 4 || len(rep.Coverage) == 0 {
		t.Fatalf("report %s", b)
	}
	for _, p := range rep.Peers {
		if !p.Reached || !strings.HasPrefix(p.Client, "pex") {
			t.Errorf("peer %+v", p)
		}
	}
	dot, _ := os.ReadFile(out + ".dot")
	tsv, _ := os.ReadFile(out + ".coverage.tsv")
	if !strings.HasPrefix(string(dot), "digraph swarm") || !strings.HasPrefix(string(tsv), "seconds\tknown\tvisited\treached\n") {
		t.Fatalf("dot %q tsv %q", dot, tsv)
	}
}
