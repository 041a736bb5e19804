package interop

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/webrtc"
)

// TestMain runs the interop tests inside a private network namespace that
// has only loopback, when it can make one (root, unshare and ip present):
// the real clients then cannot reach anything but each other, whatever
// their settings. Elsewhere they run on the host's loopback addresses.
func TestMain(m *testing.M) {
	if os.Getenv("PEX_NETNS") == "" && os.Geteuid() == 0 {
		unshare, err1 := exec.LookPath("unshare")
		ip, err2 := exec.LookPath("ip")
		if err1 == nil && err2 == nil {
			self, _ := os.Executable()
			cmd := exec.Command(unshare, append([]string{"-n", "--", "sh", "-c", `"$0" link set lo up && exec "$@"`, ip, self}, os.Args[1:]...)...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
			cmd.Env = append(os.Environ(), "PEX_NETNS=1")
			if err := cmd.Run(); err != nil {
				if ee, ok := err.(*exec.ExitError); ok {
					os.Exit(ee.ExitCode())
				}
				fmt.Fprintln(os.Stderr, "interop: could not enter a network namespace:", err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	goleak.VerifyTestMain(m)
}

const network = "pxp-mesh"

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

// requireJS skips (or, under CI=true, fails) when the JS reference is missing.
func requireJS(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(), "testdata", "js")
	missing := ""
	if _, err := exec.LookPath("node"); err != nil {
		missing = "node is not installed"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "peer-exchange", "package.json")); err != nil {
		missing = "the JS reference is not installed (npm ci in testdata/js)"
	} else if _, err := os.Stat(filepath.Join(dir, "node_modules", "@roamhq", "wrtc", "package.json")); err != nil {
		missing = "@roamhq/wrtc is not installed (npm ci in testdata/js)"
	}
	if missing != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("interop: %s", missing)
		}
		t.Skipf("interop: %s", missing)
	}
	return dir
}

type event map[string]any

func (e event) str(k string) string { s, _ := e[k].(string); return s }

// jsNode is a running testdata/js/node.js process.
type jsNode struct {
	t      *testing.T
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	mu     sync.Mutex
	events []event
	cond   *sync.Cond
	stderr bytesBuffer // written by os/exec while tests may read it
	done   chan struct{}
}

func startJS(t *testing.T, name string, args ...string) *jsNode {
	t.Helper()
	dir := requireJS(t)
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "node.js"), "--network", network}, args...)...)
	cmd.Dir = dir
	j := &jsNode{t: t, name: name, cmd: cmd, done: make(chan struct{})}
	j.cond = sync.NewCond(&j.mu)
	cmd.Stderr = &j.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if j.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(j.done)
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			var ev event
			if json.Unmarshal(sc.Bytes(), &ev) != nil {
				continue
			}
			j.mu.Lock()
			j.events = append(j.events, ev)
			j.cond.Broadcast()
			j.mu.Unlock()
		}
		j.mu.Lock()
		j.cond.Broadcast()
		j.mu.Unlock()
	}()
	t.Cleanup(j.stop)
	return j
}

func (j *jsNode) send(line string) {
	if _, err := io.WriteString(j.stdin, line+"\n"); err != nil {
		j.t.Fatalf("%s: stdin: %v", j.name, err)
	}
}

// wait returns the first event called name (from index 0) that matches.
func (j *jsNode) wait(name string, match func(event) bool) event {
	j.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	timer := time.AfterFunc(20*time.Second, func() { j.mu.Lock(); j.cond.Broadcast(); j.mu.Unlock() })
	defer timer.Stop()
	j.mu.Lock()
	defer j.mu.Unlock()
	for {
		for _, ev := range j.events {
			if ev.str("event") == name && (match == nil || match(ev)) {
				return ev
			}
		}
		select {
		case <-j.done:
			j.t.Fatalf("%s exited before %q; events %v; stderr %s", j.name, name, j.events, j.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			j.t.Fatalf("%s: no %q event in 20 s; events %v; stderr %s", j.name, name, j.events, j.stderr.String())
		}
		j.cond.Wait()
	}
}

func (j *jsNode) count(name string) int {
	j.mu.Lock()
	defer j.mu.Unlock()
	n := 0
	for _, ev := range j.events {
		if ev.str("event") == name {
			n++
		}
	}
	return n
}

func (j *jsNode) has(name string, match func(event) bool) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, ev := range j.events {
		if ev.str("event") == name && (match == nil || match(ev)) {
			return true
		}
	}
	return false
}

