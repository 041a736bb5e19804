package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/portmap"
)

// btNAT is what `pex bt swarm` knows of its NAT, reported in nat events
// like a node's: the address peers agree they see it at (their yourip),
// the port mapping its router gave (NAT-PMP or UPnP, unless
// --no-portmap), and whether it is reachable. BitTorrent has no dial-back
// request, so reachable means proven: a peer from a public address other
// than our own dialed in and passed the handshakes.
type btNAT struct {
	s       *swarm.Swarm
	pr      *cli.Printer
	wantMap bool         // a mapping is asked for; the event waits for its outcome
	utp     bool         // uTP runs on the port too: its UDP side is mapped as well
	logger  *slog.Logger // --log-level's, for the port mapping protocols; nil: silent

	mu        sync.Mutex
	mapping   *portmap.Mapping
	mapped    bool
	observed  netip.Addr
	reachable bool
	said      string // the last nat event's fields, to say only changes
}

func newBTNAT(s *swarm.Swarm, pr *cli.Printer, ln net.Listener, noPortmap, utp bool, logger *slog.Logger) *btNAT {
	return &btNAT{s: s, pr: pr, wantMap: ln != nil && !noPortmap && mappable(ln.Addr()), utp: utp, logger: logger}
}

// run asks the router for a mapping of the listen port when wanted, tells
// the swarm its external port, and removes the mapping when ctx ends.
func (b *btNAT) run(ctx context.Context, port int) {
	if !b.wantMap {
		return
	}
	m := requestMapping(ctx, "tcp", port, "pex bt", b.logger, b.pr)
	if m != nil {
		b.s.SetPublicPort(int(m.External.Port()))
	}
	if m != nil && b.utp {
		// uTP's side of the port, for uTP peers to reach us too. Peers
		// are told one port: a router that maps UDP to another external
		// port than TCP's leaves uTP reachable only by punching, and the
		// event says which port it gave.
		if u := requestMapping(ctx, "udp", port, "pex bt uTP", b.logger, b.pr); u != nil {
			defer u.Close()
		}
	}
	b.mu.Lock()
	b.mapping, b.mapped = m, true
	b.mu.Unlock()
	b.report()
	if m != nil {
		<-ctx.Done()
		m.Close()
	}
}

// event takes the swarm events that change what is known: the observed
// address, and incoming connections.
func (b *btNAT) event(ev swarm.Event) {
	b.mu.Lock()
	switch ev.Type {
	case swarm.EventObserved:
		b.observed = ev.Peer.Addr()
	case swarm.EventConnected:
		ip := ev.Peer.Addr().Unmap()
		// An incoming uTP link from a peer we had sent to may be the
		// other half of our own datagrams (a hole punch, or two dials
		// crossing), which proves nothing about a stranger's reach.
		if ev.Outgoing || ev.Solicited || b.reachable || !publicIP(ip) || ip == b.observed {
			b.mu.Unlock()
			return
		}
		b.reachable = true
	default:
		b.mu.Unlock()
		return
	}
	b.mu.Unlock()
	b.report()
}

// report prints a nat event once the observed address is known and the
// mapping attempt (if any) is over, and again on each change.
func (b *btNAT) report() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.observed.IsValid() || (b.wantMap && !b.mapped) {
		return
	}
	method := "none"
	if b.mapping != nil && b.mapping.External.Addr() == b.observed {
		method = b.mapping.Method
	}
	f := []any{"observed", b.observed.String(), "mapping", method, "reachable", b.reachable}
	if b.mapping != nil {
		f = append(f, "external", b.mapping.External.String())
	}
	key := fmt.Sprint(f...)
	if key == b.said {
		return
	}
	b.said = key
	b.pr.Event("nat", f...)
}

// publicIP reports whether ip is an address on the internet: not
// loopback, private, link-local or otherwise special.
func publicIP(ip netip.Addr) bool {
	return ip.IsGlobalUnicast() && !ip.IsPrivate()
}
