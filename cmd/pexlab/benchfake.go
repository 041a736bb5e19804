package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// fakePeers are the peers of pexlab bench swarm: each dials the target from
// an address of its own (127.a.b.c), completes the BitTorrent and
// extended handshakes (ut_pex, a listen port), sends keep-alives, and
// records every ut_pex message it receives.
type fakePeers struct {
	ih     [20]byte
	target netip.AddrPort
	block  byte // the second octet of its addresses: one block a target

	mu      sync.Mutex
	conns   []net.Conn
	msgs    []pexArrival
	up      int           // peers past their handshakes
	down    int           // of those, peers closed since (by the target, or by churn)
	churned int           // peers churn replaced
	quit    chan struct{} // closed by close: the keep-alives stop
	wg      sync.WaitGroup
}

// quitting is closed once close has been called.
func (f *fakePeers) quitting() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.quit == nil {
		f.quit = make(chan struct{})
	}
	return f.quit
}

// pexArrival is one ut_pex message a fake peer received.
type pexArrival struct {
	peer  int
	at    time.Time
	size  int
	added int
}

// fakeAddr is fake peer i's address in block.
func fakeAddr(block byte, i int) netip.Addr {
	return netip.AddrFrom4([4]byte{127, block + byte(i/62500), byte(i/250%250 + 1), byte(i%250 + 1)})
}

// connect opens n peers, at most par dials at once, each tried three
// times; it returns how many are up.
func (f *fakePeers) connect(ctx context.Context, n, par int) int {
	sem := make(chan struct{}, par)
	var wg sync.WaitGroup
	for i := range n {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for try := 0; try < 3 && ctx.Err() == nil; try++ {
				if f.open(ctx, i) == nil {
					return
				}
				time.Sleep(200 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up
}

func (f *fakePeers) open(ctx context.Context, i int) error {
	d := net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: fakeAddr(f.block, i).AsSlice()}}
	c, err := d.DialContext(ctx, "tcp", f.target.String())
	if err != nil {
		return err
	}
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	hs.InfoHash = f.ih
	copy(hs.PeerID[:], fmt.Sprintf("-FK0001-%012d", i))
	c.SetDeadline(time.Now().Add(30 * time.Second))
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 6881, Version: "fake/1"}
	// Not interested: libtorrent closes an interested peer that requests
	// nothing ("timed out: no request"); an idle peer asks for nothing.
	msg := wire.AppendExtended(hs.Append(nil), 0, ext.Bytes())
	if _, err := c.Write(msg); err != nil {
		c.Close()
		return err
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		c.Close()
		return err
	}
	c.SetDeadline(time.Time{})
	f.mu.Lock()
	f.conns = append(f.conns, c)
	f.up++
	f.mu.Unlock()
	f.wg.Add(2)
	go f.read(i, c)
	go f.keepAlive(c, f.quitting())
	return nil
}

// read records the ut_pex messages that come (the extended id 1 is ours).
func (f *fakePeers) read(i int, c net.Conn) {
	defer f.wg.Done()
	defer func() {
		f.mu.Lock()
		f.down++
		f.mu.Unlock()
	}()
	var hdr [4]byte
	buf := make([]byte, 0, 64)
	var m pex.Msg
	for {
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		n := int(binary.BigEndian.Uint32(hdr[:]))
		if n == 0 {
			continue
		}
		if n > 1<<20 {
			c.Close()
			return
		}
		if cap(buf) < n {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		if buf[0] != wire.MsgExtended || n < 2 || buf[1] != 1 {
			continue
		}
		added := 0
		if pex.Decode(buf[2:], &m) == nil {
			added = len(m.Added)
		}
		f.mu.Lock()
		f.msgs = append(f.msgs, pexArrival{peer: i, at: time.Now(), size: n - 2, added: added})
		f.mu.Unlock()
	}
}

// keepAlive sends a keep-alive a minute until the write fails or the
// peers are closed.
func (f *fakePeers) keepAlive(c net.Conn, quit <-chan struct{}) {
	defer f.wg.Done()
	t := time.NewTicker(60 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-quit:
			return
		case <-t.C:
		}
		c.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.Write([]byte{0, 0, 0, 0}); err != nil {
			return
		}
	}
}

// churn replaces perMinute peers a minute until ctx ends: the one
// connected longest leaves, a new one, from an address not used yet
// (index next on), joins.
func (f *fakePeers) churn(ctx context.Context, perMinute float64, next int) {
	if perMinute <= 0 {
		return
	}
	t := time.NewTicker(time.Duration(float64(time.Minute) / perMinute))
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		f.mu.Lock()
		var c net.Conn
		if len(f.conns) > 0 {
			c, f.conns = f.conns[0], f.conns[1:]
		}
		f.mu.Unlock()
		if c != nil {
			c.Close()
		}
		if f.open(ctx, next) == nil {
			f.mu.Lock()
			f.churned++
			f.mu.Unlock()
		}
		next++
	}
}

func (f *fakePeers) churnedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.churned
}

// alive is how many fake peers are connected now.
func (f *fakePeers) alive() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.up - f.down
}

// close ends every fake peer and waits for their goroutines.
func (f *fakePeers) close() {
	f.quitting()
	f.mu.Lock()
	select {
	case <-f.quit:
	default:
		close(f.quit)
	}
	for _, c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// pexSummary sums up the ut_pex messages the fake peers received.
type pexSummary struct {
	Messages       int     `json:"messages"`
	PerPeer        float64 `json:"per_peer"`
	MeanBytes      float64 `json:"mean_bytes"`
	MaxAdded       int     `json:"max_added"`
	MinSpacingS    float64 `json:"min_spacing_s"`    // the least time between two messages to one peer
	MedianSpacingS float64 `json:"median_spacing_s"` // the median of those times
}

func (f *fakePeers) summary(peers int) pexSummary {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := pexSummary{Messages: len(f.msgs), MinSpacingS: -1}
	if peers > 0 {
		s.PerPeer = float64(len(f.msgs)) / float64(peers)
	}
	last := map[int]time.Time{}
	var gaps []float64
	bytes := 0
	for _, m := range f.msgs {
		bytes += m.size
		s.MaxAdded = max(s.MaxAdded, m.added)
		if t, ok := last[m.peer]; ok {
			gaps = append(gaps, m.at.Sub(t).Seconds())
		}
		last[m.peer] = m.at
	}
	if len(f.msgs) > 0 {
		s.MeanBytes = float64(bytes) / float64(len(f.msgs))
	}
	if len(gaps) > 0 {
		sort.Float64s(gaps)
		s.MinSpacingS, s.MedianSpacingS = cli.Round1(gaps[0]), cli.Round1(gaps[len(gaps)/2])
	}
	return s
}
