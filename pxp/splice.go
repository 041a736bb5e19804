package pxp

import (
	"context"
	"errors"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/mux"
	"golang.org/x/time/rate"
)

// splice copies both ways between two relay streams, each direction limited
// to RelayRateLimit bytes a second. The end of one side is passed on as END;
// errors stay local (the reference turns them into a dropped link, B1).
func (e *Exchange) splice(a, b *mux.Stream, pa, pb *Peer) {
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	go func() {
		select {
		case <-pa.done:
		case <-pb.done:
		case <-ctx.Done():
		}
		cancel()
	}()
	// A relay that carries nothing for RelayIdleTimeout gives its slot
	// back: a peer cannot hold slots by asking for relays it never uses.
	var last atomic.Int64
	last.Store(time.Now().UnixNano())
	var idle *time.Timer
	idle = time.AfterFunc(e.cfg.RelayIdleTimeout, func() {
		since := time.Since(time.Unix(0, last.Load()))
		if since >= e.cfg.RelayIdleTimeout {
			e.cfg.Logger.Debug("pxp: relay idle, ended", "idle", since)
			cancel()
			return
		}
		idle.Reset(e.cfg.RelayIdleTimeout - since)
	})
	defer idle.Stop()
	var wg sync.WaitGroup
	wg.Add(2)
	pipe := func(dst, src *mux.Stream) {
		defer wg.Done()
		var why error
		defer func() {
			e.cfg.Logger.Debug("pxp: relay direction ended", "from", src.Name(), "to", dst.Name(), "err", why)
		}()
		lim := rate.NewLimiter(rate.Limit(e.cfg.RelayRateLimit), relayChunk)
		buf := make([]byte, relayChunk)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				last.Store(time.Now().UnixNano())
				if werr := lim.WaitN(ctx, n); werr != nil {
					why = werr
					break
				}
				if _, werr := dst.Write(buf[:n]); werr != nil {
					why = werr
					cancel()
					break
				}
				e.relayedBytes.Add(uint64(n))
			}
			if err != nil {
				why = err
				if !errors.Is(err, io.EOF) {
					cancel()
				}
				break
			}
		}
		_ = dst.CloseWrite()
	}
	go pipe(b, a)
	go pipe(a, b)
	// Wake blocked reads when the splice is cancelled.
	stopWake := context.AfterFunc(ctx, func() {
		a.SetReadDeadline(time.Unix(1, 0))
		b.SetReadDeadline(time.Unix(1, 0))
	})
	wg.Wait()
	stopWake()
	a.Close()
	b.Close()
}

// relayChunk is the largest piece a relay moves at once; it is also the
// rate limiter's burst.
const relayChunk = 16 << 10
