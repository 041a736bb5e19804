package ws

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"go.uber.org/goleak"

	"github.com/seed0021ed4d/pex/pxp"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func server(t *testing.T, ex *pxp.Exchange, got chan<- *pxp.Conn, errs chan<- error) string {
	t.Helper()
	srv := httptest.NewServer(&Handler{Serve: func(c *Conn) {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			dc, err := ex.Accept(ctx, c)
			if err != nil {
				errs <- err
				return
			}
			got <- dc
		}()
	}})
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func TestPXPOverWebSocket(t *testing.T) {
	a, _ := pxp.New("ws-net", nil)
	b, _ := pxp.New("ws-net", nil)
	defer a.Close()
	defer b.Close()
	got, errs := make(chan *pxp.Conn, 1), make(chan error, 4)
	url := server(t, a, got, errs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	bc, err := b.Connect(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	ac := <-got
	if ac.Transport() != "ws" || bc.Transport() != "ws" {
		t.Fatalf("transports %q %q", ac.Transport(), bc.Transport())
	}
	fmt.Fprintln(bc, "over websocket")
	line, _ := bufio.NewReader(ac).ReadString('\n')
	if line != "over websocket\n" {
		t.Fatalf("got %q", line)
	}
}

// A browser that sends garbage: the link is closed with a clear error and
// the node keeps serving others.
func TestGarbageOverWebSocket(t *testing.T) {
	a, _ := pxp.New("ws-net", nil)
	defer a.Close()
	got, errs := make(chan *pxp.Conn, 1), make(chan error, 4)
	url := server(t, a, got, errs)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, tc := range []struct {
		typ  websocket.MessageType
		data string
		want error
	}{
		{websocket.MessageBinary, "GET / HTTP/1.1\r\n\r\n", pxp.ErrBadMagic},
		{websocket.MessageText, "#PXP#", nil},
	} {
		c, _, err := websocket.Dial(ctx, url, nil)
		if err != nil {
			t.Fatal(err)
		}
		readDone := make(chan struct{})
		go func() { // reading answers the server's close handshake
			defer close(readDone)
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		}()
		c.Write(ctx, tc.typ, []byte(tc.data))
		err = <-errs
		if tc.want != nil && !errors.Is(err, tc.want) {
			t.Fatalf("got %v, want %v", err, tc.want)
		}
		if err == nil {
			t.Fatal("garbage accepted")
		}
		<-readDone
		c.CloseNow()
	}
	// Still serving.
	b, _ := pxp.New("ws-net", nil)
	defer b.Close()
	c, err := Dial(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Connect(ctx, c); err != nil {
		t.Fatal(err)
	}
	<-got
}

// upgrade dials url with the headers given and returns the HTTP status
// of the answer (101 when upgraded).
func upgrade(t *testing.T, url string, h http.Header) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, res, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: h})
	if err == nil {
		c.CloseNow()
	}
	if res == nil {
		t.Fatalf("no answer: %v", err)
	}
	return res.StatusCode
}

// A page of any origin may open a WebSocket by default; OriginPatterns
// restricts the origins, the request's own host always accepted.
func TestOrigins(t *testing.T) {
	serve := func(c *Conn) { c.Close() }
	open := httptest.NewServer(&Handler{Serve: serve})
	defer open.Close()
	closed := httptest.NewServer(&Handler{Serve: serve, OriginPatterns: []string{"app.example.com", "https://*.example.org"}})
	defer closed.Close()
	own := strings.TrimPrefix(closed.URL, "http://")
	for _, tc := range []struct {
		srv    *httptest.Server
		origin string
		want   int
	}{
		{open, "", 101},
		{open, "http://app.example.com", 101},
		{open, "https://elsewhere.example.net:8443", 101},
		{open, "null", 101}, // a file:// page or a sandboxed frame
		{closed, "", 101},   // not a browser
		{closed, "http://" + own, 101},
		{closed, "http://app.example.com", 101},
		{closed, "https://app.example.com", 101},
		{closed, "https://a.example.org", 101},
		{closed, "http://a.example.org", 403},
		{closed, "http://evil.example.com", 403},
		{closed, "null", 403},
	} {
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		if got := upgrade(t, "ws"+strings.TrimPrefix(tc.srv.URL, "http"), h); got != tc.want {
			t.Errorf("origin %q, patterns %v: %d, want %d", tc.origin, tc.srv.Config.Handler.(*Handler).OriginPatterns, got, tc.want)
		}
	}
}

// Behind a trusted proxy, a link's RemoteAddr is the client the proxy
// names, and pxp's per-IP caps apply to it; a header from anyone else is
// not believed.
func TestTrustedProxy(t *testing.T) {
	for _, tc := range []struct {
		name    string
		trusted []netip.Prefix
		from    []string // the X-Forwarded-For each client's proxy sends
		remotes []string // the addresses pxp sees, "" for a client refused
	}{
		{"trusted: each client its own", prefixes("127.0.0.1/32"), []string{"203.0.113.1", "203.0.113.2", "203.0.113.1"},
			[]string{"203.0.113.1:0", "203.0.113.2:0", ""}},
		{"not trusted: every client the proxy", nil, []string{"203.0.113.1", "203.0.113.2"},
			[]string{"127.0.0.1", ""}},
		{"another proxy trusted", prefixes("10.0.0.0/8"), []string{"203.0.113.1", "203.0.113.2"},
			[]string{"127.0.0.1", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node, _ := pxp.New("ws-net", &pxp.Config{MaxInboundPerIP: 1})
			defer node.Close()
			got, errs := make(chan *pxp.Conn, 4), make(chan error, 4)
			srv := httptest.NewServer(&Handler{TrustedProxies: tc.trusted, Serve: func(c *Conn) {
				go func() {
					dc, err := node.Accept(context.Background(), c)
					if err != nil {
						errs <- err
						return
					}
					got <- dc
				}()
			}})
			defer srv.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			for i, xff := range tc.from {
				c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &websocket.DialOptions{HTTPHeader: http.Header{"X-Forwarded-For": {xff}}})
				if err != nil {
					t.Fatal(err)
				}
				client, _ := pxp.New("ws-net", nil)
				defer client.Close()
				_, cerr := client.Connect(ctx, wrap(context.Background(), c))
				want := tc.remotes[i]
				if want == "" {
					if !errors.Is(cerr, pxp.ErrPeerFull) {
						t.Fatalf("client %d: %v, want %v", i, cerr, pxp.ErrPeerFull)
					}
					continue
				}
				if cerr != nil {
					t.Fatalf("client %d: %v", i, cerr)
				}
				dc := <-got
				remote := dc.Peer().RemoteAddr().String()
				if remote != want && !strings.HasPrefix(remote, want+":") {
					t.Fatalf("client %d seen at %s, want %s", i, remote, want)
				}
			}
		})
	}
}
