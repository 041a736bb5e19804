package pxp

// The in-memory world of the direct-dial and outbound tests: victims that
// count the dials they get, a relay that aims them, a node's dialer.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
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
