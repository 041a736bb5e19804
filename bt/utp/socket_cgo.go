//go:build cgo

package utp

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"

	libutp "github.com/anacrolix/go-libutp"
)

// Supported reports whether this build speaks uTP.
func Supported() bool { return true }

// Socket is a UDP socket carrying uTP connections. It is a net.Listener:
// Accept returns incoming connections. Its methods are safe for concurrent
// use.
type Socket struct {
	s *libutp.Socket

	// refuse is Config.Refuse, gate SetRefuse's hook: both are read with
	// libutp's lock held, so neither may sit behind mu (Close holds mu
	// while it takes libutp's lock).
	refuse func(netip.AddrPort) bool
	gate   atomic.Pointer[func(netip.AddrPort) bool]

	mu     sync.Mutex
	closed bool
}

// Listen opens a uTP socket on addr ("IP:PORT"; port 0 picks one). network
// is "udp", "udp4" or "udp6".
func Listen(network, addr string, cfg *Config) (*Socket, error) {
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, err
	}
	u, err := ListenPacket(pc, cfg)
	if err != nil {
		pc.Close()
	}
	return u, err
}

// ListenPacket runs uTP over pc, which the socket owns from then on (Close
// closes it): a UDP socket set up by the caller, or a test's model of a
// network.
func ListenPacket(pc net.PacketConn, cfg *Config) (*Socket, error) {
	s, err := libutp.NewSocketFromPacketConn(pc)
	if err != nil {
		return nil, err
	}
	u := &Socket{s: s}
	if cfg != nil {
		u.refuse = cfg.Refuse
	}
	s.SetSyncFirewallCallback(u.refused)
	go u.drain()
	return u, nil
}

// refused is libutp's firewall callback: asked about an incoming SYN
// that starts a connection (not about a repeat of one it took), it drops
// the SYN unanswered when either hook says so.
func (u *Socket) refused(a net.Addr) bool {
	from := addrPort(a)
	if u.refuse != nil && u.refuse(from) {
		return true
	}
	if g := u.gate.Load(); g != nil && (*g)(from) {
		return true
	}
	return false
}

// SetRefuse sets a second refusal hook beside Config.Refuse, asked after
// it with the same contract (quick, called with the uTP stack's lock held,
// no calls into the socket); an attempt either refuses is dropped
// unanswered. A later call replaces the hook, nil removes it. A swarm's
// UseUTP sets it to the swarm's opening gate.
func (u *Socket) SetRefuse(f func(from netip.AddrPort) bool) {
	if f == nil {
		u.gate.Store(nil)
		return
	}
	u.gate.Store(&f)
}

// drain reads and drops the datagrams that are not uTP (punches, strays):
// the stack queues them for ReadFrom, which nothing else calls.
func (u *Socket) drain() {
	buf := make([]byte, 1500)
	for {
		if _, _, err := u.s.ReadFrom(buf); err != nil {
			return
		}
	}
}

// Accept waits for the next incoming uTP connection.
func (u *Socket) Accept() (net.Conn, error) {
	c, err := u.s.Accept()
	if err != nil {
		return nil, &net.OpError{Op: "accept", Net: "utp", Addr: u.s.Addr(), Err: ErrClosed}
	}
	return c, nil
}

// Addr returns the socket's local address (a *net.UDPAddr).
func (u *Socket) Addr() net.Addr { return u.s.Addr() }

// AddrPort returns the socket's local address.
func (u *Socket) AddrPort() netip.AddrPort { return addrPort(u.s.Addr()) }

// DialContext opens a uTP connection to addr from the socket's port; ctx
// bounds the connection's set-up.
func (u *Socket) DialContext(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	if u.isClosed() {
		return nil, ErrClosed
	}
	network := "udp4"
	if addr.Addr().Is6() {
		network = "udp6"
	}
	c, err := u.s.DialContext(ctx, network, addr.String())
	if err != nil {
		return nil, &net.OpError{Op: "dial", Net: "utp", Addr: net.UDPAddrFromAddrPort(addr), Err: err}
	}
	return c, nil
}

// Punch sends one small datagram that is not uTP to addr, from the
// socket's port: it opens the way back through the routers on this side
// (a NAT's mapping, a firewall's state) for the peer's packets, and is
// dropped at the other end.
func (u *Socket) Punch(addr netip.AddrPort) error {
	if u.isClosed() {
		return ErrClosed
	}
	_, err := u.s.WriteTo(punchPayload, net.UDPAddrFromAddrPort(addr))
	return err
}

func (u *Socket) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

// Close closes the socket and every connection it carries.
func (u *Socket) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	u.mu.Unlock()
	return u.s.Close()
}
