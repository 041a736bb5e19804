package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/dht"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lines collects JSON events written by a command.
type lines struct {
	mu   sync.Mutex
	cond *sync.Cond
	buf  strings.Builder
	evs  []map[string]any
}

func newLines() *lines {
	l := &lines{}
	l.cond = sync.NewCond(&l.mu)
	return l
}

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	s := l.buf.String()
	for {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			break
		}
		var ev map[string]any
		if json.Unmarshal([]byte(s[:i]), &ev) == nil {
			l.evs = append(l.evs, ev)
		}
		s = s[i+1:]
	}
	l.buf.Reset()
	l.buf.WriteString(s)
	l.cond.Broadcast()
	return len(p), nil
}

func (l *lines) wait(t *testing.T, name string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	stop := time.AfterFunc(20*time.Second, func() { l.mu.Lock(); l.cond.Broadcast(); l.mu.Unlock() })
	defer stop.Stop()
	deadline := time.Now().Add(20 * time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	for {
		for _, ev := range l.evs {
			if ev["event"] == name && (match == nil || match(ev)) {
				return ev
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q event; got %v", name, l.evs)
		}
		l.cond.Wait()
	}
}

func startNode(t *testing.T, args ...string) (*lines, func() int) {
	out := newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"node", "--json"}, args...), out, io.Discard) }()
	var once sync.Once
	code := 0
	stop := func() int {
		once.Do(func() { cancel(); code = <-done })
		return code
	}
	t.Cleanup(func() { stop() })
	return out, stop
}

func TestNodeCommand(t *testing.T) {
	a, stopA := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--hello", "hi from a")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	c, _ := startNode(t, "--network", "cli", "--connect", addr, "--hello", "hi from c", "--echo", "--ice-loopback")
	c.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "tcp" })
	b, _ := startNode(t, "--network", "cli", "--connect", addr, "--want", "2", "--hello", "hi from b", "--ice-loopback")
	gnp := b.wait(t, "getnewpeer", nil)
	if gnp["transport"] != "webrtc" || gnp["ms"].(float64) <= 0 {
		t.Fatalf("getnewpeer event %v", gnp)
	}
	b.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
	c.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "webrtc" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from c" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "echo:hi from b" })
	c.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from b" })
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from a" })
	// Stopping a: b and c report the disconnect and keep their link.
	if code := stopA(); code != 0 {
		t.Fatalf("node a exited %d", code)
	}
	b.wait(t, "disconnect", func(ev map[string]any) bool { return ev["transport"] == "tcp" })
}

func TestUsageErrors(t *testing.T) {
	for _, args := range [][]string{{}, {"nope"}, {"node"}, {"node", "--network", "x", "extra"}, {"demo", "--nodes", "1"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// Four nodes each wanting four peers must each meet every other: the two
// that do not listen (n2, n4) can only meet over WebRTC, so the demo shows
// both transports every time (with fewer wanted, whether any pair of
// non-listening nodes meets is up to chance).
func TestDemo(t *testing.T) {
	out := newLines()
	if code := run(context.Background(), []string{"demo", "--nodes", "4", "--want", "4", "--json"}, out, io.Discard); code != 0 {
		t.Fatalf("demo exited %d: %v", code, out.evs)
	}
	sum := out.wait(t, "summary", nil)
	rows := sum["nodes"].([]any)
	if len(rows) != 5 {
		t.Fatalf("%d rows", len(rows))
	}
	webrtcLinks := 0
	for _, r := range rows[1:] {
		row := r.(map[string]any)
		if row["peers"].(float64) < 4 || row["reached_ms"].(float64) <= 0 {
			t.Fatalf("node did not reach its target: %v", row)
		}
		if strings.Contains(row["transports"].(string), "webrtc") {
			webrtcLinks++
		}
	}
	if webrtcLinks == 0 {
		t.Fatalf("no node met another over WebRTC: %v", rows)
	}
	if sum["messages_sent"].(float64) == 0 || sum["bytes_sent"].(float64) == 0 {
		t.Fatalf("summary counts nothing: %v", sum)
	}
}

// The built binary closes its links cleanly on SIGTERM and SIGINT.
func TestSignalsCloseLinks(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "pex")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			cmd := exec.Command(bin, "node", "--network", "sig", "--listen", "127.0.0.1:0", "--json")
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(stdout)
			var addr string
			for sc.Scan() {
				var ev map[string]any
				json.Unmarshal(sc.Bytes(), &ev)
				if ev["event"] == "listening" {
					addr = ev["addr"].(string)
					break
				}
			}
			go io.Copy(io.Discard, stdout)
			ex, _ := pxp.New("sig", nil)
			defer ex.Close()
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conn, err := ex.Connect(context.Background(), nc)
			if err != nil {
				t.Fatal(err)
			}
			cmd.Process.Signal(sig)
			conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			if _, err := io.Copy(io.Discard, conn); err != nil {
				t.Fatalf("data stream did not end cleanly: %v", err)
			}
			select {
			case <-conn.Peer().Done():
			case <-time.After(10 * time.Second):
				t.Fatal("link not closed")
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("pex exited with %v", err)
			}
		})
	}
}

