package dht

import (
	"context"

	"go.uber.org/goleak"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/anacrolix/dht/v2/krpc"
	peer_store "github.com/anacrolix/dht/v2/peer-store"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Three DHT nodes on loopback: one announces an infohash, another finds it.
func TestAnnounceAndFind(t *testing.T) {
	root, err := Start(Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	boot := []string{root.Addr().String()}
	a, _ := Start(Config{Listen: "127.0.0.1:0", Bootstrap: boot})
	defer a.Close()
	b, _ := Start(Config{Listen: "127.0.0.1:0", Bootstrap: boot})
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range []*Node{a, b} {
		n.Bootstrap(ctx)
	}
	ih := [20]byte{0xab, 0xcd}
	var mu sync.Mutex
	var got []netip.AddrPort
	// UDP on a loaded machine may lose a query, and stores are written
	// asynchronously: announce and look up again, a bounded number of times.
	for i := 0; i < 10 && len(got) == 0 && ctx.Err() == nil; i++ {
		if err := a.GetPeers(ctx, ih, 6881, func(netip.AddrPort) {}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
		b.GetPeers(ctx, ih, 0, func(p netip.AddrPort) { mu.Lock(); got = append(got, p); mu.Unlock() })
	}
	want := netip.MustParseAddrPort("127.0.0.1:6881")
	for _, p := range got {
		if p == want {
			return
		}
	}
	t.Fatalf("found %v, want %v; stats a %+v b %+v root %+v", got, want, a.srv.Stats(), b.srv.Stats(), root.srv.Stats())
}

func TestListenRequired(t *testing.T) {
	if _, err := Start(Config{}); err == nil {
		t.Fatal("started without an address")
	}
}

func TestStoreBounds(t *testing.T) {
	var s store
	ih := peer_store.InfoHash{1}
	for i := 0; i < 2*maxPeersPerHash; i++ {
		s.AddPeer(ih, krpc.NodeAddr{IP: net.IPv4(127, 0, byte(i>>8), byte(i)), Port: 6881})
	}
	s.AddPeer(ih, krpc.NodeAddr{IP: net.IPv4(127, 0, 0, 1), Port: 0})
	if n := len(s.GetPeers(ih)); n != maxPeersPerHash {
		t.Fatalf("kept %d peers", n)
	}
	got := s.GetPeers(ih)[0]
	if len(got.IP.To4()) != 4 || got.Port != 6881 {
		t.Fatalf("stored %v", got)
	}
}
