// A pex node's run: its steps in order, its wait and its shutdown, and its event loop.

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/pxp"
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

	// What start opened, for shutdown to close.
	ln                      net.Listener   // --listen's, or nil
	metricsLn, wsLn, httpLn net.Listener   // --metrics', --ws' and --http's, or nil
	bound                   []net.Listener // every one bind opened
	stops                   []func()       // the HTTP servers', in the order they started
	live                    *web.Live      // --http's live view, or nil

	started  time.Time
	connects atomic.Int64 // links that got a data stream (connect events)

	logger *slog.Logger // --log-level's (or PEX_DEBUG's), or silent
	natMu  sync.Mutex
	nat    natState
}

// run brings the node up step by step (start), runs it until wait says
// it is done, and shuts it down. A step that fails ends the run there, by
// the same shutdown: it closes whatever the steps before it opened.
//
// A node that started ends with a summary event, whatever ended it.
func (n *node) run(parent context.Context) error {
	hup, stopHup := cli.Hangups() // first: a SIGHUP while the node starts must not end it
	defer stopHup()
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	n.boot = newBootState(n.opts.connect)
	n.ctx = ctx
	n.started = time.Now()
	err := n.start(ctx)
	if err != nil {
		cancel()
		n.shutdown()
		return err
	}
	n.startLoops(ctx)
	n.wg.Add(1)
	go n.hangupLoop(ctx, hup)
	n.startBootstrap(ctx)
	n.startFlusher(ctx)
	stop, err := n.wait(ctx)
	var extra []any
	if stop == "" { // ctx ended: a signal, or the caller
		stop = "canceled"
		var se *cli.SignalError
		if errors.As(context.Cause(parent), &se) {
			stop, extra = "signal", []any{"signal", se.Signal.String()}
		}
	}
	st := n.ex.Stats() // the links as they were, before shutdown closes them
	cancel()
	n.shutdown()
	n.summary(append([]any{"stop", stop}, extra...), st, err)
	return err
}

// summary is the node's last event: how long it ran, why it stopped
// (stop: signal, with the signal's name, duration, bootstrap-timeout or
// canceled), the peers it held at the end and what it did.
func (n *node) summary(stop []any, st pxp.Stats, failed error) {
	intro := sumCounts(st.Introductions)
	f := append([]any{"node", n.ex.ID(), "elapsed_s", cli.Seconds(time.Since(n.started))}, stop...)
	f = append(f, "peers", st.Peers, "connects", n.connects.Load(),
		"getnewpeer", intro-st.Introductions["failed"], "getnewpeer_failed", st.Introductions["failed"],
		"relays_started", st.RelaysStarted, "messages_sent", st.MessagesSent, "messages_received", st.MessagesReceived,
		"bytes_sent", st.BytesSent, "bytes_received", st.BytesReceived)
	if failed != nil {
		f = append(f, "error", failed.Error())
	}
	n.pr.Event("summary", f...)
}

// shutdownGrace bounds shutdown's wait for the links to close and the
// loops to end (a router that does not answer the removal of a port
// mapping, a stuck write): past it the node saves --state and returns
// anyway, and says so (shutdown-slow). A node stopped by SIGTERM exits
// within this and the time the HTTP servers take to close their
// listeners. contrib/systemd/pex-node.service waits longer before it
// kills (TimeoutStopSec). The links' graceful close, which lets their
// peers see a clean end rather than a reset, takes at most
// pxp.Config.CloseDrain (2 s) of it, all links together.
const shutdownGrace = 10 * time.Second

