package main

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

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
// was reached, and the last failure of each.
type bootState struct {
	mu      sync.Mutex
	reached latch             // set at the first link to a --connect peer
	last    map[string]string // address -> last failure
}

func newBootState() *bootState {
	return &bootState{last: map[string]string{}}
}

func (b *bootState) failed(addr string, err error) {
	b.mu.Lock()
	b.last[addr] = err.Error()
	b.mu.Unlock()
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
		if err != nil {
			n.state.failure(addr)
			n.boot.failed(addr, err)
			n.pr.Limited("dial-failed "+addr, "dial-failed", "remote", addr, "reason", err.Error(), "retry_s", wait.Seconds())
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
// that --connect does not name: a node restarted without --connect finds
// its way back into the mesh.
func (n *node) dialRemembered(ctx context.Context) {
	tried := 0
	for _, p := range n.state.peers() {
		if tried == maxRemembered {
			break
		}
		if slices.Contains(n.opts.connect, p.Addr) {
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
