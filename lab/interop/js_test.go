package interop

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/webrtc"
)

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
	// B and D open WebRTC links to JS nodes: see --hold-first-write in
	// testdata/js/node.js (the reference's own wrtc defect).
	jb := startJS(t, "B", "--connect", g.addr(), "--hello", "I am B", "--hold-first-write")
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
	jd := startJS(t, "D", "--connect", g.addr(), "--hello", "I am D", "--hold-first-write")
	g.next()
	if n := len(g.ex.Peers()); n != 3 {
		t.Fatalf("Go relay holds %d links, want 3 (B, C, D)", n)
	}
	jd.send("getnewpeer")
	res = jd.wait("getnewpeer", nil)
	if res["ok"] != true {
		t.Fatalf("second getNewPeer through the Go relay failed: %v", res)
	}
	if jb.Count("disconnect", nil) > 0 && jc.Count("disconnect", func(e event) bool { return e["peers"].(float64) == 0 }) > 0 {
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
			jb, c := jsAsksGo(t, addr, gc)
			writeLine(t, c, "I am C")
			jb.wait("data", lineIs("I am C"))
			if got := readLine(t, c); got != "echo:I am C" {
				t.Fatalf("got %q", got)
			}
		})
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
	if js.Count("uncaught", nil) != 0 {
		t.Fatal("the JS bystander hit an uncaught exception")
	}
}

// A Go requester meets a JS answerer over WebRTC, through a Go relay and
// through a JS relay.
func TestGoRequesterJSAnswerer(t *testing.T) {
	for _, relay := range []string{"go", "js"} {
		t.Run(relay+" relay", func(t *testing.T) {
			addr := startRelay(t, relay)
			jc, c := goAsksJS(t, addr, newGoNode(t, false))
			writeLine(t, c, "I am B")
			if got := readLine(t, c); got != "echo:I am B" {
				t.Fatalf("got %q", got)
			}
			jc.wait("data", lineIs("I am B"))
		})
	}
}

// jsAsksGo starts JS node B (echoing, saying "I am B") on the relay at
// addr, links gc there, has B ask for a new peer, and returns B and the
// WebRTC link gc got, B's greeting read.
func jsAsksGo(t *testing.T, addr string, gc *goNode) (*jsNode, *pxp.Conn) {
	t.Helper()
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
	return jb, c
}

// goAsksJS starts JS node C (echoing, saying "I am C") on the relay at
// addr, links gb there, has gb ask for a new peer, and returns C and the
// WebRTC link gb got, C's greeting read.
func goAsksJS(t *testing.T, addr string, gb *goNode) (*jsNode, *pxp.Conn) {
	t.Helper()
	jc := startJS(t, "C", "--connect", addr, "--hello", "I am C", "--echo")
	jc.wait("connect", nil)
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
	return jc, c
}

// An idle WebRTC link between Go and the JS reference (libwebrtc) outlives
// both sides' consent timeouts, with Go as either ICE role: as
// controlling it checks once per ConsentInterval (2 s here), as controlled
// it only answers libwebrtc's checks. 35 s of silence is past the Go
// side's ConsentTimeout (6 s here) and libwebrtc's own 30 s.
func TestIdleWebRTCLinkWithJS(t *testing.T) {
	wcfg := &webrtc.Config{Loopback: true, ConsentInterval: 2 * time.Second, ConsentTimeout: 6 * time.Second}
	const idle = 35 * time.Second
	for _, tc := range []struct {
		name string
		link func(t *testing.T, addr string) *pxp.Conn
	}{
		{"Go controlling", func(t *testing.T, addr string) *pxp.Conn {
			_, c := goAsksJS(t, addr, newGoNodeWebRTC(t, false, wcfg))
			return c
		}},
		{"Go controlled", func(t *testing.T, addr string) *pxp.Conn {
			_, c := jsAsksGo(t, addr, newGoNodeWebRTC(t, true, wcfg))
			return c
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := tc.link(t, startRelay(t, "go"))
			time.Sleep(idle)
			writeLine(t, c, "still here")
			if got := readLine(t, c); got != "echo:still here" {
				t.Fatalf("after %v idle: got %q", idle, got)
			}
		})
	}
}
