// Command btswarm is the README's BitTorrent example: it joins the swarm of
// one infohash through one peer and prints what peer exchange tells it.
package main

import (
	"context"
	"flag"
	"log"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"time"

	"github.com/seed0021ed4d/pex/bt/metainfo"
	"github.com/seed0021ed4d/pex/bt/swarm"
)

func main() {
	infohash := flag.String("infohash", "", "the swarm's infohash, 40 hex digits")
	peer := flag.String("peer", "127.0.0.1:6881", "a peer of the swarm")
	duration := flag.Duration("duration", time.Minute, "how long to watch")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *duration)
	defer cancel()
	if err := run(ctx, *infohash, *peer); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, infohash, peer string) error {
	ih, err := metainfo.ParseInfoHash(infohash)
	if err != nil {
		return err
	}
	addr, err := netip.ParseAddrPort(peer)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	// nil or zero fields: the defaults (BEP 11's limits, 50 peers, ...).
	s, err := swarm.New(ih, &swarm.Config{ListenPort: ln.Addr().(*net.TCPAddr).Port})
	if err != nil {
		ln.Close()
		return err
	}
	defer s.Close()
	go s.Serve(ln) // accepts peers until s.Close, which closes ln
	s.AddPeer(addr, swarm.SourceManual)
	// A tracker or the DHT would be one more source:
	// s.AddSource(&tracker.Source{URL: "udp://tracker.example:6969", Announce: ...})
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev := <-s.Events():
			switch ev.Type {
			case swarm.EventConnected:
				log.Println("connected", ev.Peer, ev.Client, "over", ev.Net)
			case swarm.EventPEXReceived:
				log.Println("pex from", ev.Peer, "added", ev.Added, "dropped", ev.Dropped)
			case swarm.EventDisconnected:
				log.Println("disconnected", ev.Peer, ev.Err)
			}
		}
	}
}
