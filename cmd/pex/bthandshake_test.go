package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// otherIH is testIH mistyped: a swarm nobody else is in.
const otherIH = "3123456789abcdef0123456789abcdef01234567"

// newlineIH has a newline byte (0x0a) up front: Go's HTTP server, which
// reads a request line to its newline, answers a handshake carrying it at
// once (400 Bad Request) rather than waiting for more.
const newlineIH = "0a23456789abcdef0123456789abcdef01234567"

// A handshake that fails says why, on each side, in JSON and in text: a
// swarm of another infohash (the dialer's dial-failed, the listener's
// disconnected), an HTTP server and a PXP node (not BitTorrent).
func TestBTSwarmHandshakeFailuresSayWhy(t *testing.T) {
	a, aAddr := startSwarmCmd(t, "--infohash", testIH, "--listen", "127.0.0.1:0")
	out, code, stderr := runSwarm(t, "--infohash", otherIH, "--no-listen", "--peer", aAddr, "--duration", "1s")
	if code != 1 || !strings.Contains(stderr, "no peer connected") {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if ev := out.wait(t, "dial-failed", nil); ev["peer"] != aAddr || ev["source"] != "manual" ||
		!strings.HasPrefix(ev["reason"].(string), "wrong infohash: the peer's handshake is for swarm "+testIH) {
		t.Errorf("the dialer's dial-failed %v, want the wrong infohash named", ev)
	}
	if ev := a.wait(t, "disconnected", nil); ev["handshaking"] != true ||
		!strings.HasPrefix(ev["reason"].(string), "wrong infohash: the peer's handshake is for swarm "+otherIH) {
		t.Errorf("the listener's disconnected %v, want the wrong infohash named", ev)
	}

	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	webAddr := strings.TrimPrefix(web.URL, "http://")
	out, code, _ = runSwarm(t, "--infohash", newlineIH, "--no-listen", "--peer", webAddr, "--duration", "1s")
	if ev := out.wait(t, "dial-failed", nil); code != 1 || !strings.HasPrefix(ev["reason"].(string), `not BitTorrent: the peer answered "HTTP/1.1 400 Bad Request`) {
		t.Errorf("exit %d, dial-failed %v; want not BitTorrent", code, ev)
	}

	node, _ := startNode(t, "--network", "bt-mixup", "--listen", "127.0.0.1:0")
	nodeAddr := node.wait(t, "listening", nil)["addr"].(string)
	out, _, _ = runSwarm(t, "--infohash", testIH, "--no-listen", "--peer", nodeAddr, "--duration", "1s")
	if ev := out.wait(t, "dial-failed", nil); !strings.HasPrefix(ev["reason"].(string), `not BitTorrent: the peer answered "#`) {
		t.Errorf("a PXP node's dial-failed %v, want not BitTorrent", ev)
	}

	// Text mode says the same.
	var text strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	run(ctx, []string{"bt", "swarm", "--infohash", otherIH, "--no-listen", "--peer", aAddr, "--duration", "1s"}, &text, io.Discard)
	if want := "dial-failed peer=" + aAddr + ` source=manual reason="wrong infohash: the peer's handshake is for swarm ` + testIH; !strings.Contains(text.String(), want) {
		t.Errorf("text output lacks %q:\n%s", want, text.String())
	}
	if !strings.Contains(text.String(), "why peers left or were not reached:\n  "+aAddr+": wrong infohash") {
		t.Errorf("the table does not say why %s was not reached:\n%s", aAddr, text.String())
	}
}

// A flood of openings that fail from one IP prints five a reason, then
// sums the rest up.
func TestBTSwarmRefusalsAreLimited(t *testing.T) {
	a, aAddr := startSwarmCmd(t, "--infohash", testIH, "--listen", "127.0.0.1:0")
	for range 12 {
		c, err := net.Dial("tcp", aAddr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		c.Close()
	}
	a.waitUntil(10*time.Second, func() bool {
		return slices.ContainsFunc(a.evs, func(ev map[string]any) bool { return ev["event"] == "disconnected" })
	})
	time.Sleep(time.Second) // the other eleven fail meanwhile
	n := 0
	a.mu.Lock()
	for _, ev := range a.evs {
		if ev["event"] == "disconnected" {
			n++
			if !strings.HasPrefix(ev["reason"].(string), `not BitTorrent: the peer opened with "GET / HTTP/1.1`) {
				t.Errorf("disconnected %v", ev)
			}
		}
	}
	a.mu.Unlock()
	if n != 5 {
		t.Errorf("%d disconnected events for 12 openings from one IP, want 5", n)
	}
}

// Without --listen, pex bt swarm listens (at the first free one of
// 6881-6889, on every interface; the test moves both to loopback and two
// ports of its own, the first taken).
func TestBTSwarmListensByDefault(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free := freePort(t)
	defaultListenAt(t, "127.0.0.1", taken.Addr().(*net.TCPAddr).Port, free)
	out, code, stderr := runSwarm(t, "--infohash", testIH, "--duration", "300ms")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	ev := out.wait(t, "listening", nil)
	if ev["addr"] != "127.0.0.1:"+strconv.Itoa(free) || !strings.HasPrefix(ev["bound"].(string), "default: the first free port") {
		t.Fatalf("listening %v, want 127.0.0.1:%d by default", ev, free)
	}
	// A --peer at the address taken by default is this swarm: it says so.
	ownAddr := "127.0.0.1:" + strconv.Itoa(free)
	out, _, _ = runSwarm(t, "--infohash", testIH, "--peer", ownAddr, "--duration", "300ms")
	if ev := out.wait(t, "dial-failed", nil); ev["peer"] != ownAddr || ev["reason"] != "not dialed: this swarm's own listen address" {
		t.Fatalf("dial-failed %v, want its own address named", ev)
	}
	// --no-listen: none.
	out, _, _ = runSwarm(t, "--infohash", testIH, "--no-listen", "--duration", "100ms")
	if out.count("listening") != 0 {
		t.Fatalf("--no-listen listened: %v", out.evs)
	}
}

// freePort is a loopback port nobody listens on (now).
func freePort(t *testing.T) int {
	ap, err := net.ResolveTCPAddr("tcp", closedPort(t))
	if err != nil {
		t.Fatal(err)
	}
	return ap.Port
}

// The chooser behind the default: the first port of the list that is
// free, any port when none is; and the list is BEP 3's.
func TestListenFirstFree(t *testing.T) {
	if btListenHost != "0.0.0.0" || !slices.Equal(btListenPorts, []int{6881, 6882, 6883, 6884, 6885, 6886, 6887, 6888, 6889}) {
		t.Fatalf("default listen %s %v, want 0.0.0.0 and 6881-6889", btListenHost, btListenPorts)
	}
	a, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	pa, pb := a.Addr().(*net.TCPAddr).Port, freePort(t)
	ln, why, err := listenFirstFree("127.0.0.1", []int{pa, pb})
	if err != nil || ln.Addr().(*net.TCPAddr).Port != pb || why != "default: the first free port of "+strconv.Itoa(pa)+"-"+strconv.Itoa(pb) {
		t.Fatalf("listenFirstFree: %v %q %v, want port %d", ln, why, err, pb)
	}
	defer ln.Close()
	// Both taken: any port, and it says so.
	ln2, why, err := listenFirstFree("127.0.0.1", []int{pa, pb})
	if err != nil || slices.Contains([]int{pa, pb, 0}, ln2.Addr().(*net.TCPAddr).Port) || !strings.Contains(why, "taken, any port") {
		t.Fatalf("listenFirstFree with every port taken: %v %q %v", ln2, why, err)
	}
	ln2.Close()
}

// Trackers are told the port the swarm listens on, the default one
// included, and port 1 (never 0) by a swarm that does not listen.
func TestBTSwarmAnnouncesItsPort(t *testing.T) {
	var mu sync.Mutex
	var ports []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		ports = append(ports, r.URL.Query().Get("port"))
		mu.Unlock()
		io.WriteString(w, "d8:intervali1800e5:peers0:e")
	}))
	defer srv.Close()
	announced := func(args ...string) (port, listen string) {
		mu.Lock()
		ports = nil
		mu.Unlock()
		out, _, stderr := runSwarm(t, append([]string{"--infohash", testIH, "--tracker", srv.URL + "/announce", "--duration", "500ms"}, args...)...)
		out.wait(t, "announced", nil)
		if out.count("listening") > 0 {
			u, _ := url.Parse("tcp://" + out.wait(t, "listening", nil)["addr"].(string))
			listen = u.Port()
		}
		mu.Lock()
		defer mu.Unlock()
		if len(ports) == 0 {
			t.Fatalf("%v: no announce: %s", args, stderr)
		}
		return ports[0], listen
	}
	if p, _ := announced("--no-listen"); p != "1" {
		t.Errorf("--no-listen announced port %s, want 1", p)
	}
	if p, l := announced("--listen", "127.0.0.1:0"); p != l || p == "0" {
		t.Errorf("--listen announced port %s, listening on %s", p, l)
	}
	defaultListenAt(t, "127.0.0.1", freePort(t))
	if p, l := announced(); p != l || p == "0" || l == "" {
		t.Errorf("the default listen announced port %s, listening on %q", p, l)
	}
}