// A node that listens on an IP advertises it, and a Go requester dials it
// directly instead of going through the relay.
func TestNodeDirectDial(t *testing.T) {
	a, _ := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := a.wait(t, "listening", nil)["addr"].(string)
	c, _ := startNode(t, "--network", "cli", "--listen", "127.0.0.1:0", "--connect", addr, "--hello", "hi from c", "--no-webrtc")
	c.wait(t, "connect", nil)
	b, _ := startNode(t, "--network", "cli", "--connect", addr, "--want", "2", "--no-webrtc")
	gnp := b.wait(t, "getnewpeer", nil)
	if gnp["transport"] != "tcp" {
		t.Fatalf("getnewpeer event %v, want a direct tcp link", gnp)
	}
	b.wait(t, "data", func(ev map[string]any) bool { return ev["line"] == "hi from c" })
}

// pex node --ws takes PXP peers over WebSocket.
func TestNodeWebSocket(t *testing.T) {
	a, _ := startNode(t, "--network", "cli", "--ws", "127.0.0.1:0", "--hello", "hi over ws")
	addr := a.wait(t, "listening", func(ev map[string]any) bool { return ev["transport"] == "ws" })["addr"].(string)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := ws.Dial(ctx, "ws://"+addr+"/")
	if err != nil {
		t.Fatal(err)
	}
	ex, _ := pxp.New("cli", nil)
	defer ex.Close()
	dc, err := ex.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(dc).ReadString('\n')
	if line != "hi over ws\n" {
		t.Fatalf("got %q", line)
	}
	a.wait(t, "connect", func(ev map[string]any) bool { return ev["transport"] == "ws" })
}

