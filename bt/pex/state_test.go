package pex

import (
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"
)

func peersN(n int) []Peer {
	var ps []Peer
	for i := 0; i < n; i++ {
		ps = append(ps, Peer{Addr: netip.MustParseAddrPort(fmt.Sprintf("127.0.%d.%d:6881", i/200, i%200+1))})
	}
	return ps
}

func TestSenderLimitsAndSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := NewSender(nil)
		var m Msg
		cur := peersN(120)
		receiver := cur[0].Addr
		if !s.Next(time.Now(), cur, receiver, &m) || len(m.Added) != 50 || len(m.Dropped) != 0 {
			t.Fatalf("first message: %d added", len(m.Added))
		}
		for _, p := range m.Added {
			if p.Addr == receiver {
				t.Fatal("told the receiver about itself")
			}
		}
		// Nothing before a minute has passed, whatever changes.
		time.Sleep(59 * time.Second)
		if s.Next(time.Now(), cur[:10], receiver, &m) {
			t.Fatal("a second message within 60 s")
		}
		time.Sleep(time.Second)
		if !s.Next(time.Now(), cur, receiver, &m) || len(m.Added) != 50 {
			t.Fatalf("second message: %d added", len(m.Added))
		}
		time.Sleep(time.Minute)
		if !s.Next(time.Now(), cur, receiver, &m) || len(m.Added) != 19 {
			t.Fatalf("third message: %d added (119 in all)", len(m.Added))
		}
		time.Sleep(time.Minute)
		if s.Next(time.Now(), cur, receiver, &m) {
			t.Fatal("a message with nothing new")
		}
		// 100 peers go: 50 dropped a minute.
		if !s.Next(time.Now(), cur[:20], receiver, &m) || len(m.Dropped) != 50 || len(m.Added) != 0 {
			t.Fatalf("drops: %d", len(m.Dropped))
		}
		if d := s.Due().Sub(time.Now()); d != time.Minute {
			t.Fatalf("due in %v", d)
		}
	})
}

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
