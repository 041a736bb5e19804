package swarm

// The hole-punch tests' node: a swarm on a real UDP socket behind a
// stateful firewall, with uTP, and the helpers that wait on it.

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/seed0021ed4d/pex/bt/utp"
)

// firewall is a stateful firewall in front of a UDP socket, as a home
// router keeps one: a datagram comes in only from an address the socket
// sent to before. It is what makes two peers unable to reach each other
// until both have sent (a hole punch).
type firewall struct {
	*net.UDPConn
	mu      sync.Mutex
	open    map[netip.AddrPort]bool
	dropped int
}

func (f *firewall) WriteTo(b []byte, a net.Addr) (int, error) {
	f.mu.Lock()
	f.open[a.(*net.UDPAddr).AddrPort()] = true
	f.mu.Unlock()
	return f.UDPConn.WriteTo(b, a)
}

func (f *firewall) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		n, a, err := f.UDPConn.ReadFrom(b)
		if err != nil {
			return n, a, err
		}
		f.mu.Lock()
		ok := f.open[a.(*net.UDPAddr).AddrPort()]
		if !ok {
			f.dropped++
		}
		f.mu.Unlock()
		if ok {
			return n, a, nil
		}
	}
}

// hpNode is a swarm with TCP and uTP on one loopback port.
type hpNode struct {
	s    *Swarm
	ap   netip.AddrPort
	fw   *firewall // nil: no firewall
	mu   sync.Mutex
	evs  []Event
	done chan struct{}
}

// events returns the events of type typ so far.
func (n *hpNode) events(typ EventType) []Event {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []Event
	for _, e := range n.evs {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// newHPNode starts a swarm on a loopback port whose TCP and UDP sides are
// both free; behind a firewall (UDP) when fw, and refusing TCP dials to
// the ports in noTCP. mods change its Config before it starts.
func newHPNode(t *testing.T, ih [20]byte, fw bool, noTCP map[uint16]bool, hc HolepunchConfig, noPEX bool, mods ...func(*Config)) *hpNode {
	t.Helper()
	var ln net.Listener
	var uc *net.UDPConn
	for range 50 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(l.Addr().String())))
		if err == nil {
			ln, uc = l, u
			break
		}
		l.Close()
	}
	if ln == nil {
		t.Fatal("no loopback port free for both TCP and UDP")
	}
	ap := netip.MustParseAddrPort(ln.Addr().String())
	n := &hpNode{ap: ap, done: make(chan struct{})}
	var pc net.PacketConn = uc
	if fw {
		n.fw = &firewall{UDPConn: uc, open: map[netip.AddrPort]bool{}}
		pc = n.fw
	}
	u, err := utp.ListenPacket(pc, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := &net.Dialer{}
	cfg := &Config{ListenPort: int(ap.Port()), HandshakeTimeout: 2 * time.Second, Holepunch: hc, NoPEX: noPEX,
		Dialer: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if noTCP[netip.MustParseAddrPort(addr).Port()] {
				return nil, errors.New("test: TCP blocked")
			}
			return d.DialContext(ctx, network, addr)
		}}
	for _, mod := range mods {
		mod(cfg)
	}
	s, err := New(ih, cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.s = s
	go s.Serve(ln)
	s.UseUTP(u)
	go func() {
		defer close(n.done)
		for ev := range s.Events() {
			n.mu.Lock()
			n.evs = append(n.evs, ev)
			n.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		s.Close()
		<-n.done
	})
	return n
}

// linkTo returns n's live link to o, if any.
func (n *hpNode) linkTo(o *hpNode) (PeerInfo, bool) {
	for _, p := range n.s.Peers() {
		if p.Addr == o.ap || p.Listen == o.ap {
			return p, true
		}
	}
	return PeerInfo{}, false
}

// until waits, for limit at most, for cond.
func until(limit time.Duration, cond func() bool) bool {
	end := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
	return true
}
