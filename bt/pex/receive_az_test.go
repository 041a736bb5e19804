package pex

import (
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/azmp"
)

var ih = [20]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}

func azExchange(t *testing.T, added ...string) []byte {
	m := azmp.PeerExchange{InfoHash: ih}
	for _, a := range added {
		m.Added = append(m.Added, azmp.Peer{Addr: netip.MustParseAddrPort(a)})
	}
	b, err := azmp.AppendPeerExchange(nil, &m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAZReceiverFilters(t *testing.T) {
	self := netip.MustParseAddrPort("127.0.0.1:7000")
	r := NewAZReceiver(&Rule{MaxTaken: 2})
	added, _, err := r.ReceiveAZ(time.Now(), azExchange(t, "127.0.0.1:7000", "0.0.0.0:1", "127.0.0.2:0", "224.0.0.1:5",
		"127.0.0.3:1", "127.0.0.3:1", "127.0.0.4:1", "127.0.0.5:1"), ih, self)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 2 || added[0].Addr.String() != "127.0.0.3:1" || added[1].Addr.String() != "127.0.0.4:1" {
		t.Fatalf("added %+v", added)
	}
	other := ih
	other[0]++
	m := azmp.PeerExchange{InfoHash: other, Added: []azmp.Peer{{Addr: netip.MustParseAddrPort("127.0.0.9:1")}}}
	b, _ := azmp.AppendPeerExchange(nil, &m)
	if _, _, err := r.ReceiveAZ(time.Now(), b, ih, self); !errors.Is(err, ErrWrongInfoHash) {
		t.Fatalf("wrong infohash: %v", err)
	}
	big := make([]byte, 70<<10)
	if _, _, err := NewAZReceiver(nil).ReceiveAZ(time.Now(), big, ih, self); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}

// BiglyBT's flood rule on virtual time: 7 messages in 120 s are fine, the
// 8th is a flood; spaced at BEP 11's minute, messages never are.
func TestAZReceiverFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		msg := azExchange(t, "127.0.0.3:1")
		r := NewAZReceiver(nil)
		for i := range 7 {
			if _, _, err := r.ReceiveAZ(time.Now(), msg, ih, netip.AddrPort{}); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
			time.Sleep(10 * time.Second)
		}
		if _, _, err := r.ReceiveAZ(time.Now(), msg, ih, netip.AddrPort{}); !errors.Is(err, ErrFlood) {
			t.Fatalf("8th message within 120 s: %v", err)
		}
		r = NewAZReceiver(nil)
		for i := range 30 {
			if _, _, err := r.ReceiveAZ(time.Now(), msg, ih, netip.AddrPort{}); err != nil {
				t.Fatalf("message %d a minute apart: %v", i+1, err)
			}
			time.Sleep(time.Minute)
		}
	})
}
