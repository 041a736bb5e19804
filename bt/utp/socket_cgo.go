//go:build cgo

package utp

import (
	"context"
	"net"
	"net/netip"
	"sync"

	libutp "github.com/anacrolix/go-libutp"
)

// Supported reports whether this build speaks uTP.
func Supported() bool { return true }

// Socket is a UDP socket carrying uTP connections. It is a net.Listener:
// Accept returns incoming connections. Its methods are safe for concurrent
// use.
type Socket struct {
	s *libutp.Socket

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
	if cfg != nil && cfg.Refuse != nil {
		refuse := cfg.Refuse
		s.SetSyncFirewallCallback(func(a net.Addr) bool { return refuse(addrPort(a)) })
	}
	u := &Socket{s: s}
	go u.drain()
	return u, nil
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
