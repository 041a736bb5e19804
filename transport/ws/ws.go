// Package ws carries PXP over WebSocket, for browsers and for Node peers
// that use a WebSocket stream. Each binary message is a chunk of the PXP
// byte stream (magic, then multiplex frames) with no framing of its own;
// text messages are refused.
package ws

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"

	"github.com/coder/websocket"
)

// Conn is a WebSocket connection as a net.Conn. Transport reports "ws".
type Conn struct {
	net.Conn
	ws *websocket.Conn
}

// Transport returns "ws" (pxp labels links with it).
func (c *Conn) Transport() string { return "ws" }

// Close closes the connection at once, without waiting up to five seconds
// for the peer's half of the WebSocket close handshake: PXP has nothing
// left to say by then, and a peer that sent garbage may never answer.
func (c *Conn) Close() error {
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
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	// The connection outlives the dial context.
	return wrap(context.Background(), c), nil
}

// Handler upgrades HTTP requests to WebSocket and hands each connection to
// serve, which owns it. OriginPatterns lists the browser origins accepted
// besides the request's own host ("*" for any).
type Handler struct {
	Serve          func(*Conn)
	OriginPatterns []string
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
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{OriginPatterns: h.OriginPatterns})
	if err != nil {
		return // Accept has written the HTTP error
	}
	h.Serve(wrap(context.Background(), c))
}
