package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/metrics"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/transport/ws"
	"github.com/seed0021ed4d/pex/web"
)

type node struct {
	ctx    context.Context // the run's
	listen net.Addr        // the TCP listener's, or nil
	ex     *pxp.Exchange
	opts   nodeOpts
	pr     *cli.Printer
	wg     sync.WaitGroup
	boot   *bootState
	state  *stateKeeper // --state, or nil

	logger *slog.Logger // PEX_DEBUG's, or silent
	natMu  sync.Mutex
	nat    natState
}

func (n *node) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n.boot = newBootState()
	n.ctx = ctx
	var ln net.Listener
	var laddr net.Addr
	if n.opts.listen != "" {
		var err error
		ln, err = net.Listen("tcp", n.opts.listen)
		if err != nil {
			return err
		}
		laddr = ln.Addr()
		n.listen = laddr
	}
	cfg, err := n.opts.exchangeConfig(laddr)
	n.logger = slog.New(slog.DiscardHandler)
	if cfg != nil && cfg.Logger != nil {
		n.logger = cfg.Logger
	}
	if err == nil {
		n.ex, err = pxp.New(n.opts.network, cfg)
	}
	if err != nil {
		if ln != nil {
			ln.Close()
		}
		return err
	}
	if n.state, err = openState(n.opts.state, "pxp-peers.json", "pxp:"+n.opts.network, n.pr); err != nil {
		n.ex.Close()
		if ln != nil {
			ln.Close()
		}
		return err
	}
	defer n.state.close() // after the links are closed: the last word on them
	if ln != nil {
		f := []any{"node", n.ex.ID(), "addr", ln.Addr().String(), "transport", "tcp", "network", n.opts.network}
		if cfg.AdvertiseAddr != "" {
			f = append(f, "advertise", cfg.AdvertiseAddr)
		}
		n.pr.Event("listening", f...)
		n.wg.Add(1)
		go n.acceptLoop(ctx, ln)
	}
	stopHTTP := func() {}
	if n.opts.metrics != "" {
		stop, err := cli.ServeMetrics(ctx, n.opts.metrics, n.pr, metrics.NewPXP(n.ex))
		if err != nil {
			n.ex.Close()
			if ln != nil {
				ln.Close()
			}
			return err
		}
		stopHTTP = stop
	}
	if n.opts.ws != "" {
		stop, err := n.serveHTTP(ctx, n.opts.ws, "ws", &ws.Handler{Serve: n.acceptWS(ctx)})
		if err != nil {
			stopHTTP()
			n.ex.Close()
			if ln != nil {
				ln.Close()
			}
			return err
		}
		prev := stopHTTP
		stopHTTP = func() { stop(); prev() }
	}
	if n.opts.http != "" {
		live := startLive(n.pr, n.pxpSnapshot)
		defer live.Close()
		stop, err := n.serveHTTP(ctx, n.opts.http, "http", withLive(live, web.Handler(n.opts.page(), &ws.Handler{Serve: n.acceptWS(ctx)})))
		if err != nil {
			stopHTTP()
			n.ex.Close()
			if ln != nil {
				ln.Close()
			}
			return err
		}
		prev := stopHTTP
		stopHTTP = func() { stop(); prev() }
	}
	if n.wantsPortmap() {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.portmapLoop(ctx)
		}()
	}
	n.wg.Add(2)
	go n.eventLoop()
	go n.incomingLoop(ctx)
	if ln == nil && n.opts.ws == "" && n.opts.http == "" {
		n.pr.Event("started", "node", n.ex.ID(), "network", n.opts.network)
	}
	for _, addr := range n.opts.connect {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.bootstrap(ctx, addr)
		}()
	}
	n.dialRemembered(ctx)
	if n.opts.want > 0 {
		n.wg.Add(1)
		go n.wantLoop(ctx)
	}
	n.wg.Add(1)
	go func() { // sums up repeated events when their window ends
		defer n.wg.Done()
		t := time.NewTicker(cli.RepeatWindow)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n.pr.Flush(false)
			}
		}
	}()
	failed := n.wait(ctx)
	cancel()
	if ln != nil {
		ln.Close()
	}
	stopHTTP()
	n.ex.Close() // closes Events and Incoming, ending their loops
	n.wg.Wait()
	n.pr.Flush(true)
	return failed
}

// wait returns when ctx ends (nil), when --duration is over (an error if
// no --connect peer was ever reached), or when --bootstrap-timeout passes
// with none reached (an error).
func (n *node) wait(ctx context.Context) error {
	var end, bootEnd <-chan time.Time
	if d := n.opts.duration; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		end = t.C
	}
	if d := n.opts.bootstrapTimeout; d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		bootEnd = t.C
	}
	reached := n.boot.reached.done()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-reached:
			reached, bootEnd = nil, nil
		case <-bootEnd:
			return fmt.Errorf("no --connect peer reached within --bootstrap-timeout %v (%s)", n.opts.bootstrapTimeout, n.boot.why())
		case <-end:
			if len(n.opts.connect) > 0 && !n.boot.reached.isSet() {
				return fmt.Errorf("no --connect peer reached within --duration %v (%s)", n.opts.duration, n.boot.why())
			}
			return nil
		}
	}
}

func (n *node) acceptLoop(ctx context.Context, ln net.Listener) {
	defer n.wg.Done()
	if err := n.ex.Serve(ln, func(dc *pxp.Conn) { n.serve(ctx, dc) }); err != nil && ctx.Err() == nil && !errors.Is(err, net.ErrClosed) {
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

func (n *node) eventLoop() {
	defer n.wg.Done()
	for ev := range n.ex.Events() {
		switch ev.Type {
		case pxp.EventDisconnect:
			f := []any{"transport", ev.Peer.Transport(), "remote", ev.Peer.RemoteAddr().String(), "peer", ev.Peer.ID(), "peers", n.ex.Stats().Peers}
			if ev.Err != nil {
				f = append(f, "reason", ev.Err.Error())
			}
			n.pr.Event("disconnect", f...)
		case pxp.EventObserved:
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.natCheck(n.ctx)
			}()
		case pxp.EventError:
			f := []any{"error", ev.Err.Error()}
			source := ""
			if ev.Peer != nil {
				f = append(f, "remote", ev.Peer.RemoteAddr().String())
				source = cli.HostOf(ev.Peer.RemoteAddr().String())
			}
			// A source repeating one failure is summed up, not echoed.
			n.pr.Limited(source+" "+cli.ErrorKind(ev.Err), "error", f...)
		}
	}
}
