package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// btPop is the swarm's population: BitTorrent engines that link to the
// node, learn each other from its PEX and dial each other, and peers on
// the wire that hold a link, read the node's PEX and send their own;
// each leaves after its lifetime.
type btPop struct {
	pop
	ih     [20]byte
	target netip.AddrPort

	mu     sync.Mutex
	listen []netip.AddrPort // the engines' listen addresses, the last few (named in the wire peers' PEX)
}

// btListenKept is how many engine addresses the wire peers pick from.
const btListenKept = 64

// run runs the population until ctx ends, and returns once every member
// has left.
func (p *btPop) run(ctx context.Context) {
	p.slots(ctx, p.cfg.Nodes, 1, p.engine)
	p.slots(ctx, p.cfg.Clients, 2, p.wirePeer)
	p.slots(ctx, p.cfg.Misbehaving, 3, p.misbehave)
	<-ctx.Done()
	p.wait()
}

// engine lives one BitTorrent engine's life: a bt/swarm Swarm listening
// at an address of its own, dialing the node and what PEX tells it.
func (p *btPop) engine(ctx context.Context, rng *rand.Rand) {
	ip, ok := take(ctx, p.addrs)
	if !ok {
		return
	}
	defer p.addrs.give(ip) // once all below is closed
	life, cancel := context.WithTimeout(ctx, p.lifetime(rng))
	defer cancel()
	ln, err := net.Listen("tcp", p.listenAt(ip))
	if err != nil {
		p.n.joinFailed.Add(1)
		sleep(ctx, time.Second)
		return
	}
	addr := netip.MustParseAddrPort(ln.Addr().String())
	s, err := swarm.New(p.ih, &swarm.Config{ListenPort: int(addr.Port()), MaxPeers: 8, NoAZMP: rng.IntN(2) == 0,
		Dialer: dialer(ip).DialContext, EventBuffer: 256, Client: "soak/1"})
	if err != nil {
		panic(err) // a valid Config
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.Serve(ln) }() // s.Close closes ln
	joined := make(chan struct{})
	go func() {
		defer wg.Done()
		once := sync.OnceFunc(func() { close(joined) })
		for ev := range s.Events() {
			switch {
			case ev.Type == swarm.EventConnected && ev.Peer == p.target:
				once()
			case ev.Type == swarm.EventConnected:
				p.n.intros.Add(1)
			case ev.Type == swarm.EventPEXReceived && ev.Peer == p.target:
				p.n.lines.Add(1)
			}
		}
	}()
	s.AddPeer(p.target, swarm.SourceManual)
	jctx, jcancel := context.WithTimeout(life, 15*time.Second)
	select {
	case <-joined:
		p.n.joined.Add(1)
		p.addListen(addr)
		<-life.Done()
		p.n.left.Add(1)
	case <-jctx.Done():
		if ctx.Err() == nil {
			p.n.joinFailed.Add(1)
		}
	}
	jcancel()
	s.Close()
	wg.Wait()
}

func (p *btPop) addListen(a netip.AddrPort) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.listen) >= btListenKept {
		p.listen = p.listen[1:]
	}
	p.listen = append(p.listen, a)
}

// someListen returns up to n of the engines' addresses.
func (p *btPop) someListen(rng *rand.Rand, n int) []netip.AddrPort {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []netip.AddrPort
	for range min(n, len(p.listen)) {
		out = append(out, p.listen[rng.IntN(len(p.listen))])
	}
	return out
}

// btHandshake is the BitTorrent handshake (extension protocol on) and an
// extended handshake taking ut_pex as id 1, telling port (where nothing
// listens: the node learns addresses it cannot reach, as of peers behind
// routers).
func btHandshake(ih [20]byte, id string, port int) []byte {
	var hs wire.Handshake
	hs.Reserved[wire.ReservedByteLTEP] |= wire.ReservedBitLTEP
	hs.InfoHash = ih
	copy(hs.PeerID[:], id)
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: port, Version: "soak-wire/1"}
	return wire.AppendExtended(hs.Append(nil), 0, ext.Bytes())
}

// btUnreachablePort is the port the wire peers say they listen on:
// nothing does at their addresses.
const btUnreachablePort = 1

// wirePeer lives one peer on the wire: it links to the node, reads its
// messages (counting the ut_pex ones), sends a keep-alive every
// DataEvery and, once, a ut_pex message naming engines it knows of,
// then leaves (a reset for a quarter of them).
func (p *btPop) wirePeer(ctx context.Context, rng *rand.Rand) {
	ip, ok := take(ctx, p.addrs)
	if !ok {
		return
	}
	defer p.addrs.give(ip)
	life, cancel := context.WithTimeout(ctx, p.lifetime(rng))
	defer cancel()
	c, err := dialer(ip).DialContext(life, "tcp", p.target.String())
	if err != nil {
		if ctx.Err() == nil {
			p.n.joinFailed.Add(1)
			sleep(ctx, time.Second)
		}
		return
	}
	vanish := rng.IntN(4) == 0 // drawn here: the slot's next member draws from rng while this one's end runs
	stop := context.AfterFunc(life, func() {
		if vanish {
			reset(c)
		}
		c.Close()
	})
	defer stop()
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write(btHandshake(p.ih, fmt.Sprintf("-SW0001-%012d", rng.Uint64()%1e12), btUnreachablePort)); err != nil {
		p.n.joinFailed.Add(1)
		return
	}
	if _, err := wire.ReadHandshake(c); err != nil {
		if ctx.Err() == nil {
			p.n.joinFailed.Add(1)
		}
		return
	}
	c.SetDeadline(time.Time{})
	p.n.joined.Add(1)
	defer p.n.left.Add(1)
	done := make(chan struct{})
	var pexID atomic.Int32 // the id the node takes ut_pex under, once its extended handshake came
	go func() {
		defer close(done)
		r := wire.NewReader(c, 0)
		defer r.Release()
		for {
			m, err := r.ReadMessage()
			if err != nil {
				return
			}
			switch {
			case m.KeepAlive || m.ID != wire.MsgExtended || len(m.Payload) == 0:
			case m.Payload[0] == 0:
				if h, err := wire.ParseExtHandshake(m.Payload[1:]); err == nil {
					pexID.Store(int32(h.M["ut_pex"]))
				}
			case m.Payload[0] == 1: // our ut_pex id
				p.n.lines.Add(1)
			}
		}
	}()
	t := time.NewTicker(max(p.cfg.DataEvery, 100*time.Millisecond))
	defer t.Stop()
	for sent := false; ; sent = true {
		select {
		case <-life.Done():
		case <-done:
		case <-t.C:
			var b []byte
			if !sent {
				if id := pexID.Load(); id > 0 && id < 256 {
					var m pex.Msg
					for _, a := range p.someListen(rng, 3) {
						m.Added = append(m.Added, pex.Peer{Addr: a})
					}
					payload, _ := pex.Append(nil, &m)
					b = wire.AppendExtended(b, byte(id), payload)
				}
			}
			b = wire.AppendKeepAlive(b)
			c.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if _, err := c.Write(b); err == nil {
				continue
			}
		}
		break
	}
	c.Close()
	<-done
}