// pex bench getnewpeer runs end to end (a few rounds; its numbers are not
// asserted, only that every setup measured something).
func TestBenchRuns(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	bin := filepath.Join(t.TempDir(), "pex")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	args := []string{"bench", "getnewpeer", "--n", "2", "--json", "--js", "../../testdata/js", "--pex", bin}
	if _, err := os.Stat("../../testdata/js/node_modules/peer-exchange"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("the JS reference is not installed")
		}
		args = append(args, "--no-js")
	}
	out := newLines()
	if code := run(context.Background(), args, out, os.Stderr); code != 0 {
		t.Fatalf("bench exited %d: %v", code, out.evs)
	}
	for _, setup := range []string{"go-webrtc", "go-direct", "go-relay"} {
		ev := out.wait(t, "latency", func(ev map[string]any) bool { return ev["setup"] == setup })
		if ev["p50_ms"].(float64) <= 0 {
			t.Fatalf("%s: %v", setup, ev)
		}
	}
	if rss := out.wait(t, "rss", nil)["peak_kib"].(float64); rss <= 0 {
		t.Fatalf("rss %v", rss)
	}
}

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
	c.wait(t, "pex-received", func(ev map[string]any) bool { return slices.Contains(ev["added"].([]any), any(bAddr)) })
	viaPEX := func(l *lines, peer string) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, ev := range l.evs {
			if ev["event"] == "connected" && ev["peer"] == peer && ev["source"] == "pex" {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for !viaPEX(c, bAddr) && !viaPEX(b, cAddr) {
		if time.Now().After(deadline) {
			t.Fatalf("b and c did not meet through pex: b %v c %v", b.evs, c.evs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// pex nodes prefer AZMP between themselves.
	a.wait(t, "pex-sent", func(ev map[string]any) bool { return ev["added"].(float64) >= 1 && ev["net"] == "azmp" })
	b.wait(t, "connected", func(ev map[string]any) bool { return ev["peer"] == aAddr && ev["net"] == "azmp" })
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
	for _, want := range []string{"peers: 1 connected", "PEER", "LISTENS ON", "CLIENT", "LEARNED", "IN/OUT"} {
		if !strings.Contains(text, want) {
			t.Fatalf("output lacks %q:\n%s", want, text)
		}
	}
	row := ""
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, "pex/0.1") {
			row = l
		}
	}
	bAddr := b.wait(t, "listening", nil)["addr"].(string)
	if f := strings.Fields(row); len(f) < 7 || f[1] != bAddr || f[2] != "connected" || f[4] != "incoming" || f[6] != "ut_pex" {
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
		done2 <- run(ctx2, []string{"bt", "swarm", "--infohash", ih, "--json", "--tracker", srv.URL + "/announce"}, out2, io.Discard)
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
	viaDHT := func(l *lines, peer string) bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, ev := range l.evs {
			if ev["event"] == "connected" && ev["peer"] == peer && ev["source"] == "dht" {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(30 * time.Second)
	for !viaDHT(a, bAddr) && !viaDHT(b, aAddr) {
		if time.Now().After(deadline) {
			t.Fatal("the swarms did not find each other through the DHT")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A source repeating one failure is printed a few times, then summed up in
// one suppressed event: a hello flood cannot fill the log.
func TestRepeatedErrorsSummarised(t *testing.T) {
	var out strings.Builder
	pr := &printer{w: &out, json: true}
	for i := range 1000 {
		pr.limited("10.0.0.1 "+errorKind(fmt.Errorf("pxp: refused getpeers %d", i)), "error", "error", fmt.Sprint("refused getpeers ", i), "remote", "10.0.0.1:1")
	}
	pr.limited("10.0.0.2 x", "error", "error", "other source")
	pr.flush(true)
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != repeatMax+2 {
		t.Fatalf("%d lines for 1000 repeats and one other, want %d:\n%s", len(lines), repeatMax+2, out.String())
	}
	if !strings.Contains(out.String(), `"event":"suppressed"`) || !strings.Contains(out.String(), `"count":995`) {
		t.Fatalf("no summary of 995 left out:\n%s", out.String())
	}
}

func TestVersionAndHelp(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "pex "+version) {
		t.Fatalf("version: %d %q", code, out.String())
	}
	for _, args := range [][]string{{"--version"}, {"node", "-h"}, {"help", "node"}, {"bt", "swarm", "-h"}, {"demo", "--help"}} {
		if code := run(context.Background(), args, io.Discard, io.Discard); code != 0 {
			t.Errorf("%v exited %d, want 0", args, code)
		}
	}
	if code := run(context.Background(), []string{"bench", "getnewpeer", "--n", "0"}, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), "--n") {
		t.Fatalf("--n 0: exit %d, %q", code, errOut.String())
	}
}

// Bad values are refused at start, naming their flag, with exit 2; a
// torrent file that cannot be read is a runtime error (exit 1).
func TestBadFlagsRefusedAtStart(t *testing.T) {
	ih := "0123456789abcdef0123456789abcdef01234567"
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"node", "--network", "x", "--want", "-1"}, "--want"},
		{[]string{"node", "--network", "x", "--max-peers", "-1"}, "--max-peers"},
		{[]string{"node", "--network", "x", "--advertise", "garbage"}, "--advertise"},
		{[]string{"node", "--network", "x", "--ice-server", "notaurl"}, "--ice-server"},
		{[]string{"node", "--network", "x", "stray"}, "stray"},
		{[]string{"demo", "--timeout", "-1s"}, "--timeout"},
		{[]string{"demo", "stray", "--nodes", "3"}, "stray"},
		{[]string{"bt", "swarm", "--infohash", ih, "--tracker", "ftp://x"}, "--tracker"},
		{[]string{"bt", "swarm", "--infohash", ih, "--peer", "garbage"}, "--peer"},
		{[]string{"bt", "swarm", "--infohash", ih, "--duration", "-1s"}, "--duration"},
		{[]string{"bt", "swarm", "--infohash", ih, "--max-peers", "-1"}, "--max-peers"},
		{[]string{"bt", "swarm", "--infohash", ih, "stray", "--duration", "1s"}, "stray"},
	} {
		var errOut strings.Builder
		if code := run(context.Background(), c.args, io.Discard, &errOut); code != 2 || !strings.Contains(errOut.String(), c.flag) {
			t.Errorf("%v: exit %d, %q; want 2 naming %s", c.args, code, errOut.String(), c.flag)
		}
	}
	if code := run(context.Background(), []string{"bt", "swarm", "--torrent", filepath.Join(t.TempDir(), "missing.torrent")}, io.Discard, io.Discard); code != 1 {
		t.Errorf("a missing torrent file: exit %d, want 1", code)
	}
}

// The demo's largest size: its bootstrap node takes every node (all on one
// address), and every node reaches its target.
func TestDemoTwoHundredNodes(t *testing.T) {
	out := newLines()
	if code := run(context.Background(), []string{"demo", "--nodes", "200", "--no-webrtc", "--json"}, out, io.Discard); code != 0 {
		t.Fatalf("demo --nodes 200 exited %d", code)
	}
	rows := out.wait(t, "summary", nil)["nodes"].([]any)
	if len(rows) != 201 || rows[0].(map[string]any)["peers"].(float64) < 200 {
		t.Fatalf("%d rows; the bootstrap node holds %v peers", len(rows), rows[0].(map[string]any)["peers"])
	}
}