// --log-level debug (or PEX_DEBUG=1) logs the protocols to stderr, for
// bt swarm and bt crawl alike; without either, nothing is logged.
func TestBTLogLevel(t *testing.T) {
	dead := closedPort(t)
	logged := func(args ...string) string {
		var stderr strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		run(ctx, append(args, "--infohash", testIH, "--peer", dead, "--duration", "500ms"), io.Discard, &stderr)
		return stderr.String()
	}
	if s := logged("bt", "swarm", "--no-listen", "--log-level", "debug"); !strings.Contains(s, "level=DEBUG msg=\"swarm: dial failed\" peer="+dead) {
		t.Errorf("bt swarm --log-level debug logged %q", s)
	}
	if s := logged("bt", "crawl", "--log-level", "debug"); !strings.Contains(s, "level=DEBUG msg=\"crawl: visit ended\" peer="+dead) {
		t.Errorf("bt crawl --log-level debug logged %q", s)
	}
	if s := logged("bt", "swarm", "--no-listen"); strings.Contains(s, "DEBUG") {
		t.Errorf("bt swarm logged without being asked: %q", s)
	}
	t.Setenv("PEX_DEBUG", "1")
	if s := logged("bt", "swarm", "--no-listen"); !strings.Contains(s, "swarm: dial failed") {
		t.Errorf("bt swarm with PEX_DEBUG=1 logged %q", s)
	}
}

