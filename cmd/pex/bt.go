package main

import (
	"context"
	"crypto/sha1"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/bencode"
	"github.com/seed0021ed4d/pex/bt/dht"
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
	magnet := fs.String("magnet", "", "a magnet `URI` naming the swarm (xt=urn:btih:...)")
	torrent := fs.String("torrent", "", "a .torrent `FILE` naming the swarm")
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
	maxPeers := fs.Int("max-peers", 50, "connections at most")
	duration := fs.Duration("duration", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	asJSON := fs.Bool("json", false, "print one JSON object a line")
	if err := fs.Parse(args[1:]); err != nil {
		return errUsage
	}
	ih, private, err := swarmTarget(*ihHex, *magnet, *torrent)
	if err != nil {
		fmt.Fprintln(stderr, "pex bt swarm:", err)
		return errUsage
	}
	pr := &printer{w: stdout, json: *asJSON}
	cfg := swarm.Config{InfoHash: ih, MaxPeers: *maxPeers, NoPEX: *noPEX, NoAZMP: *noAZMP, EncryptOutgoing: *encrypt, Private: private}
	var ln net.Listener
	if *listen != "" {
		if ln, err = net.Listen("tcp", *listen); err != nil {
			return err
		}
		defer ln.Close()
		cfg.ListenPort = ln.Addr().(*net.TCPAddr).Port
	}
	s, err := swarm.New(cfg)
	if err != nil {
		return err
	}
	if ln != nil {
		pr.event("listening", "addr", ln.Addr().String())
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				s.Accept(c)
			}
		}()
	}
	for _, p := range peers {
		ap, err := resolvePeer(p)
		if err != nil {
			pr.event("error", "error", err.Error())
			continue
		}
		s.AddPeer(ap, swarm.SourceManual)
	}
	for _, u := range trackers {
		go announceLoop(ctx, s, pr, u, ih, cfg)
	}
	if !*noDHT && len(dhtBoot) > 0 {
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
		defer node.Close()
		pr.event("dht", "addr", node.Addr().String())
		dhtDone := make(chan struct{})
		defer func() { <-dhtDone }()
		go func() {
			defer close(dhtDone)
			dhtLoop(ctx, node, s, pr, ih, cfg.ListenPort)
		}()
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
	if ln != nil {
		ln.Close()
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

// announceLoop announces to one tracker at start and then at the interval
// it asks for (at least a minute), adding the peers it returns.
func announceLoop(ctx context.Context, s *swarm.Swarm, pr *printer, u string, ih [20]byte, cfg swarm.Config) {
	var c tracker.Client
	a := tracker.Announce{InfoHash: ih, PeerID: s.PeerID(), Port: cfg.ListenPort, Left: 1, Event: "started"}
	for {
		actx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := c.Announce(actx, u, a)
		cancel()
		wait := time.Minute
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			pr.event("error", "error", err.Error(), "tracker", u)
		} else {
			pr.event("announced", "tracker", u, "peers", len(res.Peers))
			for _, p := range res.Peers {
				s.AddPeer(p, swarm.SourceTracker)
			}
			if res.Interval > wait {
				wait = res.Interval
			}
		}
		a.Event = ""
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// dhtLoop bootstraps the DHT node and then looks the swarm up (announcing
// our listen port when we listen) soon and often at first, then every five
// minutes.
func dhtLoop(ctx context.Context, node *dht.Node, s *swarm.Swarm, pr *printer, ih [20]byte, port int) {
	bctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	node.Bootstrap(bctx)
	cancel()
	waits := []time.Duration{0, 2 * time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second}
	for i := 0; ; i++ {
		wait := 5 * time.Minute
		if i < len(waits) {
			wait = waits[i]
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		lctx, cancel := context.WithTimeout(ctx, time.Minute)
		n := 0
		err := node.GetPeers(lctx, ih, port, func(p netip.AddrPort) {
			n++
			s.AddPeer(p, swarm.SourceDHT)
		})
		cancel()
		if err != nil && ctx.Err() == nil {
			pr.event("error", "error", err.Error(), "dht", node.Addr().String())
		}
		if ctx.Err() == nil {
			pr.event("dht-lookup", "peers", n)
		}
	}
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
		switch ev.Name {
		case "connected":
			fields := []any{"peer", ev.Peer.String(), "client", ev.Client, "source", ev.Source, "net", netName(ev.Net)}
			if ev.Listen.IsValid() {
				fields = append(fields, "listen", ev.Listen.String())
			}
			pr.event("connected", fields...)
		case "disconnected":
			pr.event("disconnected", "peer", ev.Peer.String(), "reason", ev.Reason)
		case "discovered":
			pr.event("discovered", "peer", ev.Peer.String(), "source", ev.Source, "from", ev.From.String(), "net", ev.Net)
		case "pex-received":
			pr.event("pex-received", "from", ev.Peer.String(), "added", strs(ev.Added), "dropped", strs(ev.Dropped), "net", ev.Net)
		case "pex-sent":
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

// swarmTarget finds the infohash from exactly one of the three flags, and
// whether the torrent is private (BEP 27).
func swarmTarget(ihHex, magnet, torrent string) (ih [20]byte, private bool, err error) {
	n := 0
	for _, s := range []string{ihHex, magnet, torrent} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return ih, false, errors.New("give exactly one of --infohash, --magnet, --torrent")
	}
	switch {
	case ihHex != "":
		return parseInfohash(ihHex)
	case magnet != "":
		u, err := url.Parse(magnet)
		if err != nil || u.Scheme != "magnet" {
			return ih, false, fmt.Errorf("not a magnet URI: %q", magnet)
		}
		for _, xt := range u.Query()["xt"] {
			if h, ok := strings.CutPrefix(xt, "urn:btih:"); ok {
				return parseInfohash(h)
			}
		}
		return ih, false, errors.New("magnet URI has no xt=urn:btih:")
	}
	b, err := os.ReadFile(torrent)
	if err != nil {
		return ih, false, err
	}
	return torrentInfohash(b)
}

func parseInfohash(s string) (ih [20]byte, private bool, err error) {
	switch len(s) {
	case 40:
		b, err := hex.DecodeString(s)
		if err != nil {
			return ih, false, fmt.Errorf("infohash: %w", err)
		}
		copy(ih[:], b)
	case 32:
		b, err := base32.StdEncoding.DecodeString(strings.ToUpper(s))
		if err != nil {
			return ih, false, fmt.Errorf("infohash: %w", err)
		}
		copy(ih[:], b)
	default:
		return ih, false, fmt.Errorf("infohash must be 40 hex or 32 base32 characters, got %d", len(s))
	}
	return ih, false, nil
}

// torrentInfohash hashes the raw bytes of a torrent's info dict.
func torrentInfohash(b []byte) (ih [20]byte, private bool, err error) {
	if len(b) == 0 || b[0] != 'd' {
		return ih, false, errors.New("torrent: not a bencoded dict")
	}
	rest := b[1:]
	for len(rest) > 0 && rest[0] != 'e' {
		key, r, err := bencode.ReadString(rest)
		if err != nil {
			return ih, false, fmt.Errorf("torrent: %w", err)
		}
		after, err := bencode.Skip(r)
		if err != nil {
			return ih, false, fmt.Errorf("torrent: %w", err)
		}
		if string(key) == "info" {
			raw := r[:len(r)-len(after)]
			if v, err := bencode.Decode(raw); err == nil {
				if d, ok := v.(map[string]any); ok && d["private"] == int64(1) {
					private = true
				}
			}
			return sha1.Sum(raw), private, nil
		}
		rest = after
	}
	return ih, false, errors.New("torrent: no info dict")
}
