package soak

import (
	"context"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// PopCounts are what the population has done since the start.
type PopCounts struct {
	Joined      int64 `json:"joined"`       // members that linked to the node
	Left        int64 `json:"left"`         // of those, members that left since
	JoinFailed  int64 `json:"join_failed"`  // members that could not link
	Intros      int64 `json:"intros"`       // pxp: introductions through the relay; bt: links between members
	IntroFailed int64 `json:"intro_failed"` // pxp: GetNewPeer calls that failed
	Lines       int64 `json:"lines"`        // pxp: data lines received; bt: PEX messages from the node
	Misbehaved  int64 `json:"misbehaved"`   // misbehaving clients run
	CutOff      int64 `json:"cut_off"`      // of those, clients the node closed before they were done
}

// counts are PopCounts, counted as they happen.
type counts struct {
	joined, left, joinFailed, intros, introFailed, lines, misbehaved, cutOff atomic.Int64
}

func (c *counts) snapshot() PopCounts {
	return PopCounts{Joined: c.joined.Load(), Left: c.left.Load(), JoinFailed: c.joinFailed.Load(), Intros: c.intros.Load(),
		IntroFailed: c.introFailed.Load(), Lines: c.lines.Load(), Misbehaved: c.misbehaved.Load(), CutOff: c.cutOff.Load()}
}

// pop is what both populations share: the config, the counts, the
// addresses members come from (pool.go), and the slots they run in.
type pop struct {
	cfg     *Config
	n       counts
	next    atomic.Int64 // member addresses made, for the next
	bad     atomic.Int64 // misbehaving clients' addresses made, for theirs
	badRuns atomic.Int64 // misbehaving clients run, for their kinds
	addrs   *addrPool    // the members'
	bads    *addrPool    // the misbehaving clients'
	wg      sync.WaitGroup
}

// badPool is the misbehaving clients' pool, beside the members' one.
const badPool = 32

func (p *pop) init(cfg *Config) {
	p.cfg = cfg
	good, bad := 0, 0
	if cfg.Addresses > 0 {
		good, bad = cfg.Addresses, max(badPool, 2*cfg.Misbehaving)
	}
	p.addrs, p.bads = newAddrPool(good, p.memberAddr), newAddrPool(bad, p.badAddr)
}

// memberAddr is a new member address: 127.A.B.1, each alone in a /24 (the
// node's per-IP and per-prefix limits see the many networks a public
// node's peers come from), A.B cycling through 51,200 /24s.
func (p *pop) memberAddr() netip.Addr {
	k := p.next.Add(1)
	return netip.AddrFrom4([4]byte{127, byte(16 + k/256%200), byte(k), 1})
}

// badAddr is a new misbehaving client's address, in 127.240.0.0/12.
func (p *pop) badAddr() netip.Addr {
	k := p.bad.Add(1)
	return netip.AddrFrom4([4]byte{127, byte(240 + k>>16%16), byte(k >> 8), byte(k%254 + 1)})
}

// listenAt is where a member at ip listens: memberPort with a pool of
// addresses, else a port of the system's choice.
func (p *pop) listenAt(ip netip.Addr) string {
	if p.addrs.fixedPort() {
		return netip.AddrPortFrom(ip, memberPort).String()
	}
	return netip.AddrPortFrom(ip, 0).String()
}

// take takes an address of pool for one life; when every one is in use
// it waits a little and reports false (the slot tries again).
func take(ctx context.Context, pool *addrPool) (netip.Addr, bool) {
	ip, ok := pool.take()
	if !ok {
		sleep(ctx, 100*time.Millisecond)
	}
	return ip, ok
}

// dialer dials from ip.
func dialer(ip netip.Addr) *net.Dialer {
	return &net.Dialer{Timeout: 10 * time.Second, LocalAddr: &net.TCPAddr{IP: ip.AsSlice()}}
}

// lifetime draws a member's stay: evenly from half to one and a half of
// Config.Lifetime.
func (p *pop) lifetime(rng *rand.Rand) time.Duration {
	return p.cfg.Lifetime/2 + time.Duration(rng.Int64N(int64(p.cfg.Lifetime)))
}

// slots runs n slots of life until ctx ends: in each, one member lives
// (life returns when it has left) and the next takes its place. Slots
// start spread over the first second.
func (p *pop) slots(ctx context.Context, n int, seed uint64, life func(ctx context.Context, rng *rand.Rand)) {
	for i := range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			rng := rand.New(rand.NewPCG(p.cfg.Seed, seed<<32|uint64(i)))
			sleep(ctx, time.Duration(rng.Int64N(int64(time.Second))))
			for ctx.Err() == nil {
				life(ctx, rng)
			}
		}()
	}
}

// wait waits for every slot to end (after ctx has).
func (p *pop) wait() { p.wg.Wait() }

// sleep waits d or until ctx ends, and reports whether it waited d.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// reset closes c with a reset rather than a FIN where it can (a TCP
// connection with linger 0): a peer that vanishes.
func reset(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// holdUntilClosed reads and drops what c sends until the node closes it
// or limit passes, then closes it, and reports whether the node closed
// it first.
func holdUntilClosed(c net.Conn, limit time.Duration) bool {
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(limit))
	buf := make([]byte, 4096)
	for {
		if _, err := c.Read(buf); err != nil {
			ne, ok := err.(net.Error)
			return !ok || !ne.Timeout()
		}
	}
}
