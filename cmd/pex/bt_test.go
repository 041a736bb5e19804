package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/dht"
)

func TestSwarmTarget(t *testing.T) {
	hexIH := "0123456789abcdef0123456789abcdef01234567"
	sw, err := swarmTarget(hexIH, "", "")
	if err != nil || fmt.Sprintf("%x", sw.InfoHash) != hexIH {
		t.Fatal(sw, err)
	}
	sw2, err := swarmTarget("", "magnet:?xt=urn:btih:"+hexIH+"&dn=x", "")
	if err != nil || sw2.InfoHash != sw.InfoHash {
		t.Fatal(sw2, err)
	}
	for _, bad := range [][3]string{{"", "", ""}, {"zz", "", ""}, {hexIH, "magnet:?xt=urn:btih:" + hexIH, ""}, {"", "http://x", ""}} {
		if _, err := swarmTarget(bad[0], bad[1], bad[2]); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
	// A torrent file: the infohash is the SHA-1 of the raw info dict; private is read.
	dir := t.TempDir()
	info := "d6:lengthi1e4:name1:x12:piece lengthi16384e6:pieces20:aaaaaaaaaaaaaaaaaaaa7:privatei1ee"
	os.WriteFile(filepath.Join(dir, "t.torrent"), []byte("d8:announce3:x:y4:info"+info+"e"), 0o644)
	sw3, err := swarmTarget("", "", filepath.Join(dir, "t.torrent"))
	if err != nil || sw3.InfoHash != sha1.Sum([]byte(info)) || !sw3.Private {
		t.Fatalf("%+v %v", sw3, err)
	}
}

// Two pex bt swarm commands and a third that knows only the first: it
// learns the second through ut_pex and connects to it.
func TestBTSwarmCommand(t *testing.T) {
	ih := "0123456789abcdef0123456789abcdef01234567"
	start := func(args ...string) *lines {
		out := newLines()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, append([]string{"bt", "swarm", "--infohash", ih, "--json", "--listen", "127.0.0.1:0"}, args...), out, io.Discard)
		}()
		t.Cleanup(func() { cancel(); <-done })
		return out
	}
	a := start()
	aAddr := a.wait(t, "listening", nil)["addr"].(string)
	b := start("--peer", aAddr)
	bAddr := b.wait(t, "listening", nil)["addr"].(string)
	a.wait(t, "connected", func(ev map[string]any) bool {
		return ev["source"] == "incoming" && strings.HasPrefix(ev["client"].(string), "pex")
	})
	c := start("--peer", aAddr)
	cAddr := c.wait(t, "listening", nil)["addr"].(string)
	// a tells b and c about each other; whichever hears first dials the
	// other, which then sees an incoming link.
	c.wait(t, "pex-received", func(ev map[string]any) bool { return slices.Contains(ev["added_peers"].([]any), any(bAddr)) })
	if !meetVia(c, bAddr, b, cAddr, "pex", 20*time.Second) {
		t.Fatalf("b and c did not meet through pex: b %v c %v", b.evs, c.evs)
	}
	// pex nodes run ut_pex between themselves (its flags and ut_holepunch
	// have no AZMP counterpart), though both offer AZMP.
	a.wait(t, "pex-sent", func(ev map[string]any) bool { return ev["added_count"].(float64) >= 1 && ev["net"] == "ut_pex" })
	b.wait(t, "connected", func(ev map[string]any) bool { return ev["peer"] == aAddr && ev["net"] == "ut_pex" })
}

