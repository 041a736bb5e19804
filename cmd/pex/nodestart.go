// A pex node's start: its TCP listener, its exchange, --state and the transports it serves.

package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/metrics"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
	"github.com/seed0021ed4d/pex/web"
)

// start brings the node up, one step after another, keeping on n what
// each opened; it stops at the first step that fails, and shutdown
// closes what the steps before it opened. Every socket is bound first,
// so that one that cannot be (a port in use) fails the start, naming its
// flag, before any is announced.
func (n *node) start(ctx context.Context) error {
	if err := n.bind(); err != nil {
		return err
	}
	advertise, err := n.newExchange()
	if err != nil {
		return err
	}
	n.warnCredentials()
	n.warnNetworkKey()
	n.startTLS()
	if n.state, err = openState(n.opts.state, "pxp-peers.json", "pxp:"+n.opts.network, n.pr); err != nil {
		return err
	}
	return n.serveTransports(ctx, advertise)
}

// bind listens on --listen, --metrics, --ws and --http, those given.
func (n *node) bind() error {
	for _, b := range []struct {
		flag, addr string
		ln         *net.Listener
	}{{"listen", n.opts.listen, &n.ln}, {"metrics", n.opts.metrics, &n.metricsLn}, {"ws", n.opts.ws, &n.wsLn}, {"http", n.opts.http, &n.httpLn}} {
		if b.addr == "" {
			continue
		}
		ln, err := cli.Listen(b.flag, b.addr)
		if err != nil {
			return err
		}
		*b.ln = ln
		n.bound = append(n.bound, ln)
	}
	if n.ln != nil {
		n.listen = n.ln.Addr()
	}
	return nil
}

// newExchange builds the node's exchange (and its logger, --log-level's)
// from the flags and the listener's address; it returns the address the
// node advertises, if any.
func (n *node) newExchange() (advertise string, err error) {
	// The node's own TURN credentials are named by its id; upgrades
	// start once the exchange is made and has links.
	n.opts.turnName = func() string { return n.ex.ID() }
	cfg, err := n.opts.exchangeConfig(n.listen)
	n.logger = slog.New(slog.DiscardHandler)
	if cfg != nil && cfg.Logger != nil {
		n.logger = cfg.Logger
	}
	if err != nil {
		return "", err
	}
	if n.ex, err = pxp.New(n.opts.network, cfg); err != nil {
		return "", err
	}
	return cfg.AdvertiseAddr, nil
}

// serveTransports serves each transport asked for on the socket bind
// opened: TCP, then metrics, WebSocket and the web page.
func (n *node) serveTransports(ctx context.Context, advertise string) error {
	if n.ln != nil {
		f := append([]any{"node", n.ex.ID(), "addr", n.ln.Addr().String(), "transport", "tcp", "network", n.opts.network}, n.networkKeyFields()...)
		if advertise != "" {
			f = append(f, "advertise", advertise)
		}
		n.pr.Event("listening", f...)
		n.wg.Add(1)
		go n.acceptLoop(ctx, n.ln)
	}
	if n.metricsLn != nil {
		n.stops = append(n.stops, cli.Serve(n.metricsLn, "metrics", n.pr, metrics.Handler(metrics.NewPXP(n.ex))))
	}
	if n.wsLn != nil {
		n.stops = append(n.stops, n.serveHTTP(n.wsLn, "ws", n.opts.front.wsHandler(n.acceptWS(ctx))))
	}
	if n.httpLn != nil {
		n.live = startLive(n.pr, n.pxpSnapshot)
		h := withLive(n.live, web.Handler(n.opts.page(), n.opts.front.wsHandler(n.acceptWS(ctx))))
		n.stops = append(n.stops, n.serveHTTP(n.httpLn, "http", h))
	}
	return nil
}

func (n *node) acceptLoop(ctx context.Context, ln net.Listener) {
	defer n.wg.Done()
	// The streams of ln's links arrive on Incoming, which incomingLoop serves.
	if err := n.ex.Serve(ln); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		n.pr.Event("error", "error", err.Error())
	}
}

// serveHTTP serves h on ln (over TLS with --tls-cert) until stop, which
// waits for it.
func (n *node) serveHTTP(ln net.Listener, transport string, h http.Handler) (stop func()) {
	ln, tlsFields := n.opts.front.listener(ln)
	n.pr.Event("listening", append(append([]any{"node", n.ex.ID(), "addr", ln.Addr().String(), "transport", transport, "network", n.opts.network}, tlsFields...), n.networkKeyFields()...)...)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() {
		srv.Close()
		<-done
	}
}

// acceptWS runs PXP as the incoming side on each WebSocket connection.
func (n *node) acceptWS(ctx context.Context) func(*ws.Conn) {
	return func(c *ws.Conn) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			dc, err := n.ex.Accept(ctx, c)
			var nm *pxp.NetworkMismatchError
			if errors.As(err, &nm) {
				n.incomingMismatch(c.RemoteAddr().String(), "ws", nm)
				return
			}
			var nk *pxp.NetworkKeyError
			if errors.As(err, &nk) {
				n.networkKeyRefused("incoming", nk)
				return
			}
			if err != nil {
				n.pr.Event("error", "error", err.Error(), "transport", "ws")
				return
			}
			n.serve(ctx, dc)
		}()
	}
}
