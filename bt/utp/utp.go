package utp

import (
	"errors"
	"net"
	"net/netip"
)

// ErrUnsupported is Listen's error in a build without uTP (no cgo).
var ErrUnsupported = errors.New("utp: this build of pex has no uTP (it was built with CGO_ENABLED=0)")

// ErrClosed is returned by a closed Socket's methods.
var ErrClosed = errors.New("utp: socket closed")

// punchPayload is what Punch sends: not a uTP packet (its first byte's
// high nibble is no uTP type and its low nibble no version), so that a
// uTP stack at the other end drops it, and short, so that it costs
// nothing. Its only job is the state it leaves in the routers on its way.
var punchPayload = []byte("pex-punch")

// Config tunes a Socket; nil means the defaults.
type Config struct {
	// Refuse, when set, is asked about every incoming connection attempt
	// before libutp answers it; true drops the attempt unanswered (no
	// acknowledgement leaves, so a refused peer learns nothing). It is
	// called with the uTP stack's lock held: it must be quick and must not
	// call into the socket.
	Refuse func(from netip.AddrPort) bool
}

// addrPort converts a UDP address to a netip.AddrPort, IPv4 unmapped.
func addrPort(a net.Addr) netip.AddrPort {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