// Without --json: progress lines, then a table of the swarm. --no-azmp
// makes the link ut_pex.
func TestBTSwarmTextTable(t *testing.T) {
	ih := "1123456789abcdef0123456789abcdef01234567"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	aAddr := ln.Addr().String()
	ln.Close()
	var out bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"bt", "swarm", "--infohash", ih, "--listen", aAddr, "--no-azmp", "--duration", "5s"}, &out, io.Discard)
	}()
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) { // until a listens
		if c, err := net.Dial("tcp", aAddr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(end) {
			t.Fatal("pex bt swarm --listen did not listen")
		}
	}
	b := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	bDone := make(chan int, 1)
	go func() {
		bDone <- run(ctx, []string{"bt", "swarm", "--infohash", ih, "--json", "--listen", "127.0.0.1:0", "--peer", aAddr}, b, io.Discard)
	}()
	defer func() { cancel(); <-bDone }()
	b.wait(t, "connected", func(ev map[string]any) bool { return ev["peer"] == aAddr && ev["net"] == "ut_pex" })
	select {
	case rc := <-done:
		if rc != 0 {
			t.Fatalf("exit %d: %s", rc, out.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("--duration 5s did not end the run")
	}
	text := out.String()
	for _, want := range []string{"peers: 1 connected", "elapsed ", ", left ", "PEER", "LISTENS ON", "CLIENT", "LEARNED", "MSE", "IN/OUT", "LEARNED: manual, incoming"} {
		if !strings.Contains(text, want) {
			t.Fatalf("output lacks %q:\n%s", want, text)
		}
	}
	row := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "pex/"+version) {
			row = l
		}
	}
	bAddr := b.wait(t, "listening", nil)["addr"].(string)
	if f := strings.Fields(row); len(f) < 9 || f[1] != bAddr || f[2] != "connected" || f[4] != "incoming" || f[6] != "ut_pex" || f[7] != "utp" || f[8] != "no" {
		t.Fatalf("no row for b (listening on %s, connected, incoming, ut_pex):\n%s", bAddr, text)
	}
}

// --tracker: a swarm learns a peer from an HTTP tracker and connects to it.
func TestBTSwarmTracker(t *testing.T) {
	ih := "0123456789abcdef0123456789abcdef01234567"
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"bt", "swarm", "--infohash", ih, "--json", "--listen", "127.0.0.1:0"}, out, io.Discard)
	}()
	defer func() { cancel(); <-done }()
	addr := netip.MustParseAddrPort(out.wait(t, "listening", nil)["addr"].(string))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := bencode.Encode(map[string]any{"interval": int64(1800), "peers": string(addr.Addr().AsSlice()) + string([]byte{byte(addr.Port() >> 8), byte(addr.Port())})})
		w.Write(b)
	}))
	defer srv.Close()
	out2 := newLines()
	ctx2, cancel2 := context.WithCancel(context.Background())
	done2 := make(chan int, 1)
	go func() {
		done2 <- run(ctx2, []string{"bt", "swarm", "--infohash", ih, "--json", "--no-listen", "--tracker", srv.URL + "/announce"}, out2, io.Discard)
	}()
	defer func() { cancel2(); <-done2 }()
	out2.wait(t, "announced", func(ev map[string]any) bool { return ev["peers"].(float64) == 1 })
	out2.wait(t, "connected", func(ev map[string]any) bool { return ev["peer"] == addr.String() && ev["source"] == "tracker" })
}

// --dht-bootstrap: two swarms bootstrap from a DHT node on loopback; one
// finds the other through get_peers and connects.
func TestBTSwarmDHT(t *testing.T) {
	root, err := dht.Start(dht.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	ih := "0123456789abcdef0123456789abcdef01234567"
	start := func() *lines {
		out := newLines()
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- run(ctx, []string{"bt", "swarm", "--infohash", ih, "--json", "--listen", "127.0.0.1:0", "--dht-bootstrap", root.Addr().String()}, out, io.Discard)
		}()
		t.Cleanup(func() { cancel(); <-done })
		return out
	}
	a := start()
	aAddr := a.wait(t, "listening", nil)["addr"].(string)
	b := start()
	bAddr := b.wait(t, "listening", nil)["addr"].(string)
	if !meetVia(a, bAddr, b, aAddr, "dht", 30*time.Second) {
		t.Fatal("the swarms did not find each other through the DHT")
	}
}

// meetVia waits, at most limit, until x connected to xPeer or y to yPeer,
// the peer learned from source, and reports whether one did.
func meetVia(x *lines, xPeer string, y *lines, yPeer, source string, limit time.Duration) bool {
	via := func(l *lines, peer string) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return slices.ContainsFunc(l.evs, func(ev map[string]any) bool {
			return ev["event"] == "connected" && ev["peer"] == peer && ev["source"] == source
		})
	}
	for end := time.Now().Add(limit); !via(x, xPeer) && !via(y, yPeer); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}
