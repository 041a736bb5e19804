// Package ws carries PXP over WebSocket, for browsers and for Node peers
// that use a WebSocket stream. Each binary message is a chunk of the PXP
// byte stream (magic, then multiplex frames) with no framing of its own;
// text messages are refused.
//
// Handler takes pages of any origin unless told which (OriginPatterns),
// and behind reverse proxies it trusts (TrustedProxies) gives each
// connection the client's address that X-Forwarded-For or Forwarded
// names (ClientAddr), so that pxp's bounds per IP and per prefix hold
// each client, not the proxy.
package ws

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/coder/websocket"
)

// Conn is a WebSocket connection as a net.Conn. Transport reports "ws".
type Conn struct {
	net.Conn
	ws     *websocket.Conn
	remote net.Addr // the client's, when a trusted proxy named it; else nil
}

// RemoteAddr is the client's address: the one a trusted proxy named
// (Handler.TrustedProxies; port 0 when the proxy named none), else the
// connection's own. Every per-IP and per-prefix rule of pxp applies to it.
func (c *Conn) RemoteAddr() net.Addr {
	if c.remote != nil {
		return c.remote
	}
	return c.Conn.RemoteAddr()
}

// Transport returns "ws" (pxp labels links with it).
func (c *Conn) Transport() string { return "ws" }

// Close closes the connection at once, without waiting up to five seconds
// for the peer's half of the WebSocket close handshake: PXP has nothing
// left to say by then, and a peer that sent garbage may never answer. It
// stops the deadlines' timers first: a pending one holds the closed
// connection in memory until it fires (mux sets a write deadline before
// every write), which a relay closing thousands of links a minute would
// feel (the soak saw some 230 timers held after its population left).
func (c *Conn) Close() error {
	c.Conn.SetDeadline(time.Time{})
	return c.ws.CloseNow()
}

// MaxMessage is the largest message read from a peer; a larger one closes
// the connection.
const MaxMessage = 1 << 20

func wrap(ctx context.Context, c *websocket.Conn) *Conn {
	c.SetReadLimit(MaxMessage)
	return &Conn{Conn: websocket.NetConn(ctx, c, websocket.MessageBinary), ws: c}
}

// Dial opens a WebSocket connection to url (ws:// or wss://).
func Dial(ctx context.Context, url string) (*Conn, error) {
	var d Dialer
	return d.Dial(ctx, url)
}

// Dialer opens WebSocket connections with what the zero value leaves out.
type Dialer struct {
	// Header is sent with the upgrade request (Origin, as a browser
	// page's; X-Forwarded-For, as a proxy's).
	Header http.Header
	// HTTPClient makes the request: its Transport's TLSClientConfig is
	// the one wss:// URLs use (the certificates trusted). Nil is
	// http.DefaultClient.
	HTTPClient *http.Client
}

// Dial opens a WebSocket connection to url (ws:// or wss://).
func (d *Dialer) Dial(ctx context.Context, url string) (*Conn, error) {
	c, _, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: d.Header, HTTPClient: d.HTTPClient})
	if err != nil {
		return nil, err
	}
	// The connection outlives the dial context.
	return wrap(context.Background(), c), nil
}

// Handler upgrades HTTP requests to WebSocket and hands each connection to
// Serve, which owns it.
type Handler struct {
	Serve func(*Conn)
	// OriginPatterns restricts the browser pages whose WebSockets are
	// accepted, by their Origin header: host patterns matched with
	// path.Match ("app.example.com", "*.example.com"), or scheme://host
	// ones ("https://app.example.com"); a page of the request's own host
	// is always accepted. Empty, the default, accepts every origin: PXP
	// over WebSocket carries no cookie or other ambient authority, so a
	// page of another site can do nothing over it that a program could
	// not, and a web application on its own domain bootstraps from
	// nodes on others.
	OriginPatterns []string
	// TrustedProxies are the reverse proxies whose X-Forwarded-For and
	// Forwarded headers are believed: a connection from one of them
	// reports the client those name as its RemoteAddr (ClientAddr). Empty,
	// the default, believes no header: a connection is from where it
	// comes from.
	TrustedProxies []netip.Prefix
	// Timeout bounds the upgrade. Default 10 s.
	Timeout time.Duration
}

// ErrNoServe is returned when a Handler has no Serve function.
var ErrNoServe = errors.New("ws: Handler.Serve is nil")

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h.Serve == nil {
		http.Error(w, ErrNoServe.Error(), http.StatusInternalServerError)
		return
	}
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{
		OriginPatterns:     h.OriginPatterns,
		InsecureSkipVerify: len(h.OriginPatterns) == 0, // any origin: see OriginPatterns
	})
	if err != nil {
		return // Accept has written the HTTP error
	}
	conn := wrap(context.Background(), c)
	if len(h.TrustedProxies) > 0 {
		if ap, ok := ClientAddr(r, h.TrustedProxies); ok {
			conn.remote = net.TCPAddrFromAddrPort(ap)
		}
	}
	h.Serve(conn)
}
