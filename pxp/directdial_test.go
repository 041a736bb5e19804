package pxp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// victims listens on addrs and counts the connections each gets, closing
// every one at once: they do not answer PXP.
type victims struct {
	mu    sync.Mutex
	dials map[string][]time.Time
}

func listenVictims(t *testing.T, nw *memnet.Network, addrs ...string) *victims {
	t.Helper()
	v := &victims{dials: map[string][]time.Time{}}
	for _, a := range addrs {
		ln, err := nw.Listen(a)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				v.mu.Lock()
				v.dials[a] = append(v.dials[a], time.Now())
				v.mu.Unlock()
				c.Close()
			}
		}()
	}
	return v
}

func (v *victims) count(addr string) int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.dials[addr])
}

// aimingRelay listens on addr as a hostile PXP relay: it answers every
// getpeers with 16 fresh candidates whose advertised "tcp" names the
// targets in turn, and refuses every relay request. It counts the
// getpeers and relay requests it gets.
type aimingRelay struct {
	mu       sync.Mutex
	getpeers int
	relays   int
	nextID   int
	targets  []string
}

func listenAimingRelay(t *testing.T, nw *memnet.Network, addr string, targets ...string) *aimingRelay {
	t.Helper()
	ar := &aimingRelay{targets: targets}
	ln, err := nw.Listen(addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
			go ar.serve(t, c)
		}
	}()
	return ar
}

func (ar *aimingRelay) serve(t *testing.T, c net.Conn) {
	r := newRawPeer(t, c)
	if r.write([]byte(wire.Magic)) != nil || r.frame(0, mux.TypeNew, "pxp") != nil ||
		r.line(`["hello","0",[1,{"pxp":true,"relay":true,"id":"aimer"},["`+testNet+`"]]]`) != nil {
		return
	}
	magic := make([]byte, len(wire.Magic))
	if _, err := io.ReadFull(c, magic); err != nil {
		return
	}
	readMessages(r, func(m wire.Message) {
		switch m.Command {
		case wire.CmdConnect:
			r.line(`["res","` + m.Nonce + `",null]`)
		case wire.CmdGetPeers:
			r.line(`["res","` + m.Nonce + `",[null,` + ar.answer() + `]]`)
		case wire.CmdRelay:
			ar.mu.Lock()
			ar.relays++
			ar.mu.Unlock()
			r.line(`["res","` + m.Nonce + `","no"]`)
		}
	})
}

// answer is 16 candidates, each with an id never given before.
func (ar *aimingRelay) answer() string {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	ar.getpeers++
	var cands []Candidate
	for range 16 {
		ar.nextID++
		id := fmt.Sprintf("sybil%d", ar.nextID)
		ci := fmt.Sprintf(`{"pxp":true,"relay":true,"id":%q,"tcp":%q}`, id, ar.targets[ar.nextID%len(ar.targets)])
		cands = append(cands, Candidate{ID: id, Network: testNet, ConnectInfo: json.RawMessage(ci)})
	}
	b, _ := json.Marshal(cands)
	return string(b)
}

func (ar *aimingRelay) counts() (getpeers, relays int) {
	ar.mu.Lock()
	defer ar.mu.Unlock()
	return ar.getpeers, ar.relays
}

// readMessages calls handle with each control message r's peer sends,
// without a deadline, until the connection ends. It reads past the magic.
func readMessages(r *rawPeer, handle func(wire.Message)) {
	var buf strings.Builder
	for {
		f, err := r.r.ReadFrame()
		if err != nil {
			return
		}
		switch f.Type {
		case mux.TypeNew:
			r.names[f.Channel] = string(f.Payload)
		case mux.TypeDataInit:
			if r.names[f.Channel] != "pxp" {
				continue
			}
			buf.Write(f.Payload)
			for {
				s := buf.String()
				i := strings.IndexByte(s, '\n')
				if i < 0 {
					break
				}
				buf.Reset()
				buf.WriteString(s[i+1:])
				if m, err := wire.ParseMessage([]byte(s[:i])); err == nil {
					m.Args = append(json.RawMessage(nil), m.Args...)
					handle(m)
				}
			}
		}
	}
}

// wantLoop calls GetNewPeer for d as pex node's --want does while short of
// peers: again at once after a success, after a wait doubling from 250 ms
// to 10 s after failures.
func wantLoop(e *Exchange, d time.Duration) (calls int) {
	backoff := 250 * time.Millisecond
	for end := time.Now().Add(d); time.Now().Before(end); {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := e.GetNewPeer(ctx)
		cancel()
		calls++
		if err == nil {
			backoff = 250 * time.Millisecond
			continue
		}
		time.Sleep(backoff)
		backoff = min(2*backoff, 10*time.Second)
	}
	return calls
}

// memDialer dials on nw from host, on a fresh port each time.
func memDialer(nw *memnet.Network, host string) func(context.Context, string, string) (net.Conn, error) {
	var mu sync.Mutex
	port := 20000
	return func(_ context.Context, _, addr string) (net.Conn, error) {
		mu.Lock()
		port++
		local := fmt.Sprintf("%s:%d", host, port)
		mu.Unlock()
		return nw.DialFrom(local, addr)
	}
}

