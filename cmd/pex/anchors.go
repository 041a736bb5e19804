// A pex node's anchors: the few long-lived links it opened that carried
// traffic, saved with --state and dialed first at the next start, before
// the bootstrap, as Bitcoin Core's anchors (pxp.Exchange.Anchors).

package main

import (
	"context"
	"sync"
	"time"
)

// anchorHeadStart is how long the anchors are given to answer before the
// bootstrap starts: a dead anchor delays a start by at most this.
const anchorHeadStart = 3 * time.Second

// anchorScope is the --state scope of the anchors of the peers' scope.
func (k *stateKeeper) anchorScope() string { return "anchors:" + k.scope }

// anchors returns the anchors --state saved.
func (k *stateKeeper) anchors() []string {
	if k == nil {
		return nil
	}
	var out []string
	for _, p := range k.st.Peers(k.anchorScope()) {
		out = append(out, p.Addr)
	}
	return out
}

// keepAnchors records the node's anchors now, to be saved with --state;
// a node with none fit keeps those it had.
func (n *node) keepAnchors() {
	if n.state == nil || n.ex == nil || n.opts.anchors <= 0 {
		return
	}
	if a := n.ex.Anchors(); len(a) > 0 {
		n.state.st.Replace(n.state.anchorScope(), a, "anchor")
	}
}

// startAnchorKeeper records the anchors as often as --state is saved, so
// that a node killed keeps those of its last half minute.
func (n *node) startAnchorKeeper(ctx context.Context) {
	if n.state == nil || n.opts.anchors <= 0 {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		t := time.NewTicker(stateSaveInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				n.keepAnchors()
			}
		}
	}()
}

// dialAnchors dials the anchors --state saved (at most --anchors), each
// once, and returns their addresses once each has its link or failed, or
// after anchorHeadStart.
func (n *node) dialAnchors(ctx context.Context) []string {
	if n.opts.anchors <= 0 {
		return nil
	}
	anchors := n.state.anchors()
	anchors = anchors[:min(len(anchors), n.opts.anchors)]
	if len(anchors) == 0 {
		return nil
	}
	var tried sync.WaitGroup
	for _, addr := range anchors {
		tried.Add(1)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			dc, err := n.connectTo(ctx, addr)
			if ctx.Err() != nil {
				if dc != nil {
					dc.Close()
				}
				tried.Done()
				return
			}
			if err != nil {
				n.state.st.Failure(n.state.anchorScope(), addr)
				n.pr.Event("dial-failed", "remote", addr, "reason", err.Error(), "source", "anchor")
				tried.Done()
				return
			}
			n.state.success(addr, "anchor")
			n.pr.Event("anchor", "remote", addr, "peer", dc.Peer().ID())
			tried.Done()
			n.serve(ctx, dc)
		}()
	}
	done := make(chan struct{})
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		tried.Wait()
		close(done)
	}()
	t := time.NewTimer(anchorHeadStart)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	case <-ctx.Done():
	}
	return anchors
}
