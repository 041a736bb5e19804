// The streams of pex node: serving a data stream, growing the peer set
// with GetNewPeer, and the small helpers they share.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"
	"github.com/seed0021ed4d/pex/pxp"
)

func (n *node) incomingLoop(ctx context.Context) {
	defer n.wg.Done()
	for c := range n.ex.Incoming() {
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.serve(ctx, c)
		}()
	}
}

// wantLoop calls GetNewPeer while fewer than want peers are connected,
// or fewer than --own of them are links the node opened (nodeown.go),
// backing off after failures. A want it cannot meet is one want-unmet
// event each time the peers it has or the reason change, not an error
// each try.
func (n *node) wantLoop(ctx context.Context) {
	defer n.wg.Done()
	backoff := 250 * time.Millisecond
	unmet := "" // the have and reason of the last want-unmet printed
	for ctx.Err() == nil {
		st := n.ex.Stats()
		more := n.wantsMore(st.Peers, st.Outbound)
		if !more {
			unmet = ""
		}
		if !more || st.Peers == 0 {
			if !sleepCtx(ctx, 250*time.Millisecond) {
				return
			}
			continue
		}
		start := time.Now()
		gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		c, err := n.ex.GetNewPeer(gctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			st := n.ex.Stats()
			reason := wantUnmetReason(err)
			if key := fmt.Sprint(st.Peers, " ", st.Outbound, " ", reason, " ", cli.ErrorKind(err)); key != unmet {
				unmet = key
				n.pr.Event("want-unmet", "have", st.Peers, "want", n.opts.want, "opened", st.Outbound, "own", ownTarget(n.opts.want, n.opts.own),
					"reason", reason, "error", "getnewpeer: "+err.Error())
			}
			if !sleepCtx(ctx, backoff) {
				return
			}
			// A node at --want short only of links of its own (a small
			// network, whose every node already links to it) asks less
			// often than one short of links.
			ceiling := 10 * time.Second
			if st.Peers >= n.opts.want {
				ceiling = time.Minute
			}
			backoff = min(2*backoff, ceiling)
			continue
		}
		backoff = 250 * time.Millisecond
		if p := c.Peer(); p != nil && p.Outgoing() && p.Via() == nil && c.Transport() == "tcp" {
			n.state.success(p.RemoteAddr().String(), "introduction") // a direct dial: a relay for next time
		}
		id := ""
		if c.Peer() != nil {
			id = c.Peer().ID()
		}
		f := []any{"transport", c.Transport(), "peer", id, "latency_ms", cli.Millis(time.Since(start)), "ms", ms(time.Since(start)), "peers", n.ex.Stats().Peers}
		if ct := candidateType(c); ct != "" {
			f = append(f, "candidate", ct)
		}
		n.pr.Event("getnewpeer", f...)
		n.wg.Add(1)
		go func() {
			defer n.wg.Done()
			n.serve(ctx, c)
		}()
	}
}

// wantUnmetReason says why GetNewPeer found no new peer.
func wantUnmetReason(err error) string {
	switch {
	case errors.Is(err, pxp.ErrNoCandidates):
		return "no peer had anyone new to introduce: fewer peers may exist than --want"
	case errors.Is(err, pxp.ErrNoPeers):
		return "no peer connected to ask"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, pxp.ErrRequestTimeout):
		return "timed out asking for a new peer"
	}
	return "getnewpeer failed"
}

// candidateType is how a WebRTC link's ICE pair connects (host, srflx,
// prflx or relay), "" for other links.
func candidateType(c *pxp.Conn) string {
	if p := c.Peer(); p != nil {
		return candidateTypeOf(p)
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// serve reports a data stream, greets, and reads its lines.
func (n *node) serve(ctx context.Context, c *pxp.Conn) {
	p := c.Peer()
	remote, id := c.RemoteAddr().String(), ""
	if p != nil {
		remote, id = p.RemoteAddr().String(), p.ID()
	}
	f := []any{"transport", c.Transport(), "remote", remote, "peer", id, "peers", n.ex.Stats().Peers}
	if ct := candidateType(c); ct != "" {
		f = append(f, "candidate", ct)
	}
	n.connects.Add(1)
	n.pr.Event("connect", f...)
	if n.opts.hello != "" {
		if _, err := io.WriteString(c, n.opts.hello+"\n"); err != nil {
			c.Close()
			return
		}
	}
	// The lines are read as they come, with no goroutine waiting on an
	// idle stream: a relay holds thousands.
	stop := context.AfterFunc(ctx, func() { c.Close() })
	n.wg.Add(1)
	c.ReadLines(1<<20, func(b []byte) error {
		line := string(b)
		n.pr.Event("data", "line", line, "transport", c.Transport(), "remote", remote, "peer", id)
		if n.opts.echo && !strings.HasPrefix(line, "echo:") {
			if _, err := io.WriteString(c, "echo:"+line+"\n"); err != nil {
				return err
			}
		}
		return nil
	}, func(error) {
		stop()
		c.Close()
		n.wg.Done()
	})
}