// joinVia links node to the listener at addr on nw, from local.
func joinVia(t *testing.T, nw *memnet.Network, node *Exchange, local, addr string) {
	t.Helper()
	c, err := nw.DialFrom(local, addr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := node.Connect(context.Background(), c); err != nil {
		t.Fatalf("joining through %s: %v", addr, err)
	}
}

// dialsAllowed is how many dials of one address that never answers fit in
// d under a backoff starting at first and doubling up to most: one at
// once, then one after each wait.
func dialsAllowed(d, first, most time.Duration) int {
	n, at, wait := 1, time.Duration(0), first
	for at+wait <= d {
		at += wait
		n++
		wait = min(2*wait, most)
	}
	return n
}

// A relay that answers every getpeers with 16 candidates whose address
// names one of 3 victims cannot aim a node's dials at them: over 10
// virtual minutes of a node asking it as pex node --want does, each victim
// is dialed once, then again only after a doubling wait (4 dials in 10
// minutes at the defaults). Every candidate not dialed is still
// introduced through its relay, as before.
func TestSynctestRelayCannotAimDials(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		targets := []string{"192.0.2.1:7000", "192.0.2.2:7000", "192.0.2.3:7000"}
		v := listenVictims(t, nw, targets...)
		ar := listenAimingRelay(t, nw, "198.51.100.1:7000", targets...)
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9")})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")

		const d = 10 * time.Minute
		calls := wantLoop(node, d)
		getpeers, relays := ar.counts()
		cfg := node.cfg
		allowed := dialsAllowed(d, cfg.DirectDialBackoff, cfg.MaxDirectDialBackoff)
		total := 0
		for _, a := range targets {
			n := v.count(a)
			total += n
			if n > allowed {
				t.Errorf("%s dialed %d times in %v, the backoff allows %d", a, n, d, allowed)
			}
			if n == 0 {
				t.Errorf("%s never dialed: the first dial of an address is not held", a)
			}
		}
		t.Logf("%v: %d GetNewPeer calls, %d getpeers answered naming the victims %d times; %d dials at the 3 victims (at most %d each); %d relay requests",
			d, calls, getpeers, 16*getpeers, total, allowed, relays)
		// The node tried 3 candidates an answer, each through the relay
		// when it was not dialed: the policy took nothing else away.
		if relays < 3*getpeers {
			t.Errorf("%d relay requests for %d answers: candidates not dialed must still be introduced through the relay", relays, getpeers)
		}
		if getpeers < 20 {
			t.Fatalf("only %d answers: the relay did not aim enough dials to test the bound", getpeers)
		}
	})
}

// A relay naming many ports of one IP gets at most MaxDirectDialsPerIP
// dials to that IP started in a DirectDialBackoff window, and so does one
// naming many host names (which may all stand for one IP).
func TestSynctestDirectDialsPerIP(t *testing.T) {
	ports := func(i int) string { return fmt.Sprintf("192.0.2.7:%d", 7000+i) }
	names := func(i int) string { return fmt.Sprintf("v%d.example:7000", i) }
	for _, target := range []func(int) string{ports, names} {
		testDirectDialsPerIP(t, target)
	}
}

func testDirectDialsPerIP(t *testing.T, target func(int) string) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		var targets []string
		for i := range 48 {
			targets = append(targets, target(i))
		}
		v := listenVictims(t, nw, targets...)
		listenAimingRelay(t, nw, "198.51.100.1:7000", targets...)
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9")})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")

		const d = 5 * time.Minute
		start := time.Now()
		wantLoop(node, d)
		var times []time.Duration
		v.mu.Lock()
		for _, ts := range v.dials {
			for _, at := range ts {
				times = append(times, at.Sub(start))
			}
		}
		v.mu.Unlock()
		window, most := node.cfg.DirectDialBackoff, node.cfg.MaxDirectDialsPerIP
		// Windows open at a dial past the last window's end: any span of
		// one window's length holds at most the dials of two windows, and
		// the first minute those of one.
		first := 0
		for _, at := range times {
			if at < window {
				first++
			}
			in := 0
			for _, b := range times {
				if b >= at && b < at+window {
					in++
				}
			}
			if in > 2*most {
				t.Fatalf("%d dials to targets like %s within %v of %v", in, targets[0], window, at)
			}
		}
		t.Logf("48 addresses like %s named for %v: %d dials, %d in the first %v (at most %d a window)", targets[0], d, len(times), first, window, most)
		if first > most || first == 0 {
			t.Fatalf("%d dials to one IP in the first window, want 1 to %d", first, most)
		}
		if max := int(d/window+1) * most; len(times) > max {
			t.Fatalf("%d dials to one IP in %v, at most %d", len(times), d, max)
		}
	})
}

// Honest peers on one IP that answer PXP are all dialed directly, past
// MaxDirectDialsPerIP: a dial that ends in a link gives its place back.
func TestSynctestDirectDialsToPeersNotHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		nw := memnet.NewNetwork()
		relayLn, _ := nw.Listen("198.51.100.1:7000")
		relay := newExchange(t, nil)
		go relay.Serve(relayLn)
		const n = 6
		for i := range n {
			addr := fmt.Sprintf("192.0.2.7:%d", 7000+i)
			ln, err := nw.Listen(addr)
			if err != nil {
				t.Fatal(err)
			}
			h := newExchange(t, &Config{AdvertiseAddr: addr})
			go h.Serve(ln)
			joinVia(t, nw, h, fmt.Sprintf("192.0.2.7:%d", 100+i), "198.51.100.1:7000")
		}
		node := newExchange(t, &Config{Dialer: memDialer(nw, "203.0.113.9"), MaxOutboundPerRelay: -1, MaxOutboundPerPrefix: -1})
		joinVia(t, nw, node, "203.0.113.9:1", "198.51.100.1:7000")
		for i := range n {
			c, err := node.GetNewPeer(context.Background())
			if err != nil {
				t.Fatalf("GetNewPeer %d: %v", i, err)
			}
			if c.Peer() == nil || c.Peer().Via() != nil || c.Transport() == "relay" {
				t.Fatalf("peer %d of one IP reached over %q, want a direct dial", i, c.Transport())
			}
		}
	})
}