func (j *jsNode) stop() {
	j.stdin.Close()
	select {
	case <-j.done:
	case <-time.After(5 * time.Second):
		j.cmd.Process.Kill()
		<-j.done
	}
	j.cmd.Wait()
	if j.t.Failed() {
		j.t.Logf("%s events: %v\nstderr: %s", j.name, j.events, j.stderr.String())
	}
}

func (j *jsNode) port() int {
	ev := j.wait("listening", nil)
	return int(ev["port"].(float64))
}

func lineIs(s string) func(event) bool { return func(e event) bool { return e.str("line") == s } }

// goNode is an in-process Exchange with an optional TCP listener.
type goNode struct {
	t   *testing.T
	ex  *pxp.Exchange
	ln  net.Listener
	wg  sync.WaitGroup
	mu  sync.Mutex
	acc []*pxp.Conn
	cch chan *pxp.Conn
}

func newGoNode(t *testing.T, listen bool) *goNode {
	return newGoNodeCfg(t, listen, true)
}

// newGoNodeCfg makes a Go node, with WebRTC (loopback only) when asked.
func newGoNodeCfg(t *testing.T, listen, withWebRTC bool) *goNode {
	t.Helper()
	cfg := &pxp.Config{}
	if os.Getenv("PEX_DEBUG") != "" { // the Go nodes' debug log on stderr
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if withWebRTC {
		up, err := webrtc.New(&webrtc.Config{Loopback: true})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Upgrader = up
	}
	var ln net.Listener
	if listen {
		// A listening Go node advertises its address for direct dials.
		var err error
		if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		cfg.AdvertiseAddr = ln.Addr().String()
	}
	var d net.Dialer
	cfg.Dialer = d.DialContext
	ex, err := pxp.New(network, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g := &goNode{t: t, ex: ex, ln: ln, cch: make(chan *pxp.Conn, 16)}
	if listen {
		g.wg.Add(1)
		go func() {
			defer g.wg.Done()
			for {
				c, err := g.ln.Accept()
				if err != nil {
					return
				}
				g.wg.Add(1)
				go func() {
					defer g.wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if dc, err := g.ex.Accept(ctx, c); err == nil {
						g.cch <- dc
					}
				}()
			}
		}()
	}
	g.wg.Add(1)
	go func() {
		defer g.wg.Done()
		for c := range g.ex.Incoming() {
			g.cch <- c
		}
	}()
	t.Cleanup(g.close)
	return g
}

func (g *goNode) addr() string { return g.ln.Addr().String() }

func (g *goNode) close() {
	if g.ln != nil {
		g.ln.Close()
	}
	g.ex.Close()
	g.wg.Wait()
}

func (g *goNode) dial(addr string) *pxp.Conn {
	g.t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		g.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dc, err := g.ex.Connect(ctx, c)
	if err != nil {
		g.t.Fatalf("Connect to %s: %v", addr, err)
	}
	return dc
}

// next returns the next data stream accepted or introduced.
func (g *goNode) next() *pxp.Conn {
	g.t.Helper()
	select {
	case c := <-g.cch:
		return c
	case <-time.After(20 * time.Second):
		g.t.Fatal("no data stream arrived in 20 s")
		return nil
	}
}

func readLine(t *testing.T, c net.Conn) string {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	var sb strings.Builder
	b := make([]byte, 1)
	for {
		if _, err := c.Read(b); err != nil {
			t.Fatalf("read: %v (got %q)", err, sb.String())
		}
		if b[0] == '\n' {
			return sb.String()
		}
		sb.WriteByte(b[0])
	}
}

func writeLine(t *testing.T, c net.Conn, s string) {
	t.Helper()
	if _, err := io.WriteString(c, s+"\n"); err != nil {
		t.Fatal(err)
	}
}

func TestJSConnectsToGo(t *testing.T) {
	g := newGoNode(t, true)
	js := startJS(t, "js", "--connect", g.addr(), "--hello", "hi from js", "--echo")
	c := g.next()
	if c.Transport() != "tcp" {
		t.Fatalf("transport %q", c.Transport())
	}
	if got := readLine(t, c); got != "hi from js" {
		t.Fatalf("got %q", got)
	}
	writeLine(t, c, "hi from go")
	js.wait("data", lineIs("hi from go"))
	if got := readLine(t, c); got != "echo:hi from go" {
		t.Fatalf("got %q", got)
	}
	if p := c.Peer(); p.ID() != "" || len(g.ex.Peers()) != 1 {
		t.Fatalf("JS peer id %q, peers %d", p.ID(), len(g.ex.Peers()))
	}
}

func TestGoConnectsToJS(t *testing.T) {
	js := startJS(t, "js", "--listen", "0", "--hello", "hi from js listener", "--echo")
	g := newGoNode(t, false)
	c := g.dial("127.0.0.1:" + strconv.Itoa(js.port()))
	if got := readLine(t, c); got != "hi from js listener" {
		t.Fatalf("got %q", got)
	}
	writeLine(t, c, "ping")
	if got := readLine(t, c); got != "echo:ping" {
		t.Fatalf("got %q", got)
	}
	js.wait("data", lineIs("ping"))
}

// A Go node relays: JS B's getNewPeer reaches JS C (WebRTC between them,
// signaled through the Go relay); the Go relay keeps both links, and a third
// JS node's getNewPeer succeeds too (the JS relay fails it: defect B1).
func TestGoRelaysForJS(t *testing.T) {
	g := newGoNode(t, true)
	jc := startJS(t, "C", "--connect", g.addr(), "--hello", "I am C", "--echo")
	g.next()
	jb := startJS(t, "B", "--connect", g.addr(), "--hello", "I am B")
	g.next()
	jb.send("getnewpeer")
	res := jb.wait("getnewpeer", nil)
	if res["ok"] != true {
		t.Fatalf("getNewPeer through the Go relay failed: %v", res)
	}
	jb.wait("data", lineIs("I am C"))
	jc.wait("data", lineIs("I am B"))
	jb.wait("data", lineIs("echo:I am B"))
	// The relay closed its relay streams with END only: both links stay.
	jd := startJS(t, "D", "--connect", g.addr(), "--hello", "I am D")
	g.next()
	if n := len(g.ex.Peers()); n != 3 {
		t.Fatalf("Go relay holds %d links, want 3 (B, C, D)", n)
	}
	jd.send("getnewpeer")
	res = jd.wait("getnewpeer", nil)
	if res["ok"] != true {
		t.Fatalf("second getNewPeer through the Go relay failed: %v", res)
	}
	if jb.has("disconnect", nil) && jc.has("disconnect", func(e event) bool { return e["peers"].(float64) == 0 }) {
		t.Fatal("a JS node lost its link to the Go relay")
	}
	if n := len(g.ex.Peers()); n != 3 {
		t.Fatalf("after two introductions the Go relay holds %d links, want 3", n)
	}
	if st := g.ex.Stats(); st.RelayedBytes == 0 {
		t.Fatalf("relay carried no bytes: %+v", st)
	}
}

// A JS node relays for two Go nodes: with WebRTC they meet over a data
// channel; without it the requester keeps the relayed session.
func TestJSRelaysForGo(t *testing.T) {
	for _, tc := range []struct {
		webrtc bool
		want   string
	}{{true, "webrtc"}, {false, "relay"}} {
		t.Run(tc.want, func(t *testing.T) {
			ja := startJS(t, "A", "--listen", "0")
			addr := "127.0.0.1:" + strconv.Itoa(ja.port())
			gb, gc := newGoNodeCfg(t, false, tc.webrtc), newGoNodeCfg(t, false, tc.webrtc)
			gc.dial(addr)
			gb.dial(addr)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			bc, err := gb.ex.GetNewPeer(ctx)
			if err != nil {
				t.Fatalf("GetNewPeer through the JS relay: %v", err)
			}
			if bc.Transport() != tc.want || bc.Peer().ID() != gc.ex.ID() {
				t.Fatalf("got %q to %q, want %s to %s", bc.Transport(), bc.Peer().ID(), tc.want, gc.ex.ID())
			}
			cc := gc.next()
			if cc.Transport() != tc.want {
				t.Fatalf("answerer got %q", cc.Transport())
			}
			writeLine(t, bc, "b to c")
			if got := readLine(t, cc); got != "b to c" {
				t.Fatalf("c read %q", got)
			}
			writeLine(t, cc, "c to b")
			if got := readLine(t, bc); got != "c to b" {
				t.Fatalf("b read %q", got)
			}
		})
	}
}

// A JS requester meets a Go answerer over WebRTC, through a Go relay and
// through a JS relay.
func TestJSRequesterGoAnswerer(t *testing.T) {
	for _, relay := range []string{"go", "js"} {
		t.Run(relay+" relay", func(t *testing.T) {
			addr := startRelay(t, relay)
			// The answerer advertises a TCP address: JS requesters ignore it.
			gc := newGoNode(t, true)
			gc.dial(addr)
			jb := startJS(t, "B", "--connect", addr, "--hello", "I am B", "--echo")
			jb.wait("connect", nil)
			jb.send("getnewpeer")
			if res := jb.wait("getnewpeer", nil); res["ok"] != true {
				t.Fatalf("JS getNewPeer: %v", res)
			}
			c := gc.next()
			if c.Transport() != "webrtc" || c.Peer().Via() != nil {
				t.Fatalf("Go answerer got %q", c.Transport())
			}
			if got := readLine(t, c); got != "I am B" {
				t.Fatalf("got %q", got)
			}
			writeLine(t, c, "I am C")
			jb.wait("data", lineIs("I am C"))
			if got := readLine(t, c); got != "echo:I am C" {
				t.Fatalf("got %q", got)
			}
		})
	}
}

// rawTCP connects to addr, optionally sends magic and a hello, then sends
// the given bytes.
func rawTCP(t *testing.T, addr string) net.Conn {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func frame(ch uint64, typ byte, payload string) []byte {
	b := appendUvarint(nil, ch<<3|uint64(typ))
	b = appendUvarint(b, uint64(len(payload)))
	return append(b, payload...)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func helloBytes(args string) []byte {
	b := []byte("#PXP#")
	b = append(b, frame(0, 0, "pxp")...)
	return append(b, frame(0, 2, `["hello","0",`+args+`]`+"\n")...)
}

// waitClosed reads until the node closes the connection.
func waitClosed(t *testing.T, c net.Conn) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the node did not close the connection")
	}
}

// Every error case of spec §8 sent at a Go node gets a clear error, affects
// only that connection, and the node then still serves JS peers.
func TestSpecErrorsAgainstGoNode(t *testing.T) {
	g := newGoNode(t, true)
	js := startJS(t, "bystander", "--connect", g.addr(), "--echo")
	by := g.next()
	const good = `[1,{"pxp":true,"relay":true,"webrtc":true},["pxp-mesh"]]`
	connect := frame(0, 2, `["connect","1","pxp-mesh"]`+"\n")
	cases := []struct {
		name   string
		in     []byte
		closed bool   // the node closes the link
		reply  string // a response the node must send
		errSub string // text of the error event
	}{
		{"wrong magic", []byte("#PXQ#"), true, "", "invalid magic"},
		{"hello version 2", helloBytes(`[2,null,["pxp-mesh"]]`), true, "", "invalid protocol version"},
		{"no common network", helloBytes(`[1,null,["nope"]]`), true, "", "no"},
		{"invalid JSON", append(append(helloBytes(good), connect...), frame(0, 2, "[\"getpeers\",\n")...), true, "", "invalid JSON"},
		{"not a 3-element array", append(append(helloBytes(good), connect...), frame(0, 2, "[\"getpeers\",\"2\"]\n")...), true, "", "3"},
		{"unknown command", append(append(helloBytes(good), connect...), frame(0, 2, "[\"bogus\",\"2\",null]\n")...), false, "", "unknown message"},
		{"getpeers unknown network", append(append(helloBytes(good), connect...), frame(0, 2, "[\"getpeers\",\"2\",\"nope\"]\n")...), false, `Peer requested an unknown network:\"nope\"`, "unknown network"},
		{"relay unknown candidate", append(append(helloBytes(good), connect...), frame(0, 2, "[\"relay\",\"2\",[\"abcd1234\"]]\n")...), false, "Peer requested unknown candidate: id=abcd1234", "unknown candidate"},
		{"connect twice", append(append(helloBytes(good), connect...), frame(0, 2, `["connect","2","pxp-mesh"]`+"\n")...), true, `Peer tried to connect to network \"pxp-mesh\" twice`, "twice"},
		{"upgrade unknown transport", append(append(helloBytes(good), connect...), frame(0, 2, `["upgrade","2",{"transport":"smoke"}]`+"\n")...), true, "", "unsupported transport upgrade"},
		{"ERR frame on a channel", append(append(helloBytes(good), connect...), append(frame(5, 0, "x"), frame(5, 6, "boom")...)...), false, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			drain(g.ex)
			c := rawTCP(t, g.addr())
			if _, err := c.Write(tc.in); err != nil {
				t.Fatal(err)
			}
			if tc.reply != "" || !tc.closed {
				got := readUntil(t, c, tc.reply)
				if tc.reply != "" && !strings.Contains(got, tc.reply) {
					t.Fatalf("no reply %q in %q", tc.reply, got)
				}
			}
			if tc.closed {
				waitClosed(t, c)
			}
			if tc.errSub != "" {
				waitError(t, g.ex, tc.errSub)
			}
			c.Close()
			// The bystander JS link still works.
			msg := "after " + tc.name
			writeLine(t, by, msg)
			if got := readLine(t, by); got != "echo:"+msg {
				t.Fatalf("bystander: %q", got)
			}
		})
	}
	// A new JS peer is served as usual. (First drop the data streams of
	// the raw connections above.)
	for len(g.cch) > 0 {
		<-g.cch
	}
	js2 := startJS(t, "late", "--connect", g.addr(), "--hello", "late js")
	late := g.next()
	if got := readLine(t, late); got != "late js" {
		t.Fatalf("late peer: %q", got)
	}
	js2.send("send bye")
	if got := readLine(t, late); got != "bye" {
		t.Fatalf("late peer: %q", got)
	}
	if js.count("uncaught") != 0 {
		t.Fatal("the JS bystander hit an uncaught exception")
	}
}

func drain(ex *pxp.Exchange) {
	for {
		select {
		case <-ex.Events():
		default:
			return
		}
	}
}

func waitError(t *testing.T, ex *pxp.Exchange, sub string) {
	t.Helper()
	deadline := time.After(20 * time.Second)
	var seen []string
	for {
		select {
		case ev := <-ex.Events():
			if ev.Type == pxp.EventError && ev.Err != nil {
				if strings.Contains(ev.Err.Error(), sub) {
					return
				}
				seen = append(seen, ev.Err.Error())
			}
		case <-deadline:
			t.Fatalf("no error event containing %q; saw %q", sub, seen)
		}
	}
}

// readUntil reads from a raw connection for up to 2 s or until want appears.
func readUntil(t *testing.T, c net.Conn, want string) string {
	t.Helper()
	var got []byte
	buf := make([]byte, 4096)
	deadline := time.Now().Add(2 * time.Second)
	if want != "" {
		deadline = time.Now().Add(20 * time.Second)
	}
	for time.Now().Before(deadline) {
		c.SetReadDeadline(deadline)
		n, err := c.Read(buf)
		got = append(got, buf[:n]...)
		if want != "" && strings.Contains(string(got), want) {
			break
		}
		if err != nil {
			break
		}
	}
	c.SetReadDeadline(time.Time{})
	return string(got)
}

// A Go requester meets a JS answerer over WebRTC, through a Go relay and
// through a JS relay.
func TestGoRequesterJSAnswerer(t *testing.T) {
	for _, relay := range []string{"go", "js"} {
		t.Run(relay+" relay", func(t *testing.T) {
			addr := startRelay(t, relay)
			jc := startJS(t, "C", "--connect", addr, "--hello", "I am C", "--echo")
			jc.wait("connect", nil)
			gb := newGoNode(t, false)
			gb.dial(addr)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := gb.ex.GetNewPeer(ctx)
			if err != nil {
				t.Fatalf("GetNewPeer: %v", err)
			}
			if c.Transport() != "webrtc" {
				t.Fatalf("transport %q", c.Transport())
			}
			if got := readLine(t, c); got != "I am C" {
				t.Fatalf("got %q", got)
			}
			writeLine(t, c, "I am B")
			if got := readLine(t, c); got != "echo:I am B" {
				t.Fatalf("got %q", got)
			}
			jc.wait("data", lineIs("I am B"))
		})
	}
}

// startRelay starts a hub that relays introductions: a Go node without
// WebRTC of its own, or a JS node; it returns the hub's TCP address.
func startRelay(t *testing.T, kind string) string {
	if kind == "go" {
		return newGoNodeCfg(t, true, false).addr()
	}
	return "127.0.0.1:" + strconv.Itoa(startJS(t, "A", "--listen", "0").port())
}

// Under CI (root, with unshare), the interop tests run in a namespace whose
// only interface is loopback.
func TestInPrivateNetworkNamespace(t *testing.T) {
	if os.Getenv("PEX_NETNS") != "1" {
		if os.Getenv("CI") == "true" && os.Geteuid() == 0 {
			t.Fatal("not running inside the private network namespace")
		}
		t.Skip("no private network namespace here")
	}
	out, err := exec.Command("ip", "-o", "link").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], ": lo:") {
		t.Fatalf("interfaces here: %s", out)
	}
}
