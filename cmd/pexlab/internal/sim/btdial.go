package sim

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

// The honest peers' dials go through the world's dialer, which sees where
// each one goes: to an honest peer, to an attacker, to a victim (a host
// that is no BitTorrent peer, btVictim) or to an address where nothing
// listens (an attacker's invention). Those last two are the dials an
// attack wastes.

// dialer is honest peer p's swarm.Config.Dialer.
func (w *btWorld) dialer(p *btPeer) func(ctx context.Context, network, addr string) (net.Conn, error) {
	host := p.addr.Addr().String()
	return func(ctx context.Context, _, addr string) (net.Conn, error) {
		a, err := netip.ParseAddrPort(addr)
		if err != nil {
			return nil, err
		}
		from := fmt.Sprintf("%s:%d", host, 10000+w.ports.Add(1)%50000)
		k := w.kindOf(a)
		p.dials[k].Add(1)
		switch k {
		case kindVictim:
			// A victim answers on every port it is named at.
			addr = netip.AddrPortFrom(a.Addr(), 80).String()
		case kindDead:
			return w.deadDial(ctx, p, a)
		case kindHonest:
			p.know.add(w.byAdr[a]) // known: it dials it (a PEX event naming it may have been dropped)
		}
		c, err := w.nw.DialFrom(from, addr)
		if err != nil {
			return nil, err
		}
		return w.track(c, p, k, a.Addr()), nil
	}
}

// trackedConn counts a connection open at an honest peer, by what is at
// the other end, until it is closed; on a connection with an honest peer,
// its tap reads what the peer is told (bttap.go).
type trackedConn struct {
	*memnet.Conn
	open   *atomic.Int64
	closed atomic.Bool
	tap    *pexTap
}

// track counts c, honest peer p's connection with kind at remote.
func (w *btWorld) track(c *memnet.Conn, p *btPeer, kind int, remote netip.Addr) net.Conn {
	p.open[kind].Add(1)
	tc := &trackedConn{Conn: c, open: &p.open[kind]}
	if kind == kindHonest {
		tc.tap = newTap(w, p, remote)
	}
	return tc
}

func (c *trackedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.tap != nil && n > 0 {
		c.tap.feed(b[:n])
	}
	return n, err
}

func (c *trackedConn) Close() error {
	if !c.closed.Swap(true) {
		c.open.Add(-1)
	}
	return c.Conn.Close()
}

// trackedListener is an honest peer's listener, whose connections are
// counted by who dialed them: an honest peer or an attacker.
type trackedListener struct {
	*memnet.Listener
	w *btWorld
	p *btPeer
}

func (l trackedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	mc := c.(*memnet.Conn)
	kind := kindHonest
	a, _ := netip.ParseAddrPort(mc.RemoteAddr().String())
	if attackerIP(a.Addr()) {
		kind = kindAttacker
	}
	return l.w.track(mc, l.p, kind, a.Addr()), nil
}

// kindOf says what is at a.
func (w *btWorld) kindOf(a netip.AddrPort) int {
	if _, ok := w.byAdr[a]; ok {
		return kindHonest
	}
	if _, ok := w.plan.byAddr[a]; ok {
		return kindAttacker
	}
	if _, ok := w.plan.victims[a.Addr()]; ok {
		return kindVictim
	}
	return kindDead
}

// deadDial is a dial to an address where nothing listens: it fails as
// timed out after the attack's DeadWait of protocol time, or at once as
// refused when DeadWait is negative.
func (w *btWorld) deadDial(ctx context.Context, p *btPeer, a netip.AddrPort) (net.Conn, error) {
	addr := net.TCPAddrFromAddrPort(a)
	wait := w.plan.cfg.DeadWait
	if wait < 0 {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: syscall.ECONNREFUSED}
	}
	n := p.deadNow.Add(1)
	defer p.deadNow.Add(-1)
	for m := w.deadMax.Load(); n > m && !w.deadMax.CompareAndSwap(m, n); m = w.deadMax.Load() {
	}
	t := time.NewTimer(w.clock.Real(wait))
	defer t.Stop()
	select {
	case <-t.C:
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: os.ErrDeadlineExceeded}
	case <-ctx.Done():
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: addr, Err: ctx.Err()}
	}
}

// btVictim is a host the attackers name that is no BitTorrent peer (a web
// server, say): it counts the connections made to it, by protocol minute,
// answers each with a line of HTTP and closes it.
type btVictim struct {
	ln    *memnet.Listener
	total atomic.Int64
	mu    sync.Mutex
	perMi []int64 // connections by protocol minute of the run
}

// startVictims brings the plan's victims up.
func (w *btWorld) startVictims() error {
	for v := range w.plan.cfg.Victims {
		ln, err := w.nw.Listen(netip.AddrPortFrom(victimAddr(v), 80).String())
		if err != nil {
			return err
		}
		vic := &btVictim{ln: ln}
		w.mu.Lock()
		w.victims = append(w.victims, vic)
		w.mu.Unlock()
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				vic.count(int(w.clock.Now().Sub(w.clock.Start) / time.Minute))
				c.Write([]byte("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"))
				c.Close()
			}
		}()
	}
	return nil
}

func (v *btVictim) count(minute int) {
	v.total.Add(1)
	v.mu.Lock()
	defer v.mu.Unlock()
	for len(v.perMi) <= minute {
		v.perMi = append(v.perMi, 0)
	}
	v.perMi[minute]++
}
