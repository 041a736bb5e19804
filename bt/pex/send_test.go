package pex

import (
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
		if d := time.Until(s.Due()); d != time.Minute {
			t.Fatalf("due in %v", d)
		}
	})
}
