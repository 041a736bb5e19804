package attack

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

const network = "attack-net"

// Raw PXP bytes.
func frame(ch uint64, typ uint8, payload string) []byte {
	return mux.AppendFrame(nil, ch, typ, []byte(payload))
}

func helloFrames(connectInfo string) []byte { return helloFor(1, connectInfo, network) }

// helloFor is the magic, the control stream and a hello of version for
// networkID.
func helloFor(version int, connectInfo, networkID string) []byte {
	b := []byte(wire.Magic)
	b = append(b, frame(0, mux.TypeNew, "pxp")...)
	b = append(b, frame(0, mux.TypeDataInit, fmt.Sprintf(`["hello","0",[%d,%s,["%s"]]]`, version, connectInfo, networkID)+"\n")...)
	return b
}

func line(s string) []byte { return frame(0, mux.TypeDataInit, s+"\n") }

// honestPeer links a pxp Exchange from ip to addr, within 5 s, and
// reports how long the handshake took.
func honestPeer(t *testing.T, ip, addr string) (*pxp.Exchange, time.Duration) {
	t.Helper()
	ex, err := pxp.New(network, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ex.Close() })
	start := time.Now()
	c, err := dialFrom(ip, addr)
	if err != nil {
		t.Fatalf("honest peer %s: %v", ip, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := ex.Connect(ctx, c); err != nil {
		t.Fatalf("honest peer %s kept out: %v", ip, err)
	}
	return ex, time.Since(start)
}

// Connections that announce the largest frame and stall, or send nothing,
// only the magic, or half a frame: memory stays bounded (it grows with
// bytes received, never with lengths announced, and at most MaxHandshakes
// are held), honest peers connect meanwhile, and everything is released.
func TestPXPStalledHandshakes(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := p.addr("tcp")
	time.Sleep(300 * time.Millisecond)
	base := p.usage()
	n := size(500, 2000)
	header := append([]byte(wire.Magic), frame(0, mux.TypeDataInit, "")...)
	maxHeader := append([]byte(wire.Magic), byte(mux.TypeDataInit))
	maxHeader = appendUvarint(maxHeader, uint64(mux.DefaultMaxFrameSize))
	kinds := [][]byte{maxHeader, nil, []byte(wire.Magic), header[:len(wire.Magic)+1]}
	var conns []net.Conn
	for i := range n {
		c, err := dialFrom(fmt.Sprintf("127.0.%d.%d", i/200, i%200+1), addr)
		if err != nil {
			t.Fatalf("attacker %d: %v", i, err)
		}
		c.Write(kinds[i%len(kinds)])
		conns = append(conns, c)
	}
	time.Sleep(500 * time.Millisecond)
	during := p.usage()
	h1, took := honestPeer(t, "127.1.0.1", addr)
	h2, took2 := honestPeer(t, "127.0.0.1", addr) // from an attacker's own address
	t.Logf("%d stalled connections: %v (baseline %v); honest peers connected in %v and %v", n, during, base, took, took2)
	if grew := during.RSSKiB - base.RSSKiB; grew > 64<<10 {
		t.Fatalf("RSS grew %d MiB for %d stalled connections, bound 64 MiB", grew>>10, n)
	}
	closeAll(conns)
	h1.Close()
	h2.Close()
	after := p.settle(base, 20*time.Second)
	t.Logf("after: %v", after)
}

func appendUvarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// sybil completes the handshakes from ip, accepting introductions, and
// then answers nothing.
func sybil(t *testing.T, ip, addr string) net.Conn {
	c, err := dialFrom(ip, addr)
	if err != nil {
		t.Fatalf("sybil %s: %v", ip, err)
	}
	b := helloFrames(`{"pxp":true,"relay":true}`)
	b = append(b, line(`["connect","1","`+network+`"]`)...)
	c.Write(b)
	go io.Copy(io.Discard, c)
	return c
}

// Idle links from one /24 fill the incoming slots: honest peers from other
// prefixes still connect, and GetNewPeer through the node reaches one.
func TestPXPNoLockOut(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc", "--max-peers", "64")
	addr := p.addr("tcp")
	n := size(200, 1000)
	var conns []net.Conn
	for i := range n {
		conns = append(conns, sybil(t, fmt.Sprintf("127.0.0.%d", i%250+1), addr))
	}
	defer closeAll(conns)
	time.Sleep(time.Second)
	target, took := honestPeer(t, "127.2.0.1", addr)
	asker, took2 := honestPeer(t, "127.3.0.1", addr)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	start := time.Now()
	c, err := asker.GetNewPeer(ctx)
	if err != nil {
		t.Fatalf("GetNewPeer through a node full of idle links: %v", err)
	}
	t.Logf("%d idle links from 127.0.0.0/24: honest peers connected in %v and %v; GetNewPeer reached %s in %v", n, took, took2, c.Peer().ID(), time.Since(start))
	if c.Peer().ID() != target.ID() {
		t.Fatalf("introduced to %q, want the honest %q", c.Peer().ID(), target.ID())
	}
}

// getpeers from a node holding many links from one /24 and a few from
// others offers mostly the few.
func TestPXPSybilSampling(t *testing.T) {
	n := size(200, 1000)
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc", "--max-peers", fmt.Sprint(n+64))
	addr := p.addr("tcp")
	var conns []net.Conn
	for i := range n {
		conns = append(conns, sybil(t, fmt.Sprintf("127.0.0.%d", i%250+1), addr))
	}
	defer closeAll(conns)
	honest := map[string]bool{}
	for i := range 10 {
		ex, _ := honestPeer(t, fmt.Sprintf("127.%d.1.1", 10+i), addr)
		honest[ex.ID()] = true
	}
	asker, _ := honestPeer(t, "127.99.0.1", addr)
	time.Sleep(500 * time.Millisecond)
	good, total := 0, 0
	for range 5 {
		cands, err := asker.Peers()[0].GetPeers(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cands {
			total++
			var ci struct{ ID string }
			json.Unmarshal(c.ConnectInfo, &ci)
			if honest[ci.ID] {
				good++
			}
		}
	}
	t.Logf("%d links from one /24, 10 from ten others: %d of %d candidates honest", n, good, total)
	if total == 0 || 2*good < total {
		t.Fatalf("%d of %d candidates honest, want at least half", good, total)
	}
}

// rawLink is a hand-driven PXP link: it reads the node's control lines in
// the background, and can stop reading altogether.
type rawLink struct {
	c     net.Conn
	lines chan string
	stop  chan struct{}
	nonce int
}

func newRawLink(t *testing.T, ip, addr string) *rawLink {
	t.Helper()
	c, err := dialFrom(ip, addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := &rawLink{c: c, lines: make(chan string, 64), stop: make(chan struct{}), nonce: 2}
	c.Write(append(helloFrames(`{"pxp":true,"relay":true}`), line(`["connect","1","`+network+`"]`)...))
	go func() {
		br := bufio.NewReader(c)
		if _, err := io.ReadFull(br, make([]byte, len(wire.Magic))); err != nil {
			return
		}
		r := mux.NewReader(br, 0)
		names := map[uint64]string{}
		var buf strings.Builder
		for {
			f, err := r.ReadFrame()
			if err != nil {
				return
			}
			switch {
			case f.Type == mux.TypeNew:
				names[f.Channel] = string(f.Payload)
			case f.Type == mux.TypeDataInit && names[f.Channel] == "pxp":
				buf.Write(f.Payload)
				for {
					s := buf.String()
					i := strings.IndexByte(s, '\n')
					if i < 0 {
						break
					}
					buf.Reset()
					buf.WriteString(s[i+1:])
					select {
					case l.lines <- s[:i]:
					case <-l.stop:
						return // and read nothing more
					}
				}
			}
		}
	}()
	return l
}

// wait returns the next control line containing sub.
func (l *rawLink) wait(t *testing.T, sub string) string {
	t.Helper()
	for {
		select {
		case s := <-l.lines:
			if strings.Contains(s, sub) {
				return s
			}
		case <-time.After(15 * time.Second):
			t.Fatalf("no line with %q", sub)
		}
	}
}

// request sends cmd with args and returns its nonce.
func (l *rawLink) request(cmd, args string) string {
	n := fmt.Sprint(l.nonce)
	l.nonce++
	l.c.Write(line(`["` + cmd + `","` + n + `",` + args + `]`))
	return n
}

// A peer floods streams nobody asked for (their bytes are kept up to a
// bound, then dropped) and its data stream: its control stream is read
// and answered throughout, and the node's memory stays bounded. (The
// relay whose destination stops reading is shown on virtual time in
// package pxp: TestSynctestStalledDestinationEndsOnlyTheRelay.)
func TestPXPFloodedStreamsDoNotStallControl(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := p.addr("tcp")
	base := p.usage()
	req := newRawLink(t, "127.6.0.1", addr)
	req.wait(t, `"res","1"`)
	chunk := string(make([]byte, 16<<10))
	mb := size(16, 256)
	go func() {
		for s := range 8 { // unclaimed streams
			req.c.Write(frame(uint64(s+2), mux.TypeNew, fmt.Sprintf("relay:unasked%d", s)))
		}
		req.c.Write(frame(1, mux.TypeNew, "data:"+network))
		for i := range mb * 64 {
			ch := uint64(1)
			if i%2 == 0 {
				ch = uint64(i/2%8 + 2)
			}
			if _, err := req.c.Write(frame(ch, mux.TypeDataInit, chunk)); err != nil {
				return
			}
		}
	}()
	for range 10 {
		n := req.request("getpeers", `"`+network+`"`)
		req.wait(t, `"res","`+n+`"`)
		time.Sleep(100 * time.Millisecond)
	}
	during := p.usage()
	t.Logf("%d MiB into a data stream and 8 unclaimed ones: control answered throughout; %v (baseline %v)", mb, during, base)
	if grew := during.RSSKiB - base.RSSKiB; grew > 64<<10 {
		t.Fatalf("RSS grew %d MiB", grew>>10)
	}
}

// A peer flooding getpeers is answered with errors, then disconnected; a
// bystander is served throughout.
func TestPXPRequestFlood(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := p.addr("tcp")
	bystander, _ := honestPeer(t, "127.7.0.1", addr)
	c, err := dialFrom("127.8.0.1", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := append(helloFrames(`{"pxp":true}`), line(`["connect","1","`+network+`"]`)...)
	for i := range size(2000, 100000) {
		b = append(b, line(fmt.Sprintf(`["getpeers","%d","%s"]`, i+2, network))...)
	}
	go c.Write(b)
	c.SetReadDeadline(time.Now().Add(20 * time.Second))
	got, _ := io.ReadAll(c) // until the node closes the link
	// The node writes each refusal before it reports it. Closing a socket
	// with the flood's bytes still unread sends a reset, which can take
	// the refusals in flight with it: the node's report is the proof then.
	refused := func(ev map[string]any) bool {
		return strings.Contains(fmt.Sprint(ev["error"]), "too many getpeers requests")
	}
	if !strings.Contains(string(got), "too many getpeers requests") && !p.waitCount("error", refused) {
		t.Fatal("no error answered to requests over the rate")
	}
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the flooding peer was not disconnected")
	}
	if _, err := bystander.Peers()[0].GetPeers(context.Background()); err != nil {
		t.Fatalf("the bystander was not served: %v", err)
	}
}

// Bad input closes the link that sent it; the node serves on.
func TestPXPBadInput(t *testing.T) {
	p := startPex(t, 1, "node", "--network", network, "--listen", "127.0.0.1:0", "--no-webrtc")
	addr := p.addr("tcp")
	base := p.usage()
	bystander, _ := honestPeer(t, "127.9.0.1", addr)
	for name, in := range map[string][]byte{
		"bad magic":       []byte("GET / HTTP/1.1\r\n\r\n"),
		"oversized frame": append(append([]byte(wire.Magic), byte(mux.TypeDataInit)), appendUvarint(nil, 64<<20)...),
		"garbage json":    append(append([]byte(wire.Magic), frame(0, mux.TypeNew, "pxp")...), frame(0, mux.TypeDataInit, "{{{{\n")...),
		"wrong version":   helloFor(2, `{}`, network),
		"wrong network":   helloFor(1, `{}`, "other"),
		"unknown type":    append([]byte(wire.Magic), 0x07, 0x00),
	} {
		c, err := dialFrom("127.10.0.1", addr)
		if err != nil {
			t.Fatal(err)
		}
		c.Write(in)
		c.SetReadDeadline(time.Now().Add(15 * time.Second))
		_, err = io.Copy(io.Discard, c)
		c.Close()
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the node did not close the link", name)
		}
	}
	if _, err := bystander.Peers()[0].GetPeers(context.Background()); err != nil {
		t.Fatalf("the bystander was not served: %v", err)
	}
	bystander.Close()
	p.settle(base, 20*time.Second)
}