// A crawl that reached nobody exits 1 saying why, and its text output
// gives each failed visit's reason, five of one reason at most.
func TestBTCrawlReachedNobody(t *testing.T) {
	args := []string{"bt", "crawl", "--infohash", testIH, "--duration", "2s"}
	for dead := map[string]bool{}; len(dead) < 8; {
		if p := closedPort(t); !dead[p] {
			dead[p] = true
			args = append(args, "--peer", p)
		}
	}
	var stdout, stderr strings.Builder
	code := run(context.Background(), args, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "no peer reached: 8 known, 8 visited, none answered a handshake for this swarm (127.0.0.1:") {
		t.Fatalf("exit %d, stderr %q; want 1 and why", code, stderr.String())
	}
	visited := regexp.MustCompile(`(?m)^visited peer=127\.0\.0\.1:\d+ reached=false answered=false pex=false named=0 reason=".*connection refused" time=\S+Z$`)
	if n := len(visited.FindAllString(stdout.String(), -1)); n != 5 || !strings.Contains(stdout.String(), "suppressed of=visited count=3") {
		t.Fatalf("%d visited lines (want 5 and the rest suppressed):\n%s", n, stdout.String())
	}
	// Nothing to start from is no failure.
	if code := run(context.Background(), []string{"bt", "crawl", "--infohash", testIH, "--duration", "100ms"}, io.Discard, io.Discard); code != 0 {
		t.Fatalf("a crawl with nobody to try exited %d", code)
	}
}

// The built binary, as a user runs it: a swarm pointed at a swarm of
// another infohash says why on both sides, in text, and so does one
// pointed at an HTTP server.
func TestBinaryHandshakeReasons(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildPex(t)
	a := exec.Command(bin, "bt", "swarm", "--infohash", testIH, "--listen", "127.0.0.1:0", "--duration", "30s")
	pipe, err := a.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(); err != nil {
		t.Fatal(err)
	}
	defer a.Process.Kill()
	var aOut strings.Builder
	addr := make(chan string, 1)
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(pipe)
		re := regexp.MustCompile(`^listening addr=(\S+)`)
		for sc.Scan() {
			aOut.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var aAddr string
	select {
	case aAddr = <-addr:
	case <-time.After(20 * time.Second):
		t.Fatal("the listening swarm did not say where")
	}
	runBin := func(args ...string) (int, string, string) {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, args...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		return code, stdout.String(), stderr.String()
	}
	code, stdout, stderr := runBin("bt", "swarm", "--infohash", otherIH, "--no-listen", "--peer", aAddr, "--duration", "2s")
	if want := "dial-failed peer=" + aAddr + ` source=manual reason="wrong infohash: the peer's handshake is for swarm ` + testIH; code != 1 ||
		!strings.Contains(stdout, want) || !strings.Contains(stderr, "no peer connected within --duration 2s") {
		t.Errorf("exit %d; want 1, %q in stdout and the failure on stderr:\n%s\n%s", code, want, stdout, stderr)
	}
	web := httptest.NewServer(http.NotFoundHandler())
	defer web.Close()
	code, stdout, _ = runBin("bt", "swarm", "--infohash", newlineIH, "--no-listen", "--peer", strings.TrimPrefix(web.URL, "http://"), "--duration", "2s")
	if code != 1 || !strings.Contains(stdout, `reason="not BitTorrent: the peer answered \"HTTP/1.1 400 Bad Request`) {
		t.Errorf("an HTTP server as --peer: exit %d:\n%s", code, stdout)
	}
	a.Process.Signal(os.Interrupt)
	<-read
	a.Wait()
	if want := ` reason="wrong infohash: the peer's handshake is for swarm ` + otherIH; !strings.Contains(aOut.String(), want) ||
		!regexp.MustCompile(`(?m)^disconnected peer=127\.0\.0\.1:\d+ reason=.* handshaking=true time=\S+Z$`).MatchString(aOut.String()) {
		t.Errorf("the listener's output lacks a disconnected event with %q:\n%s", want, aOut.String())
	}
}
