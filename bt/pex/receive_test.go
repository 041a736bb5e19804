package pex

import (
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func TestReceiverFlood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := NewReceiver(nil)
		payload, _ := Append(nil, &Msg{Added: peersN(3)})
		self := netip.MustParseAddrPort("127.0.0.9:6881")
		for i := 0; i < 6; i++ {
			if _, _, err := r.Receive(time.Now(), payload, self); err != nil {
				t.Fatalf("message %d: %v", i+1, err)
			}
			time.Sleep(9 * time.Second)
		}
		// The 7th arrives 54 s after the 1st: a flood, as for libtorrent.
		if _, _, err := r.Receive(time.Now(), payload, self); !errors.Is(err, ErrFlood) {
			t.Fatalf("7th within 60 s: %v", err)
		}
		// One message a minute is always fine.
		r = NewReceiver(nil)
		for i := 0; i < 20; i++ {
			if _, _, err := r.Receive(time.Now(), payload, self); err != nil {
				t.Fatalf("message %d at one a minute: %v", i, err)
			}
			time.Sleep(time.Minute)
		}
		// Ten a minute, evenly: the 7th is within a minute of the 1st.
		r = NewReceiver(nil)
		var err error
		n := 0
		for ; n < 10 && err == nil; n++ {
			_, _, err = r.Receive(time.Now(), payload, self)
			time.Sleep(6 * time.Second)
		}
		if !errors.Is(err, ErrFlood) || n != 7 {
			t.Fatalf("ten a minute: flood at message %d (%v)", n, err)
		}
	})
}

func TestReceiverFilters(t *testing.T) {
	r := NewReceiver(nil)
	self := netip.MustParseAddrPort("127.0.0.9:6881")
	ps := []Peer{
		{Addr: self},
		{Addr: netip.MustParseAddrPort("127.0.0.2:0")},
		{Addr: netip.MustParseAddrPort("0.0.0.0:6881")},
		{Addr: netip.MustParseAddrPort("224.0.0.1:6881")},
		{Addr: netip.MustParseAddrPort("255.255.255.255:6881")},
		{Addr: netip.MustParseAddrPort("127.0.0.3:6881")},
		{Addr: netip.MustParseAddrPort("127.0.0.3:6881")},
	}
	ps = append(ps, peersN(80)...)
	payload, _ := Append(nil, &Msg{Added: ps})
	added, _, err := r.Receive(time.Now(), payload, self)
	if err != nil {
		t.Fatal(err)
	}
	if len(added) != 50 || added[0].Addr != netip.MustParseAddrPort("127.0.0.3:6881") {
		t.Fatalf("kept %d, first %v", len(added), added[0].Addr)
	}
	big := make([]byte, 70<<10)
	if _, _, err := r.Receive(time.Now(), big, self); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
}
