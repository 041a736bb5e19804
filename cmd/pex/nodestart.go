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
// closes what the steps before it opened.
func (n *node) start(ctx context.Context) error {
	if err := n.listenTCP(); err != nil {
		return err
	}
	advertise, err := n.newExchange()
	if err != nil {
		return err
	}
	if n.state, err = openState(n.opts.state, "pxp-peers.json", "pxp:"+n.opts.network, n.pr); err != nil {
		return err
	}
	return n.serveTransports(ctx, advertise)
}

// listenTCP opens --listen, when given.
func (n *node) listenTCP() error {
	if n.opts.listen == "" {
		return nil
	}
	ln, err := net.Listen("tcp", n.opts.listen)
	if err != nil {
		return err
	}
	n.ln, n.listen = ln, ln.Addr()
	return nil
}

// newExchange builds the node's exchange (and its logger, PEX_DEBUG's)
// from the flags and the listener's address; it returns the address the
// node advertises, if any.
func (n *node) newExchange() (advertise string, err error) {
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

// serveTransports serves each transport asked for: TCP on the listener,
// then metrics, WebSocket and the web page, each on its own address.
func (n *node) serveTransports(ctx context.Context, advertise string) error {
	if n.ln != nil {
		f := []any{"node", n.ex.ID(), "addr", n.ln.Addr().String(), "transport", "tcp", "network", n.opts.network}
		if advertise != "" {
			f = append(f, "advertise", advertise)
		}
		n.pr.Event("listening", f...)
		n.wg.Add(1)
		go n.acceptLoop(ctx, n.ln)
	}
	if n.opts.metrics != "" {
		if err := n.keepStop(cli.ServeMetrics(ctx, n.opts.metrics, n.pr, metrics.NewPXP(n.ex))); err != nil {
			return err
		}
	}
	if n.opts.ws != "" {
		if err := n.keepStop(n.serveHTTP(ctx, n.opts.ws, "ws", &ws.Handler{Serve: n.acceptWS(ctx)})); err != nil {
			return err
		}
	}
	if n.opts.http != "" {
		n.live = startLive(n.pr, n.pxpSnapshot)
		h := withLive(n.live, web.Handler(n.opts.page(), &ws.Handler{Serve: n.acceptWS(ctx)}))
		if err := n.keepStop(n.serveHTTP(ctx, n.opts.http, "http", h)); err != nil {
			return err
		}
	}
	return nil
}

// keepStop keeps a server's stop, when it started, for shutdown.
func (n *node) keepStop(stop func(), err error) error {
	if err == nil {
		n.stops = append(n.stops, stop)
	}
	return err
}

func (n *node) acceptLoop(ctx context.Context, ln net.Listener) {
	defer n.wg.Done()
	// The streams of ln's links arrive on Incoming, which incomingLoop serves.
	if err := n.ex.Serve(ln); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
		n.pr.Event("error", "error", err.Error())
	}
}

// serveHTTP serves h on addr until ctx ends; stop waits for it.
func (n *node) serveHTTP(ctx context.Context, addr, transport string, h http.Handler) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	n.pr.Event("listening", "node", n.ex.ID(), "addr", ln.Addr().String(), "transport", transport, "network", n.opts.network)
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
	return func() {
		srv.Close()
		<-done
	}, nil
}

// acceptWS runs PXP as the incoming side on each WebSocket connection.
func (n *node) acceptWS(ctx context.Context) func(*ws.Conn) {
	return func(c *ws.Conn) {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			dc, err := n.ex.Accept(ctx, c)
			if err != nil {
				n.pr.Event("error", "error", err.Error(), "transport", "ws")
				return
			}
			n.serve(ctx, dc)
		}()
	}
}
