package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/pxp"
)

// The bench's side of the relay's links (one exchange a link or client),
// and what it reads of the relay process: its RSS and CPU.

// linkPool is the bench's side of the links: one exchange each, answering
// introductions by holding the stream open until the other side closes.
type linkPool struct {
	addr string
	mu   sync.Mutex
	exs  []*pxp.Exchange
	n    int // links and clients made, for their source addresses
}

// dial connects to the relay from a loopback address of its own: links
// 200 to a /24, each client a /24 of its own, as peers from many
// networks would (a relay caps what one network may ask of it).
func (p *linkPool) dial(client bool) (net.Conn, error) {
	p.mu.Lock()
	p.n++
	k := p.n
	p.mu.Unlock()
	src := netip.AddrFrom4([4]byte{127, 1, byte(k / 200), byte(k%200 + 1)})
	if client {
		src = netip.AddrFrom4([4]byte{127, byte(2 + k>>8), byte(k), 1})
	}
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(netip.AddrPortFrom(src, 0)), Timeout: 10 * time.Second}
	return d.Dial("tcp", p.addr)
}

// benchExchange is one end of the bench: an idle link that answers
// introductions, or a client that only asks for them (refusing them, it
// is never offered as a candidate: two clients asking at once would
// otherwise be introduced to each other from both sides, and one of the
// two calls would fail with "peer already connected").
func benchExchange(client bool) (*pxp.Exchange, error) {
	return pxp.New("bench", &pxp.Config{MaxPeers: 8, RefuseIncoming: client,
		GetPeersRate: 1000, GetPeersBurst: 1000, RequestRate: 1000, RequestBurst: 1000})
}

// open adds n links, 64 handshakes at a time.
func (p *linkPool) open(ctx context.Context, n int) error {
	sem := make(chan struct{}, 64)
	var failed atomic.Value
	var wg sync.WaitGroup
	for range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			if err := p.openOne(ctx); err != nil {
				failed.Store(err)
			}
		}()
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return nil
}

func (p *linkPool) openOne(ctx context.Context) error {
	ex, err := benchExchange(false)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.exs = append(p.exs, ex)
	p.mu.Unlock()
	go func() {
		for c := range ex.Incoming() {
			go func() { io.Copy(io.Discard, c); c.Close() }()
		}
	}()
	conn, err := p.dial(false)
	if err != nil {
		return err
	}
	hctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err = ex.Connect(hctx, conn)
	return err
}

// sequential times n GetNewPeer calls, one after another, ten by each
// client (within the relay's getpeers burst for one peer).
func (p *linkPool) sequential(ctx context.Context, n int) ([]float64, error) {
	var all []float64
	for done := 0; done < n; done += 10 {
		ms, errs, first, err := p.run(ctx, 1, min(10, n-done))
		if err == nil && errs > 0 {
			err = fmt.Errorf("%d of %d introductions failed, the first: %w", errs, min(10, n-done), first)
		}
		if err != nil {
			return nil, err
		}
		all = append(all, ms...)
	}
	return all, nil
}

// concurrent has clients clients call GetNewPeer rounds times each, at
// once, and reports the introductions made, their times, the failures,
// the first of them and the wall time.
func (p *linkPool) concurrent(ctx context.Context, clients, rounds int) (int, []float64, int, error, time.Duration, error) {
	start := time.Now()
	ms, errs, first, err := p.run(ctx, clients, rounds)
	return len(ms), ms, errs, first, time.Since(start), err
}

// run has clients clients call GetNewPeer rounds times each, at once, and
// returns the times of those that succeeded, the failures and the first
// failure; err is set when nothing could run.
func (p *linkPool) run(ctx context.Context, clients, rounds int) (ms []float64, errs int, firstErr, err error) {
	var cs []*pxp.Exchange
	defer func() {
		for _, c := range cs {
			c.Close()
		}
	}()
	for range clients {
		ex, err := benchExchange(true)
		if err != nil {
			return nil, 0, nil, err
		}
		cs = append(cs, ex)
		conn, err := p.dial(true)
		if err != nil {
			return nil, 0, nil, err
		}
		if _, err := ex.Connect(ctx, conn); err != nil {
			return nil, 0, nil, err
		}
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, ex := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				gctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				t := time.Now()
				c, err := ex.GetNewPeer(gctx)
				d := float64(time.Since(t).Microseconds()) / 1000
				cancel()
				mu.Lock()
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
				} else {
					ms = append(ms, d)
				}
				mu.Unlock()
				if c != nil {
					c.Peer().Close() // the link, not only its data stream: the next round is a new introduction
				}
			}
		}()
	}
	wg.Wait()
	return ms, errs, firstErr, nil
}

func (p *linkPool) close() {
	p.mu.Lock()
	exs := p.exs
	p.exs = nil
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, ex := range exs {
		wg.Add(1)
		go func() { defer wg.Done(); ex.Close() }()
	}
	wg.Wait()
}

// idleCPU is the share of one core the process used over d, in percent.
func idleCPU(pid int, d time.Duration) (float64, error) {
	ticks := func() (int, error) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return 0, err
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		if len(f) < 13 {
			return 0, errors.New("short /proc stat")
		}
		u, _ := strconv.Atoi(f[11])
		k, _ := strconv.Atoi(f[12])
		return u + k, nil
	}
	t0, err := ticks()
	if err != nil {
		return 0, err
	}
	time.Sleep(d)
	t1, err := ticks()
	if err != nil {
		return 0, err
	}
	return float64(t1-t0) / 100 / d.Seconds() * 100, nil // USER_HZ is 100 on Linux
}
