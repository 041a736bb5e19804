package main

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"time"
)

// natCheck runs when peers agree on the address they see the node at:
// a listening node asks peers to dial it back there, advertises the
// address for direct dials when they reach it (unless --advertise or
// --no-direct says otherwise), and reports what it knows in a nat event.
// pex maps no ports on the router yet, so mapping is always "none".
func (n *node) natCheck(ctx context.Context, listen net.Addr) {
	observed := n.ex.Observed()
	if !observed.IsValid() {
		return
	}
	reachable := false
	advertise := ""
	if ta, ok := listen.(*net.TCPAddr); ok && ta != nil {
		port := ta.Port
		if ta.IP != nil && !ta.IP.IsUnspecified() {
			if ip, ok := netip.AddrFromSlice(ta.IP); ok && ip.Unmap() != observed && !ip.IsPrivate() && !ip.IsLoopback() {
				port = 0 // bound to an address that is not the observed one: it cannot be reached there
			}
		}
		if port > 0 {
			dctx, cancel := context.WithTimeout(ctx, 15*time.Second)
			ok, err := n.ex.DialBack(dctx, port)
			cancel()
			reachable = ok && err == nil
			if reachable {
				advertise = net.JoinHostPort(observed.String(), strconv.Itoa(port))
			}
		}
	}
	if advertise != "" && n.opts.advertise == "" && !n.opts.noDirect {
		n.ex.SetAdvertiseAddr(advertise)
	}
	f := []any{"observed", observed.String(), "mapping", "none", "reachable", reachable}
	if advertise != "" {
		f = append(f, "advertise", advertise)
	}
	n.pr.event("nat", f...)
}
