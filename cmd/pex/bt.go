package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/dht"
	"github.com/seed0021ed4d/pex/bt/metainfo"
	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/bt/tracker"
	"github.com/seed0021ed4d/pex/bt/utp"
	"github.com/seed0021ed4d/pex/metrics"
)

func runBT(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
		prog.WriteGroup(stdout, "bt")
		return flag.ErrHelp
	}
	if len(args) > 0 && args[0] == "crawl" {
		return runCrawl(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "swarm" {
		fmt.Fprintln(stderr, "pex bt: the commands are swarm and crawl")
		fmt.Fprintln(stderr, "Run \"pex bt swarm -h\" or \"pex bt crawl -h\" for their flags and examples.")
		return cli.ErrUsage
	}
	var o btOpts
	fs := o.flagSet()
	if err := btSwarmCmd.ParseFlags(fs, args[1:], stdout, stderr); err != nil {
		return err
	}
	if err := o.check(fs.Args(), stderr); err != nil {
		return err
	}
	target, err := swarmTarget(o.infohash, o.magnet, o.torrent)
	var pe *os.PathError
	if errors.As(err, &pe) {
		return err // a torrent file that cannot be read: a runtime error (exit 1)
	}
	if err != nil {
		fmt.Fprintln(stderr, "pex bt swarm:", err)
		return cli.ErrUsage
	}
	if o.noTrackers {
		target.Trackers, target.Peers = nil, nil
	}
	return o.run(ctx, target, cli.NewPrinter(stdout, o.json).Quiet(o.quiet), stderr)
}

// btGCPercent is pex bt swarm's GC percent unless GOGC is set: a swarm's
// heap is mostly long-lived connection state and it makes little garbage,
// so collecting at 25 % growth keeps its RSS near its live heap (8 KiB a
// peer, not 14, at 2,000 peers) for no CPU pex bench swarm can see.
const btGCPercent = 25

// run joins the swarm and reports it until ctx ends or --duration is over.
func (o *btOpts) run(ctx context.Context, target metainfo.Swarm, pr *cli.Printer, stderr io.Writer) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(btGCPercent)
	}
	ih := target.InfoHash
	// BEP 27: a private torrent's peers come from its trackers only.
	useDHT := !o.noDHT && !target.Private && len(o.dhtBoot) > 0
	// Every socket is bound first, so that one that cannot be (a port in
	// use) fails the start, naming its flag, before any is announced.
	socks, err := o.bindSockets(useDHT)
	if err != nil {
		return err
	}
	ln := socks.ln
	if ln != nil {
		defer ln.Close()
	}
	if socks.dht != nil {
		// Deferred before the swarm's Close, so run after it: the swarm
		// stops its lookups first.
		defer socks.dht.Close()
	}
	// uTP beside TCP on the listen port (btutp.go), bound with the rest.
	var us []*utp.Socket
	if ln != nil && !o.noUTP {
		if us, err = listenUTP(ln, o.bindHost(ln), o.listen != "" && !strings.HasSuffix(o.listen, ":0"), pr); err != nil {
			socks.closeHTTP()
			return err
		}
		for _, u := range us {
			defer u.Close()
		}
	}
	// Which swarm, and whether peer exchange runs in it.
	fields := []any{"infohash", hex.EncodeToString(ih[:]), "private", target.Private, "pex", !o.noPEX && !target.Private}
	if target.Name != "" {
		fields = append(fields, "name", target.Name)
	}
	pr.Event("swarm", fields...)
	if target.Private {
		pr.Text("private torrent (BEP 27): PEX off, DHT off; peers come from its trackers only")
	}
	cfg := &swarm.Config{MaxPeers: o.maxPeers, NoPEX: o.noPEX, NoAZMP: o.noAZMP, EncryptOutgoing: o.encrypt, Private: target.Private,
		Logger: cli.Logger(o.logLevel, stderr), Holepunch: swarm.HolepunchConfig{Disable: o.noHolepunch, NoIntroductions: o.noIntroductions}}
	if ln != nil {
		cfg.ListenPort = ln.Addr().(*net.TCPAddr).Port
	}
	// Outgoing connections leave from the address the user bound to.
	if bind := o.bindHost(ln); bind != nil {
		cfg.Dialer = boundDialer(bind)
	}
	state, err := openState(o.state, "bt-peers.json", "bt:"+hex.EncodeToString(ih[:]), pr)
	if err != nil {
		socks.closeHTTP()
		return err
	}
	defer state.close() // deferred before the swarm's Close, runs after it
	s, err := swarm.New(ih, cfg)
	if err != nil {
		socks.closeHTTP()
		return err
	}
	defer s.Close()
	if socks.metrics != nil {
		defer cli.Serve(socks.metrics, "metrics", pr, metrics.Handler(metrics.NewSwarms(s)))()
	}
	if ln != nil {
		pr.Event("listening", "addr", ln.Addr().String(), "bound", socks.bound, "utp", len(us) > 0)
		go s.Serve(ln)
		for _, u := range us {
			s.UseUTP(u)
		}
	}
	peers := append(slices.Clone(o.peers), target.Peers...)
	for _, p := range peers {
		ap, err := resolvePeer(p)
		if err != nil {
			pr.Event("error", "error", err.Error(), "peer", p)
			continue
		}
		s.AddPeer(ap, swarm.SourceManual)
	}
	remembered := state.peers()
	for _, p := range remembered {
		if ap, err := netip.ParseAddrPort(p.Addr); err == nil {
			s.AddPeer(ap, swarm.SourceState)
		}
	}
	trackers := append(slices.Clone(o.trackers), target.Trackers...)
	for _, u := range trackers {
		s.AddSource(&tracker.Source{
			URL:      u,
			Announce: tracker.Announce{InfoHash: ih, PeerID: s.PeerID(), Port: announcePort(cfg.ListenPort), Left: 1},
			Report: func(res tracker.Response, err error) {
				if err != nil {
					pr.Limited("tracker "+u, "error", "error", err.Error(), "tracker", u)
					return
				}
				pr.Event("announced", "tracker", u, "peers", len(res.Peers))
			},
		})
	}
	if node := socks.dht; node != nil {
		pr.Event("dht", "addr", node.Addr().String(), "bound", socks.dhtWhy)
		s.AddSource(&dht.Source{
			Node: node, InfoHash: ih, Port: cfg.ListenPort,
			Report: func(n int, err error) {
				if err != nil {
					pr.Limited("dht", "error", "error", err.Error(), "dht", node.Addr().String())
				}
				pr.Event("dht-lookup", "peers", n)
			},
		})
	}
	r := &btRun{s: s, pr: pr, table: newSwarmTable(), start: time.Now(), duration: o.duration,
		bootstrap: len(peers) > 0 || len(trackers) > 0 || useDHT || len(remembered) > 0, bootstrapTimeout: o.bootstrapTimeout,
		state: state,
		// The router is asked to map a port only that the user named
		// with --listen: the default listener sends nothing to a router
		// on its own (no UPnP or NAT-PMP traffic the user did not ask for).
		nat: newBTNAT(s, pr, ln, o.noPortmap || o.listen == "", len(us) > 0, cfg.Logger)}
	if socks.http != nil {
		r.graph = new(swarmGraph)
		live := startLive(pr, r.btSnapshot)
		defer live.Close()
		defer cli.Serve(socks.http, "http", pr, withLive(live, http.RedirectHandler("/live", http.StatusFound)))()
	}
	nctx, stopNAT := context.WithCancel(ctx)
	natDone := make(chan struct{})
	go func() {
		defer close(natDone)
		r.nat.run(nctx, cfg.ListenPort)
	}()
	defer func() { stopNAT(); <-natDone }() // the mapping is removed before we return
	return r.watch(ctx)
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
	s, err := metainfo.ParseTorrent(b)
	if err != nil { // a runtime error naming the file, as one that cannot be read is
		return s, &os.PathError{Op: "parse torrent", Path: torrent, Err: err}
	}
	return s, nil
}
