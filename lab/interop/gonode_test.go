package interop

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/pxp/webrtc"
)

// goNode is an in-process Exchange with an optional TCP listener.
type goNode struct {
	t   *testing.T
	ex  *pxp.Exchange
	ln  net.Listener
	wg  sync.WaitGroup
	cch chan *pxp.Conn
}

func newGoNode(t *testing.T, listen bool) *goNode {
	return newGoNodeCfg(t, listen, true)
}

// newGoNodeCfg makes a Go node, with WebRTC (loopback only) when asked.
func newGoNodeCfg(t *testing.T, listen, withWebRTC bool) *goNode {
	t.Helper()
	if !withWebRTC {
		return newGoNodeWebRTC(t, listen, nil)
	}
	return newGoNodeWebRTC(t, listen, &webrtc.Config{Loopback: true})
}

// newGoNodeWebRTC makes a Go node with WebRTC configured by wcfg (nil: no
// WebRTC).
func newGoNodeWebRTC(t *testing.T, listen bool, wcfg *webrtc.Config) *goNode {
	t.Helper()
	cfg := &pxp.Config{}
	if os.Getenv("PEX_DEBUG") != "" { // the Go nodes' debug log on stderr
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if wcfg != nil {
		up, err := webrtc.New(wcfg)
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
			g.ex.Serve(g.ln) // the streams arrive on Incoming, read below
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

// startRelay starts a hub that relays introductions: a Go node without
// WebRTC of its own, or a JS node; it returns the hub's TCP address.
func startRelay(t *testing.T, kind string) string {
	if kind == "go" {
		return newGoNodeCfg(t, true, false).addr()
	}
	return "127.0.0.1:" + strconv.Itoa(startJS(t, "A", "--listen", "0").port())
}
