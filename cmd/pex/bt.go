package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/bt/dht"
	"github.com/seed0021ed4d/pex/bt/metainfo"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/tracker"
)

func runBT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "swarm" {
		fmt.Fprintln(stderr, "usage: pex bt swarm (--infohash HEX | --magnet URI | --torrent FILE) [--listen HOST:PORT] [--peer HOST:PORT]... [--tracker URL]... [--dht-bootstrap HOST:PORT]... [--no-dht] [--no-pex] [--no-azmp] [--encrypt] [--max-peers N] [--duration D] [--json]")
		return errUsage
	}
	fs := flag.NewFlagSet("pex bt swarm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	ihHex := fs.String("infohash", "", "the swarm's infohash, 40 hex digits")
	magnet := fs.String("magnet", "", "a magnet `URI` naming the swarm (xt=urn:btih:...; its tr and x.pe are used too)")
	torrent := fs.String("torrent", "", "a .torrent `FILE` naming the swarm (its trackers are used too)")
	listen := fs.String("listen", "", "accept peers on `HOST:PORT` (port 0 picks one)")
	var peers, trackers listFlag
	fs.Var(&peers, "peer", "connect to the peer at `HOST:PORT` (repeatable)")
	fs.Var(&trackers, "tracker", "announce to the tracker at `URL` (http, https or udp; repeatable)")
	var dhtBoot listFlag
	fs.Var(&dhtBoot, "dht-bootstrap", "bootstrap the Mainline DHT from the node at `HOST:PORT` (repeatable; pex never uses the public routers)")
	noDHT := fs.Bool("no-dht", false, "do not use the DHT even when bootstrap nodes are given")
	dhtListen := fs.String("dht-listen", "", "UDP `HOST:PORT` for the DHT node (default: the --listen host, any port)")
	noPEX := fs.Bool("no-pex", false, "turn peer exchange (ut_pex and AZMP's) off for this swarm")
	noAZMP := fs.Bool("no-azmp", false, "do not offer Vuze's messaging protocol (AZMP); use ut_pex with every peer")
	encrypt := fs.Bool("encrypt", false, "open outgoing connections with Message Stream Encryption (falls back to plain); incoming MSE is always answered")
	maxPeers := fs.Int("max-peers", 0, fmt.Sprintf("connections at most (0: the library's default, %d)", swarm.DefaultMaxPeers))
	duration := fs.Duration("duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	asJSON := fs.Bool("json", false, "print one JSON object a line")
	metrics := fs.String("metrics", "", "serve profiles at /debug/pprof/ on `HOST:PORT`")
	if err := fs.Parse(args[1:]); err != nil {
		return usageErr(err)
	}
	c := checks{cmd: "pex bt swarm"}
	c.noArgs(fs.Args())
	c.nonNegative("max-peers", int64(*maxPeers))
	c.nonNegativeDuration("duration", *duration)
	c.hostPort("listen", *listen)
	c.hostPort("dht-listen", *dhtListen)
	for _, u := range trackers {
		c.trackerURL("tracker", u)
	}
	for _, p := range peers {
		c.hostPort("peer", p)
	}
	for _, b := range dhtBoot {
		c.hostPort("dht-bootstrap", b)
	}
	if err := c.report(stderr); err != nil {
		return err
	}
	target, err := swarmTarget(*ihHex, *magnet, *torrent)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err // a torrent file that cannot be read: a runtime error (exit 1)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pex bt swarm:", err)
		return errUsage
	}
	ih := target.InfoHash
	pr := &printer{w: stdout, json: *asJSON}
	// Which swarm, and whether peer exchange runs in it.
	fields := []any{"infohash", hex.EncodeToString(ih[:]), "private", target.Private, "pex", !*noPEX && !target.Private}
	if target.Name != "" {
		fields = append(fields, "name", target.Name)
	}
	pr.event("swarm", fields...)
	if target.Private {
		pr.text("private torrent (BEP 27): peer exchange and the DHT are off")
	}
	cfg := &swarm.Config{MaxPeers: *maxPeers, NoPEX: *noPEX, NoAZMP: *noAZMP, EncryptOutgoing: *encrypt, Private: target.Private}
	var ln net.Listener
	if *listen != "" {
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return err
		}
		defer ln.Close()
		cfg.ListenPort = ln.Addr().(*net.TCPAddr).Port
	}
	s, err := swarm.New(ih, cfg)
	if err != nil {
		return err
	}
	if *metrics != "" {
		stop, err := serveMetrics(ctx, *metrics, pr)
		if err != nil {
			s.Close()
			return err
		}
		defer stop()
	}
	if ln != nil {
		pr.event("listening", "addr", ln.Addr().String())
		go s.Serve(ln)
	}
	for _, p := range append(peers, target.Peers...) {
		ap, err := resolvePeer(p)
		if err != nil {
			pr.event("error", "error", err.Error())
			continue
		}
		s.AddPeer(ap, swarm.SourceManual)
	}
	for _, u := range append(trackers, target.Trackers...) {
		s.AddSource(&tracker.Source{
			URL:      u,
			Announce: tracker.Announce{InfoHash: ih, PeerID: s.PeerID(), Port: cfg.ListenPort, Left: 1},
			Report: func(res tracker.Response, err error) {
				if err != nil {
					pr.event("error", "error", err.Error(), "tracker", u)
					return
				}
				pr.event("announced", "tracker", u, "peers", len(res.Peers))
			},
		})
	}
	// BEP 27: a private torrent's peers come from its trackers only.
	if !*noDHT && !target.Private && len(dhtBoot) > 0 {
		addr := *dhtListen
		if addr == "" {
			host := "0.0.0.0"
			if ln != nil {
				host = ln.Addr().(*net.TCPAddr).IP.String()
			}
			addr = net.JoinHostPort(host, "0")
		}
		node, err := dht.Start(dht.Config{Listen: addr, Bootstrap: dhtBoot})
		if err != nil {
			s.Close()
			return err
		}
		// Closed after the swarm, which stops its lookups first.
		defer node.Close()
		pr.event("dht", "addr", node.Addr().String())
		s.AddSource(&dht.Source{
			Node: node, InfoHash: ih, Port: cfg.ListenPort,
			Report: func(n int, err error) {
				if err != nil {
					pr.event("error", "error", err.Error(), "dht", node.Addr().String())
				}
				pr.event("dht-lookup", "peers", n)
			},
		})
	}
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	table := newSwarmTable()
	done := make(chan struct{})
	go func() {
		defer close(done)
		printSwarmEvents(s, pr, table)
	}()
	tick := time.NewTicker(2 * time.Second)
	defer tick.Stop()
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-tick.C:
			if !pr.json {
				pr.text("%s", table.progress(len(s.Peers())))
			}
		}
	}
	s.Close()
	<-done
	if !pr.json {
		var sb strings.Builder
		table.write(&sb)
		pr.text("\n%s", strings.TrimRight(sb.String(), "\n"))
	}
	return nil
}

