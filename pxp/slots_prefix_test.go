package pxp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
)

// talker is an honest peer that joins "node" from addr, retrying when it
// is refused or turned away as pex node's bootstrap does (after 1 s, doubling up to 30
// s), and then writes a line on its data stream every 10 s.
type talker struct {
	addr   string
	mu     sync.Mutex
	peer   *Peer         // its link to the node, once in
	joined time.Duration // when it got in, from the scenario's start
	tries  int
	other  int // tries that failed otherwise than ErrPeerFull
}

func (h *talker) run(t *testing.T, nw *memnet.Network, t0 time.Time, stop <-chan struct{}) {
	e := newExchange(t, nil)
	wait := time.Second
	for {
		h.mu.Lock()
		h.tries++
		h.mu.Unlock()
		c, err := nw.DialFrom(h.addr, "node")
		if err != nil {
			t.Error(err)
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		dc, err := e.Connect(ctx, c)
		cancel()
		if err == nil {
			h.mu.Lock()
			h.peer, h.joined = dc.Peer(), time.Since(t0)
			h.mu.Unlock()
			for {
				select {
				case <-stop:
					return
				case <-dc.Peer().Done():
					return // evicted: it stays out (the test looks at why)
				case <-time.After(10 * time.Second):
					io.WriteString(dc, "still here\n")
				}
			}
		}
		if !errors.Is(err, ErrPeerFull) {
			// Turned away before the connect exchange, as a node whose
			// handshake budget the sybils' flood holds turns anyone
			// away: retried like a refusal, as pex node's bootstrap
			// retries any failure.
			h.mu.Lock()
			h.other++
			h.mu.Unlock()
		}
		select {
		case <-stop:
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// in reports whether the talker holds a live link to the node.
func (h *talker) in() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peer != nil && h.peer.Err() == nil
}

// sybilWave opens n idle links from 10.0.0.0/24 to "node", one every
// 10 ms, from ports starting at base.
func sybilWave(t *testing.T, nw *memnet.Network, n, base int) {
	for i := range n {
		c := sybil(t, nw, fmt.Sprintf("10.0.0.%d:%d", i%200+1, base+i))
		t.Cleanup(func() { c.Close() })
		time.Sleep(10 * time.Millisecond)
	}
}

// prefixLockOut runs the scenario of TestSynctestNoLockOutInsidePrefix
// with cfg and returns how many of the 3 honest peers of the crowd's /24
// are in at the end, and how many links the node evicted.
func prefixLockOut(t *testing.T, cfg *Config) (in int, evicted int) {
	nw := memnet.NewNetwork()
	ln, _ := nw.Listen("node")
	node := newExchange(t, cfg)
	go node.Serve(ln)
	go func() {
		for c := range node.Incoming() {
			go io.Copy(io.Discard, c)
		}
	}()
	var mu sync.Mutex
	go func() {
		for ev := range node.Events() {
			if ev.Type == EventDisconnect && errors.Is(ev.Err, ErrEvicted) {
				mu.Lock()
				evicted++
				mu.Unlock()
			}
		}
	}()
	stop := make(chan struct{})
	t0 := time.Now()
	var wg sync.WaitGroup
	honest := make([]*talker, 3)
	start := func(i int) {
		honest[i] = &talker{addr: fmt.Sprintf("10.0.0.%d:9", 201+i)}
		wg.Add(1)
		go func() {
			defer wg.Done()
			honest[i].run(t, nw, t0, stop)
		}()
	}
	// The honest peers arrive spread over the sybils' arrivals: one
	// before them, one after 1,000, one after 2,000.
	start(0)
	time.Sleep(time.Second)
	sybilWave(t, nw, 1000, 10000)
	start(1)
	sybilWave(t, nw, 1000, 20000)
	start(2)
	// A second flood from the /24 a while later: sybils replacing
	// sybils, the honest links that talk staying.
	time.Sleep(2 * time.Minute)
	sybilWave(t, nw, 2000, 30000)
	time.Sleep(2 * time.Minute)
	for i, h := range honest {
		h.mu.Lock()
		t.Logf("honest %s: in %v after %d tries, %d of them not refused as full (got in at %v)", h.addr, h.peer != nil && h.peer.Err() == nil, h.tries, h.other, h.joined)
		h.mu.Unlock()
		if honest[i].in() {
			in++
		}
	}
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return in, evicted
}

// 4,000 idle sybils from one /24 (two floods of 2,000) against a node with
// 56 incoming slots, and 3 honest peers of that /24 that exchange traffic,
// arriving spread over the first flood. With a newcomer never taking a
// slot of its own prefix (EvictIdle negative, the rule before it
// existed), only the honest peer that came before the flood gets in: 1 of
// 3. With the default EvictIdle all 3 get in, as soon as the sybils of
// the first flood have been idle a minute, and all 3 stay through the
// second flood: the sybils evict only sybils.
func TestSynctestNoLockOutInsidePrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		in, evicted := prefixLockOut(t, &Config{EvictIdle: -1})
		t.Logf("a newcomer never replacing its own prefix's links: %d of 3 honest peers in, %d links evicted", in, evicted)
		if in != 1 || evicted != 0 {
			t.Fatalf("%d of 3 honest in and %d evicted without the rule, want the 1 that came first and none", in, evicted)
		}
	})
	synctest.Test(t, func(t *testing.T) {
		in, evicted := prefixLockOut(t, nil)
		t.Logf("idle links replaced by their prefix's newcomers: %d of 3 honest peers in, %d links evicted", in, evicted)
		if in != 3 {
			t.Fatalf("%d of 3 honest peers of the crowded /24 in at the end, want 3", in)
		}
		if evicted == 0 {
			t.Fatal("no sybil evicted")
		}
	})
}

// A newcomer of the most crowded prefix takes the slot of its prefix's
// link silent longest, sparing the two longest-connected, and only of a
// link silent for EvictIdle.
func TestSynctestEvictIdleOfOwnPrefix(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		ln, _ := nw.Listen("node")
		node := newExchange(t, &Config{MaxPeers: 6, ReservedOutbound: 1, EvictIdle: time.Minute})
		go node.Serve(ln)
		var links []net.Conn
		for i := range 5 { // the 5 incoming slots, one a second
			links = append(links, sybil(t, nw, fmt.Sprintf("10.0.0.%d:1", i+1)))
			t.Cleanup(func() { links[i].Close() })
			time.Sleep(time.Second)
		}
		waitPeers(t, node, 5)
		if _, err := honest(t, nw, "10.0.0.100:1"); !errors.Is(err, ErrPeerFull) {
			t.Fatalf("a newcomer with every link of its prefix active: %v, want ErrPeerFull", err)
		}
		time.Sleep(time.Minute)
		// Links 0 and 1 are the longest-connected; link 2 talks (a
		// blank control line, skipped by the node).
		if _, err := links[2].Write(mux.AppendFrame(nil, 0, mux.TypeDataInit, []byte("\n"))); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := honest(t, nw, "10.0.0.101:1"); err != nil {
			t.Fatalf("a newcomer with idle links in its prefix: %v", err)
		}
		peers := map[string]bool{}
		for _, p := range node.Peers() {
			peers[p.RemoteAddr().String()] = true
		}
		for i := range 5 {
			want := i != 3 // link 3: the idle one joined earliest past the spared two
			if got := peers[fmt.Sprintf("10.0.0.%d:1", i+1)]; got != want {
				t.Fatalf("link %d kept %v, want %v (peers %v)", i, got, want, peers)
			}
		}
	})
}
