//go:build !cgo

package utp

import (
	"context"
	"net"
	"net/netip"
)

// Supported reports whether this build speaks uTP.
func Supported() bool { return false }

// Socket is a UDP socket carrying uTP connections; in this build (no cgo)
// none can be made.
type Socket struct{}

// Listen returns ErrUnsupported: this build has no uTP.
func Listen(network, addr string, cfg *Config) (*Socket, error) { return nil, ErrUnsupported }

// ListenPacket returns ErrUnsupported: this build has no uTP.
func ListenPacket(pc net.PacketConn, cfg *Config) (*Socket, error) { return nil, ErrUnsupported }

// Accept returns ErrUnsupported.
func (u *Socket) Accept() (net.Conn, error) { return nil, ErrUnsupported }

// Addr returns nil.
func (u *Socket) Addr() net.Addr { return nil }

// AddrPort returns the zero address.
func (u *Socket) AddrPort() netip.AddrPort { return netip.AddrPort{} }

// DialContext returns ErrUnsupported.
func (u *Socket) DialContext(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	return nil, ErrUnsupported
}

// SetRefuse does nothing: no connection comes in to refuse.
func (u *Socket) SetRefuse(f func(from netip.AddrPort) bool) {}

// Punch returns ErrUnsupported.
func (u *Socket) Punch(addr netip.AddrPort) error { return ErrUnsupported }

// Close does nothing.
func (u *Socket) Close() error { return nil }