func printSwarmEvents(s *swarm.Swarm, pr *printer, table *swarmTable) {
	strs := func(as []netip.AddrPort) []string {
		out := make([]string, len(as))
		for i, a := range as {
			out[i] = a.String()
		}
		return out
	}
	for ev := range s.Events() {
		table.add(ev)
		switch ev.Type {
		case swarm.EventConnected:
			fields := []any{"peer", ev.Peer.String(), "client", ev.Client, "source", ev.Source, "net", netName(ev.Net)}
			if ev.Listen.IsValid() {
				fields = append(fields, "listen", ev.Listen.String())
			}
			pr.event("connected", fields...)
		case swarm.EventDisconnected:
			pr.event("disconnected", "peer", ev.Peer.String(), "reason", errString(ev.Err))
		case swarm.EventDiscovered:
			pr.event("discovered", "peer", ev.Peer.String(), "source", ev.Source, "from", ev.From.String(), "net", ev.Net)
		case swarm.EventPEXReceived:
			pr.event("pex-received", "from", ev.Peer.String(), "added", strs(ev.Added), "dropped", strs(ev.Dropped), "net", ev.Net)
		case swarm.EventPEXSent:
			pr.event("pex-sent", "to", ev.Peer.String(), "added", len(ev.Added), "dropped", len(ev.Dropped), "net", ev.Net)
		}
	}
}

// netName is a connection's PEX network for the connected event: "none"
// when the peer speaks neither.
func netName(n string) string {
	if n == "" {
		return "none"
	}
	return n
}

func resolvePeer(s string) (netip.AddrPort, error) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap, nil
	}
	ta, err := net.ResolveTCPAddr("tcp", s)
	if err != nil {
		return netip.AddrPort{}, err
	}
	return ta.AddrPort(), nil
}

// errString is err's text, or "" for nil.
func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// swarmTarget reads the swarm from exactly one of the three flags.
func swarmTarget(ihHex, magnet, torrent string) (metainfo.Swarm, error) {
	n := 0
	for _, s := range []string{ihHex, magnet, torrent} {
		if s != "" {
			n++
		}
	}
	switch {
	case n != 1:
		return metainfo.Swarm{}, errors.New("give exactly one of --infohash, --magnet, --torrent")
	case ihHex != "":
		ih, err := metainfo.ParseInfoHash(ihHex)
		return metainfo.Swarm{InfoHash: ih}, err
	case magnet != "":
		return metainfo.ParseMagnet(magnet)
	}
	b, err := os.ReadFile(torrent)
	if err != nil {
		return metainfo.Swarm{}, err
	}
	return metainfo.ParseTorrent(b)
}
