package webrtc

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// checkBudget bounds what one upgrade sends to remote candidates that
// have not answered: no more bytes than the peer sent in its signals.
// Connectivity checks to an address that never answers are the one
// traffic a peer can aim at a third party through this node (it names the
// addresses); bounding them by what the peer sent means an attacker gets
// less out than it puts in. An address that has sent anything to the
// session's sockets is answered without limit: it is a real peer. Traffic
// to STUN and TURN servers (not remote candidates) is not counted.
type checkBudget struct {
	servers []netip.Addr // the ICE servers' addresses: never counted
	mu      sync.Mutex
	left    int                     // bytes that may still go to silent candidates
	remote  map[netip.AddrPort]bool // remote candidate addresses -> heard from
	dropped int                     // packets withheld
}

func newCheckBudget(servers []netip.Addr) *checkBudget {
	return &checkBudget{servers: servers, remote: map[netip.AddrPort]bool{}}
}

// earn credits the bytes of one signal the peer sent.
func (b *checkBudget) earn(n int) {
	b.mu.Lock()
	b.left += n
	b.mu.Unlock()
}

// expect records a remote candidate's address.
func (b *checkBudget) expect(a netip.AddrPort) {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	b.mu.Lock()
	if _, ok := b.remote[a]; !ok {
		b.remote[a] = false
	}
	b.mu.Unlock()
}

// heard marks an address that sent the session a packet.
func (b *checkBudget) heard(addr net.Addr) {
	a, ok := addrPort(addr)
	if !ok {
		return
	}
	b.mu.Lock()
	if heard, known := b.remote[a]; known && !heard {
		b.remote[a] = true
	}
	b.mu.Unlock()
}

// allow reports whether n bytes may go to addr, and counts them. It runs
// for every packet the session sends: the common case, a peer that has
// answered, is one map lookup.
func (b *checkBudget) allow(addr net.Addr, n int) bool {
	a, ok := addrPort(addr)
	if !ok {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	heard, known := b.remote[a]
	switch {
	case !known || heard:
		return true
	case slices.Contains(b.servers, a.Addr()):
		return true // a STUN or TURN server of ours (a peer's relayed address is on one)
	case b.left >= n:
		b.left -= n
		return true
	}
	b.dropped++
	return false
}

func addrPort(addr net.Addr) (netip.AddrPort, bool) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, false
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
}

// budgetNet is the network one upgrade's ICE agent uses: the Upgrader's
// shared one, with every UDP socket it opens held to the session's budget
// and its consent checks paced (consent.go).
type budgetNet struct {
	transport.Net
	sendRules
}

// sendRules are what every write of one session's sockets passes: the
// consent pacer, then the check budget. A held write is reported as sent,
// as the network might drop it.
type sendRules struct {
	b    *checkBudget
	pace *consentPacer
}

func (r sendRules) pass(p []byte, addr net.Addr) bool {
	return r.pace.allow(p) && r.b.allow(addr, len(p))
}

func (n budgetNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	c, err := n.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	return &budgetConn{UDPConn: c, sendRules: n.sendRules}, nil
}

func (n budgetNet) ListenPacket(network, address string) (net.PacketConn, error) {
	c, err := n.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &budgetPacketConn{PacketConn: c, sendRules: n.sendRules}, nil
}

// budgetConn is a UDP socket whose writes to silent candidates are
// counted against the session's budget; a write over it is dropped, as
// the network might drop it.
type budgetConn struct {
	transport.UDPConn
	sendRules
}

func (c *budgetConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.UDPConn.ReadFrom(p)
	if err == nil {
		c.b.heard(addr)
	}
	return n, addr, err
}

func (c *budgetConn) ReadFromUDP(p []byte) (int, *net.UDPAddr, error) {
	n, addr, err := c.UDPConn.ReadFromUDP(p)
	if err == nil {
		c.b.heard(addr)
	}
	return n, addr, err
}

func (c *budgetConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.pass(p, addr) {
		return len(p), nil
	}
	return c.UDPConn.WriteTo(p, addr)
}

func (c *budgetConn) WriteToUDP(p []byte, addr *net.UDPAddr) (int, error) {
	if !c.pass(p, addr) {
		return len(p), nil
	}
	return c.UDPConn.WriteToUDP(p, addr)
}

func (c *budgetConn) WriteMsgUDP(p, oob []byte, addr *net.UDPAddr) (int, int, error) {
	if !c.pass(p, addr) {
		return len(p), len(oob), nil
	}
	return c.UDPConn.WriteMsgUDP(p, oob, addr)
}

type budgetPacketConn struct {
	net.PacketConn
	sendRules
}

func (c *budgetPacketConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(p)
	if err == nil {
		c.b.heard(addr)
	}
	return n, addr, err
}

func (c *budgetPacketConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	if !c.pass(p, addr) {
		return len(p), nil
	}
	return c.PacketConn.WriteTo(p, addr)
}

// sharedNet is the Upgrader's view of this machine's interfaces: listing
// them (a netlink dump) once per upgrade costs more than the rest of
// setting one up, so one is kept and refreshed after netRefresh.
type sharedNet struct {
	mu       sync.Mutex
	net      transport.Net
	prefixes []netip.Prefix // the networks this machine's interfaces are on
	made     time.Time
}

const netRefresh = 30 * time.Second

func (s *sharedNet) get() (transport.Net, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.net == nil || time.Since(s.made) > netRefresh {
		n, err := stdnet.NewNet()
		if err != nil {
			return nil, err
		}
		s.net, s.made = n, time.Now()
		s.prefixes = s.prefixes[:0]
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if ipn, ok := a.(*net.IPNet); ok {
					ones, _ := ipn.Mask.Size()
					if ip, ok := netip.AddrFromSlice(ipn.IP); ok {
						s.prefixes = append(s.prefixes, netip.PrefixFrom(ip.Unmap(), ones).Masked())
					}
				}
			}
		}
	}
	return s.net, nil
}

// onLink reports whether ip is on a network one of this machine's
// interfaces is on.
func (s *sharedNet) onLink(ip netip.Addr) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
