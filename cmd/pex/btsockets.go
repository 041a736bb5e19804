package main

// The sockets pex bt swarm binds before it says anything (--listen,
// --metrics, --http, the DHT's), where outgoing dials leave from (--bind),
// and the DHT node's start.

import (
	"context"
	"errors"
	"net"
	"net/netip"

	"github.com/seed0021ed4d/pex/bt/dht"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/cmd/internal/cli"
)

// btSockets are the sockets pex bt swarm binds before it announces any:
// each nil when not asked for.
type btSockets struct {
	ln            net.Listener // the peers' (--listen's, or the default's)
	bound         string       // why ln is where it is: "--listen", or the default's reason
	metrics, http net.Listener // --metrics' and --http's
	dht           *dht.Node    // the DHT's UDP socket (--dht-listen's, or the default's)
	dhtWhy        string       // why the DHT is where it is
}

// bindSockets binds every socket the flags ask for, the DHT's when useDHT: a
// socket that cannot be bound fails it, naming its flag, and closes those
// bound before it.
func (o *btOpts) bindSockets(useDHT bool) (b *btSockets, err error) {
	b = &btSockets{bound: "--listen"}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	switch {
	case o.noListen:
	case o.listen != "":
		b.ln, err = cli.Listen("listen", o.listen)
	default:
		b.ln, b.bound, err = listenFirstFree(btListenHost, btListenPorts)
	}
	if err != nil {
		return b, err
	}
	for _, l := range []struct {
		flag, addr string
		ln         *net.Listener
	}{{"metrics", o.metrics, &b.metrics}, {"http", o.http, &b.http}} {
		if l.addr == "" {
			continue
		}
		if *l.ln, err = cli.Listen(l.flag, l.addr); err != nil {
			return b, err
		}
	}
	if useDHT {
		// The DHT binds the --listen host only when it was given: pex
		// binds no UDP port on every interface unless asked to.
		dhtHost := b.ln
		if o.listen == "" {
			dhtHost = nil
		}
		b.dht, b.dhtWhy, err = o.startDHT(dhtHost)
	}
	return b, err
}

// close closes every socket bindSockets opened.
func (b *btSockets) close() {
	for _, ln := range []net.Listener{b.ln, b.metrics, b.http} {
		if ln != nil {
			ln.Close()
		}
	}
	if b.dht != nil {
		b.dht.Close()
	}
}

// closeHTTP closes the --metrics and --http sockets, when a step after
// bindSockets fails before they are served (the others are closed by run's
// deferred calls).
func (b *btSockets) closeHTTP() {
	for _, ln := range []net.Listener{b.metrics, b.http} {
		if ln != nil {
			ln.Close()
		}
	}
}

// bindHost is the IP outgoing connections leave from: --bind, or the
// --listen host when it names one address; nil lets the kernel choose.
func (o *btOpts) bindHost(ln net.Listener) net.IP {
	if o.bind != "" {
		return net.ParseIP(o.bind)
	}
	if ln != nil {
		if ip := ln.Addr().(*net.TCPAddr).IP; !ip.IsUnspecified() {
			return ip
		}
	}
	return nil
}

// boundDialer dials from bind, for addresses of its family (an IPv4
// address cannot be the source of a dial to an IPv6 peer, nor the other
// way round).
func boundDialer(bind net.IP) func(ctx context.Context, network, addr string) (net.Conn, error) {
	from := &net.Dialer{Timeout: swarm.DefaultDialTimeout, LocalAddr: &net.TCPAddr{IP: bind}}
	other := &net.Dialer{Timeout: swarm.DefaultDialTimeout}
	v4 := bind.To4() != nil
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		if ap, err := netip.ParseAddrPort(addr); err == nil && ap.Addr().Unmap().Is4() != v4 {
			return other.DialContext(ctx, network, addr)
		}
		return from.DialContext(ctx, network, addr)
	}
}

// startDHT starts the DHT node on --dht-listen, or on the --listen host,
// or on loopback only: the DHT is never bound to every interface unless
// asked to. It returns the node and why it is where it is; a socket that
// cannot be bound is an error naming --dht-listen (cli.BindError).
func (o *btOpts) startDHT(ln net.Listener) (node *dht.Node, why string, err error) {
	addr, why := o.dhtListen, "--dht-listen"
	if addr == "" {
		host := "127.0.0.1"
		why = "loopback only (give --dht-listen or a --listen host to reach others)"
		if ln != nil {
			host = ln.Addr().(*net.TCPAddr).IP.String()
			why = "the --listen host"
		}
		addr = net.JoinHostPort(host, "0")
	}
	node, err = dht.Start(dht.Config{Listen: addr, Bootstrap: o.dhtBoot})
	if err != nil {
		return nil, "", dhtBindError(addr, err)
	}
	return node, why, nil
}

// dhtBindError names --dht-listen in a DHT start's failure to bind addr
// (the DHT's socket is --dht-listen's, given or not); other failures are
// returned as they are.
func dhtBindError(addr string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "listen" {
		return cli.BindError("dht-listen", addr, err)
	}
	return err
}
