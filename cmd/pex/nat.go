package main

import (
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/portmap"
)

// natState is what a node knows of its NAT; guarded by node.natMu.
type natState struct {
	mapping *portmap.Mapping // the router's, or nil
	mapped  bool             // the attempt to map is over
}

// wantsPortmap reports whether the node should ask its router for a
// mapping of its --listen port (mappable), and --no-portmap and
// --no-direct are not set.
func (n *node) wantsPortmap() bool {
	return !n.opts.noPortmap && !n.opts.noDirect && mappable(n.listen)
}

// mappable reports whether a listener bound to a may want a port mapping:
// it listens on every interface or on a private address (a loopback or
// public one needs none; and pex never talks to a router it was not asked
// to).
func mappable(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	if !ok || ta == nil {
		return false
	}
	return ta.IP == nil || ta.IP.IsUnspecified() || ta.IP.IsPrivate()
}

// requestMapping asks the router for a mapping of port over proto ("tcp"
// or "udp") and reports the outcome in a portmap event (or a limited
// error); nil when there is none.
func requestMapping(ctx context.Context, proto string, port int, desc string, logger *slog.Logger, pr *cli.Printer) *portmap.Mapping {
	m, err := portmap.Map(ctx, proto, port, &portmap.Config{Description: desc, Logger: logger})
	if err != nil {
		pr.Limited("portmap "+proto, "error", "error", err.Error(), "protocol", proto)
		return nil
	}
	pr.Event("portmap", "method", m.Method, "external", m.External.String(), "internal", m.Internal, "protocol", proto)
	return m
}

// portmapLoop asks the router for a mapping of the listen port, then
// checks reachability through it; Close of the mapping on the way out
// removes it.
func (n *node) portmapLoop(ctx context.Context) {
	port := n.listen.(*net.TCPAddr).Port
	m := requestMapping(ctx, "tcp", port, "pex "+n.opts.network, n.logger, n.pr)
	n.natMu.Lock()
	n.nat.mapping, n.nat.mapped = m, true
	n.natMu.Unlock()
	n.natCheck(ctx)
	if m != nil {
		<-ctx.Done()
		m.Close()
	}
}

// natCheck runs when peers agree on the address they see the node at, and
// when a port mapping attempt ends: a listening node asks peers to dial
// it back there (at the mapped port, when the router gave one),
// advertises the address for direct dials when they reach it (unless
// --advertise or --no-direct says otherwise), and reports what it knows
// in a nat event.
func (n *node) natCheck(ctx context.Context) {
	observed := n.ex.Observed()
	n.natMu.Lock()
	m, mapped := n.nat.mapping, n.nat.mapped
	n.natMu.Unlock()
	if !observed.IsValid() || (n.wantsPortmap() && !mapped) {
		return // the other half will call again
	}
	method := "none"
	reachable := false
	advertise := ""
	if ta, ok := n.listen.(*net.TCPAddr); ok && ta != nil {
		port := ta.Port
		if ta.IP != nil && !ta.IP.IsUnspecified() {
			if ip, ok := netip.AddrFromSlice(ta.IP); ok && ip.Unmap() != observed && !ip.IsPrivate() && !ip.IsLoopback() {
				port = 0 // bound to an address that is not the observed one: it cannot be reached there
			}
		}
		if m != nil && m.External.Addr() == observed {
			method, port = m.Method, int(m.External.Port())
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
	f := []any{"observed", observed.String(), "mapping", method, "reachable", reachable}
	if advertise != "" {
		f = append(f, "advertise", advertise)
	}
	n.pr.Event("nat", f...)
}
