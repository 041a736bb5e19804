package main

import (
	"fmt"
	"net"
	"strconv"

	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

// uTP beside TCP, on the same port, as BitTorrent clients run it: peers
// that PEX flags as speaking uTP are dialed over it, and hole punches
// (BEP 55) go through it. Without it (--no-utp, or a build without cgo)
// the swarm runs over TCP only and takes no part in hole punching. The
// sockets are opened without a refusal hook: swarm.UseUTP sets the swarm's
// opening gate as one, so that an IP over its opening rate is refused at
// its SYN, before libutp makes a connection.

// listenUTP opens uTP on ln's port, at bind (--bind's host, from which
// every dial leaves, uTP's included: a uTP dial leaves from its socket) or
// else at ln's host. An unspecified host, ln's default, gets two sockets,
// one for each address family, as the TCP listener takes both: not one
// dual-stack socket, since libutp matches a reply by its sender's address,
// and an IPv4 peer's replies come to such a socket as IPv4-mapped IPv6
// addresses, which match no connection dialed to the IPv4 one. A UDP port
// that is taken fails the run when the user named the port with --listen;
// for the default listener, or a port the system picked (--listen HOST:0),
// the swarm goes on over TCP, and says so (utp-off). IPv6's socket, beside
// IPv4's, is a bonus: a host without IPv6 runs uTP over IPv4 alone.
func listenUTP(ln net.Listener, bind net.IP, named bool, pr *cli.Printer) ([]*utp.Socket, error) {
	if !utp.Supported() {
		pr.Event("utp-off", "reason", "this build has no uTP (built with CGO_ENABLED=0)")
		return nil, nil
	}
	a := *ln.Addr().(*net.TCPAddr)
	if bind != nil {
		a.IP = bind
	}
	network := "udp4"
	switch {
	case a.IP.IsUnspecified():
		a.IP = net.IPv4zero
	case a.IP.To4() == nil:
		network = "udp6"
	}
	addr := net.JoinHostPort(a.IP.String(), strconv.Itoa(a.Port))
	u, err := utp.Listen(network, addr, nil)
	if err != nil {
		if named {
			return nil, fmt.Errorf("%w (uTP's UDP port; --no-utp runs over TCP only)", cli.BindError("listen", addr, err))
		}
		pr.Event("utp-off", "reason", fmt.Sprintf("UDP port %d is taken: %v", a.Port, err))
		return nil, nil
	}
	socks := []*utp.Socket{u}
	if a.IP.Equal(net.IPv4zero) {
		addr6 := net.JoinHostPort("::", strconv.Itoa(a.Port))
		if u6, err := utp.Listen("udp6", addr6, nil); err == nil {
			socks = append(socks, u6)
		} else {
			pr.Event("utp-off", "family", "ipv6", "reason", fmt.Sprintf("UDP %s: %v (uTP runs over IPv4 only)", addr6, err))
		}
	}
	return socks, nil
}
