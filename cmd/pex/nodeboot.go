package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
	"github.com/seed0021ed4d/pex/pxp"
)

// Bootstrap redial timing: a --connect peer that cannot be reached, or
// whose link ended, is dialed again after bootFirst, the wait doubling
// with each failure up to bootMax.
const (
	bootFirst = time.Second
	bootMax   = 30 * time.Second
)

// bootState is what the bootstrap loops know: whether any --connect peer
// was reached, the last failure of each, and those of another network.
type bootState struct {
	mu       sync.Mutex
	connect  []string                             // the --connect peers
	reached  latch                                // set at the first link to a --connect peer
	hopeless latch                                // set when none was reached, one is of another network and the others failed
	last     map[string]string                    // address -> last failure
	mismatch map[string]*pxp.NetworkMismatchError // address -> its networks: not dialed again
}

func newBootState(connect []string) *bootState {
	return &bootState{connect: connect, last: map[string]string{}, mismatch: map[string]*pxp.NetworkMismatchError{}}
}

// failed records a failed dial of addr; a peer of another network is
// not dialed again, and the bootstrap is hopeless once no --connect peer
// was reached, one is of another network and each other one failed.
func (b *bootState) failed(addr string, err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.last[addr] = err.Error()
	var nm *pxp.NetworkMismatchError
	if errors.As(err, &nm) {
		b.mismatch[addr] = nm
	}
	if len(b.mismatch) == 0 || b.reached.isSet() {
		return
	}
	for _, a := range b.connect {
		if _, ok := b.last[a]; !ok {
			return
		}
	}
	b.hopeless.set()
}

// mismatchWhy names the networks of the --connect peers of another
// network, and ours.
func (b *bootState) mismatchWhy() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var parts []string
	ours := ""
	for _, a := range slices.Sorted(maps.Keys(b.mismatch)) {
		nm := b.mismatch[a]
		ours = nm.Ours
		parts = append(parts, fmt.Sprintf("%s is on network %s", a, strings.Join(quoteAll(nm.Theirs), " and ")))
	}
	msg := strings.Join(parts, ", ") + fmt.Sprintf(", this node on %q (--network)", ours)
	for _, a := range b.connect {
		if _, ok := b.mismatch[a]; !ok {
			msg += fmt.Sprintf("; %s: %s", a, b.last[a])
		}
	}
	return msg
}

func quoteAll(s []string) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// why says why no --connect peer was reached: each one's last failure.
func (b *bootState) why() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.last) == 0 {
		return "no dial finished"
	}
	var parts []string
	for a, e := range b.last {
		parts = append(parts, a+": "+e)
	}
	return strings.Join(parts, "; ")
}

// bootstrap keeps a link to the --connect peer at addr: it dials, runs the
// data stream while the link lasts, and dials again with backoff after a
// failure or after the link ended, until ctx ends.
func (n *node) bootstrap(ctx context.Context, addr string) {
	wait := bootFirst
	for {
		dc, err := n.connectTo(ctx, addr)
		if ctx.Err() != nil {
			if dc != nil {
				dc.Close()
			}
			return
		}
		var nm *pxp.NetworkMismatchError
		if errors.As(err, &nm) { // no redial will heal this
			n.state.failure(addr)
			n.pr.Event("network-mismatch", "side", "outgoing", "remote", addr, "network", nm.Ours, "their_networks", nm.Theirs, "retry", false,
				"reason", fmt.Sprintf("%s is on network %s, this node on %q: not dialed again", addr, strings.Join(quoteAll(nm.Theirs), " and "), nm.Ours))
			n.boot.failed(addr, err)
			return
		}
		var nk *pxp.NetworkKeyError
		if errors.As(err, &nk) {
			// Retried: a peer's key changes when its operator rotates it.
			n.state.failure(addr)
			n.boot.failed(addr, err)
			n.networkKeyRefused("outgoing", nk, "retry_s", cli.Seconds(wait))
		} else if err != nil {
			n.state.failure(addr)
			n.boot.failed(addr, err)
			n.pr.Limited("dial-failed "+addr, "dial-failed", "remote", addr, "reason", err.Error(), "retry_s", cli.Seconds(wait))
		} else {
			n.state.success(addr, "connect")
			n.boot.reached.set()
			wait = bootFirst
			p := dc.Peer()
			n.serve(ctx, dc)
			select { // the data stream may end before the link does
			case <-p.Done():
			case <-ctx.Done():
				return
			}
		}
		if !sleepCtx(ctx, wait) {
			return
		}
		if err != nil {
			wait = min(2*wait, bootMax)
		}
	}
}

// connectTo dials addr and runs PXP's outgoing handshake over it.
func (n *node) connectTo(ctx context.Context, addr string) (*pxp.Conn, error) {
	d := net.Dialer{Timeout: 10 * time.Second}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	dc, err := n.ex.Connect(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("handshake: %w", err)
	}
	return dc, nil
}

// maxRemembered bounds the remembered peers (--state) dialed at start.
const maxRemembered = 8

// dialRemembered dials, once each, the best peers --state remembers
// that neither --connect nor the anchors dialed name: a node restarted
// without --connect finds its way back into the mesh.
func (n *node) dialRemembered(ctx context.Context, anchors []string) {
	tried := 0
	for _, p := range n.state.peers() {
		if tried == maxRemembered {
			break
		}
		if slices.Contains(n.opts.connect, p.Addr) || slices.Contains(anchors, p.Addr) {
			continue
		}
		tried++
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			dc, err := n.connectTo(ctx, p.Addr)
			if ctx.Err() != nil {
				if dc != nil {
					dc.Close()
				}
				return
			}
			if err != nil {
				n.state.failure(p.Addr)
				n.pr.Event("dial-failed", "remote", p.Addr, "reason", err.Error(), "source", "state")
				return
			}
			n.state.success(p.Addr, p.Source)
			n.serve(ctx, dc)
		}()
	}
}