// shutdown closes what start and the loops opened, whichever step the run
// reached, in the node's order rather than the reverse of start's: first
// the doors (the TCP listener, then the HTTP servers, last started first
// stopped), then the links (the exchange, which closes Events and
// Incoming, ending their loops), the summaries of repeated events, the
// live view, and --state last: the last word on the links. The links and
// loops are waited for at most shutdownGrace.
func (n *node) shutdown() {
	for _, ln := range n.bound { // --listen's, and those not served yet when a step failed
		ln.Close()
	}
	for i := len(n.stops) - 1; i >= 0; i-- {
		n.stops[i]()
	}
	n.keepAnchors() // before the links close
	closed := make(chan struct{})
	go func() {
		if n.ex != nil {
			n.ex.Close()
		}
		n.wg.Wait()
		close(closed)
	}()
	if !waitFor(closed, shutdownGrace) {
		n.pr.Event("shutdown-slow", "waited_s", cli.Seconds(shutdownGrace),
			"reason", "links or loops still closing after the grace period: --state is saved without them")
	}
	n.pr.Flush(true)
	if n.live != nil {
		n.live.Close()
	}
	n.state.close()
}

// waitFor reports whether done closed within d.
func waitFor(done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// startLoops starts what runs beside the transports: the port mapping,
// the event and incoming loops; a node that serves nothing says it started.
func (n *node) startLoops(ctx context.Context) {
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
	if n.ln == nil && n.opts.ws == "" && n.opts.http == "" {
		n.pr.Event("started", append([]any{"node", n.ex.ID(), "network", n.opts.network}, n.networkKeyFields()...)...)
	}
}

// startBootstrap dials the anchors --state saved first (anchors.go), then
// the --connect peers and those --state remembers, and, with --want, keeps
// asking for more.
func (n *node) startBootstrap(ctx context.Context) {
	n.startAnchorKeeper(ctx)
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		anchors := n.dialAnchors(ctx)
		for _, addr := range n.opts.connect {
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.bootstrap(ctx, addr)
			}()
		}
		n.dialRemembered(ctx, anchors)
		if n.opts.want > 0 {
			n.wg.Add(1)
			go n.wantLoop(ctx)
		}
	}()
}

// startFlusher sums up repeated events when their window ends.
func (n *node) startFlusher(ctx context.Context) {
	n.wg.Add(1)
	go func() {
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
}

// wait returns when ctx ends (stop "", nil), when --duration is over
// (stop "duration", an error if no --connect peer was ever reached), or
// when --bootstrap-timeout passes with none reached (an error).
func (n *node) wait(ctx context.Context) (stop string, err error) {
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
			return "", nil
		case <-reached:
			reached, bootEnd = nil, nil
		case <-n.boot.hopeless.done():
			return "network-mismatch", fmt.Errorf("no --connect peer reached: %s", n.boot.mismatchWhy())
		case <-bootEnd:
			return "bootstrap-timeout", fmt.Errorf("no --connect peer reached within --bootstrap-timeout %v (%s)", n.opts.bootstrapTimeout, n.boot.why())
		case <-end:
			if len(n.opts.connect) > 0 && !n.boot.reached.isSet() {
				return "duration", fmt.Errorf("no --connect peer reached within --duration %v (%s)", n.opts.duration, n.boot.why())
			}
			return "duration", nil
		}
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
			var nm *pxp.NetworkMismatchError
			if ev.Peer != nil && errors.As(ev.Err, &nm) {
				n.incomingMismatch(ev.Peer.RemoteAddr().String(), ev.Peer.Transport(), nm)
				continue
			}
			var nk *pxp.NetworkKeyError
			if errors.As(ev.Err, &nk) {
				side := "incoming"
				if ev.Peer != nil && ev.Peer.Outgoing() {
					side = "outgoing"
				}
				n.networkKeyRefused(side, nk)
				continue
			}
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

// incomingMismatch reports a peer of another network that connected to
// this node: once a remote host and network, its repeats counted (they
// are summed up in a suppressed event when their window ends). Nothing
// on this side can heal it, and a peer that retries must not flood the
// output with errors.
func (n *node) incomingMismatch(remote, transport string, nm *pxp.NetworkMismatchError) {
	theirs := strings.Join(quoteAll(nm.Theirs), " and ")
	n.pr.Once("network-mismatch incoming "+cli.HostOf(remote)+" "+theirs, "network-mismatch",
		"side", "incoming", "remote", remote, "transport", transport, "network", nm.Ours, "their_networks", nm.Theirs,
		"reason", fmt.Sprintf("%s is on network %s, this node on %q: refused", remote, theirs, nm.Ours))
}
