// Package dht bootstraps a swarm from the Mainline DHT (BEP 5) with
// github.com/anacrolix/dht/v2: get_peers to find peers of an infohash and
// announce_peer to be found. pex never writes its own DHT.
//
// Bootstrap nodes are always the caller's: this package never falls back
// to the public bootstrap routers, so tests run on loopback only.
package dht

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"time"

	alog "github.com/anacrolix/log"

	"github.com/anacrolix/dht/v2"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

// Config for a DHT node.
type Config struct {
	// Listen is the UDP address to bind; required (e.g. "127.0.0.1:0").
	Listen string
	// Bootstrap lists "host:port" of nodes to start from. Empty means the
	// node starts alone (others may bootstrap from it).
	Bootstrap []string
}

// Node is a running DHT node.
type Node struct {
	srv *dht.Server
	pc  net.PacketConn
}

// Start binds and starts a node.
func Start(cfg Config) (*Node, error) {
	if cfg.Listen == "" {
		return nil, errors.New("dht: Listen address required")
	}
	pc, err := net.ListenPacket("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("dht: %w", err)
	}
	sc := dht.NewDefaultServerConfig()
	sc.Conn = pc
	sc.NoSecurity = true
	sc.PeerStore = &store{}
	sc.Logger = alog.NewLogger("dht").WithDefaultLevel(alog.Disabled)
	sc.Logger.SetHandlers(alog.StreamHandler{W: io.Discard, Fmt: alog.LineFormatter})
	boots := append([]string(nil), cfg.Bootstrap...)
	sc.StartingNodes = func() ([]dht.Addr, error) {
		var out []dht.Addr
		for _, b := range boots {
			ua, err := net.ResolveUDPAddr("udp", b)
			if err != nil {
				continue
			}
			out = append(out, dht.NewAddr(ua))
		}
		return out, nil
	}
	srv, err := dht.NewServer(sc)
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("dht: %w", err)
	}
	return &Node{srv: srv, pc: pc}, nil
}

// Addr is the node's UDP address.
func (n *Node) Addr() net.Addr { return n.srv.Addr() }

// Bootstrap fills the routing table from the bootstrap nodes.
func (n *Node) Bootstrap(ctx context.Context) error {
	_, err := n.srv.BootstrapContext(ctx)
	return err
}

// GetPeers runs a get_peers traversal for infohash and, when port > 0,
// announces that we are a peer on port to the closest nodes. Peers are
// sent on found until the traversal ends or ctx is done; found is not
// closed.
func (n *Node) GetPeers(ctx context.Context, infohash [20]byte, port int, found func(netip.AddrPort)) error {
	// Peers announced to this node itself count too: a traversal never
	// asks its own node.
	if ps := n.srv.PeerStore(); ps != nil {
		for _, p := range ps.GetPeers(peer_store.InfoHash(infohash)) {
			if ip, ok := netip.AddrFromSlice(p.IP); ok && p.Port > 0 && p.Port < 65536 {
				found(netip.AddrPortFrom(ip.Unmap(), uint16(p.Port)))
			}
		}
	}
	var opts []dht.AnnounceOpt
	if port > 0 {
		opts = append(opts, dht.AnnouncePeer(dht.AnnouncePeerOpts{Port: port}))
	}
	a, err := n.srv.AnnounceTraversal(infohash, opts...)
	if err != nil {
		return fmt.Errorf("dht: %w", err)
	}
	defer a.Close()
	for {
		select {
		case pv, ok := <-a.Peers:
			if !ok {
				return nil
			}
			for _, p := range pv.Peers {
				ip, ok := netip.AddrFromSlice(p.IP)
				if ok && p.Port > 0 && p.Port < 65536 {
					found(netip.AddrPortFrom(ip.Unmap(), uint16(p.Port)))
				}
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// closeWait bounds how long Close waits for queries in flight: the DHT
// library waits its resend delay (2 s) for an answer to a query already
// sent, even once the server is closed.
const closeWait = 3 * time.Second

// Close stops the node. It waits, at most closeWait, for the queries in
// flight to end, so that none of the node's goroutines outlives it.
func (n *Node) Close() error {
	n.srv.Close()
	err := n.pc.Close()
	for end := time.Now().Add(closeWait); n.srv.Stats().OutstandingTransactions > 0 && time.Now().Before(end); {
		time.Sleep(10 * time.Millisecond)
	}
	return err
}
