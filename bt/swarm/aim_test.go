package swarm

import (
	"fmt"
	"io"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/seed0021ed4d/pex/bt/pex"
	"github.com/seed0021ed4d/pex/bt/wire"
)

// victims listen on addrs, accept every connection and close it at once,
// counting connections per address and the bytes pex sends them.
type victims struct {
	mu    sync.Mutex
	dials map[netip.AddrPort]int
	bytes atomic.Int64
}

func newVictims(t *testing.T, l *lab, addrs []netip.AddrPort) *victims {
	v := &victims{dials: map[netip.AddrPort]int{}}
	for _, a := range addrs {
		ln, err := l.nw.Listen(a.String())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				v.mu.Lock()
				v.dials[a]++
				v.mu.Unlock()
				go func() {
					defer c.Close()
					c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
					n, _ := io.Copy(io.Discard, c)
					v.bytes.Add(n)
				}()
			}
		}()
	}
	return v
}

// attack opens a link from ip to the swarm and sends the handshakes and
// then msgs ut_pex messages naming added; it returns the bytes it sent.
func attack(t *testing.T, l *lab, ip string, to netip.AddrPort, ih [20]byte, msgs int, added []netip.AddrPort) int {
	c, err := l.dial(ip, to.String())
	if err != nil {
		return 0
	}
	defer c.Close()
	hs := wire.Handshake{InfoHash: ih}
	hs.Reserved[wire.ReservedByteLTEP] = wire.ReservedBitLTEP
	copy(hs.PeerID[:], "-XX0001-attack000000")
	b := hs.Append(nil)
	ext := wire.ExtHandshake{M: map[string]int{"ut_pex": 1}, Port: 6881}
	b = wire.AppendExtended(b, 0, ext.Bytes())
	var m pex.Msg
	for _, a := range added {
		m.Added = append(m.Added, pex.Peer{Addr: a})
	}
	payload, _ := pex.Append(nil, &m)
	for range msgs {
		b = wire.AppendExtended(b, 1, payload)
	}
	go io.Copy(io.Discard, c)
	n, _ := c.Write(b)
	time.Sleep(100 * time.Millisecond)
	return n
}

// PEX amplification on ten virtual minutes: attackers reconnect every
// second, each time sending six ut_pex messages (just under the flood
// rule) that name the same 50 victims. pex dials each victim at most once
// per backoff window (at 0, 2 and 6 minutes: the wait doubles after each
// dial that ends in no handshake), not the thousands it used to, and sends
// the victims far fewer bytes than the attackers sent it.
func TestPEXCannotBeAimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xaa}
		n := l.node("10.0.0.1", ih, Config{})
		var targets []netip.AddrPort
		for i := range 50 {
			targets = append(targets, netip.MustParseAddrPort(fmt.Sprintf("10.50.%d.%d:80", i/10, i%10+1)))
		}
		v := newVictims(t, l, targets)
		var sent int
		for sec := range 600 {
			sent += attack(t, l, fmt.Sprintf("10.66.0.%d", sec%4+1), n.addr(), ih, 6, targets)
			time.Sleep(900 * time.Millisecond)
		}
		synctest.Wait()
		v.mu.Lock()
		defer v.mu.Unlock()
		most, total := 0, 0
		for _, d := range v.dials {
			most = max(most, d)
			total += d
		}
		t.Logf("10 min: %d dials to %d victims (at most %d to one); pex sent them %d bytes, the attackers sent pex %d", total, len(v.dials), most, v.bytes.Load(), sent)
		if most > 5 {
			t.Fatalf("a victim was dialed %d times in ten minutes", most)
		}
		if v.bytes.Load() >= int64(sent) {
			t.Fatalf("pex sent victims %d bytes for the attackers' %d", v.bytes.Load(), sent)
		}
	})
}

// A message naming one IP on a thousand ports yields a few dials, then
// that IP is parked; a public peer cannot name loopback or private
// addresses; nobody can name the swarm's own address.
func TestPEXCannotScanOrReachIn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLab(t)
		ih := [20]byte{0xab}
		n := l.node("10.0.0.1", ih, Config{})
		var ports []netip.AddrPort
		for p := range 1000 {
			ports = append(ports, netip.AddrPortFrom(netip.MustParseAddr("10.77.0.1"), uint16(1000+p)))
		}
		v := newVictims(t, l, ports)
		for i := 0; i < len(ports); i += 50 {
			attack(t, l, "10.66.0.1", n.addr(), ih, 1, ports[i:i+50])
		}
		synctest.Wait()
		v.mu.Lock()
		scanned := len(v.dials)
		v.mu.Unlock()
		if scanned > DefaultMaxDialsPerIP {
			t.Fatalf("pex dialed %d ports of one IP, cap %d a window", scanned, DefaultMaxDialsPerIP)
		}
		// Scope and self: a sender on a global address names loopback,
		// private and link-local peers, and the swarm itself.
		named := []netip.AddrPort{
			netip.MustParseAddrPort("127.0.0.1:6881"), netip.MustParseAddrPort("10.0.0.9:6881"),
			netip.MustParseAddrPort("[fe80::1]:6881"), n.addr(),
			netip.MustParseAddrPort("[::ffff:10.0.0.1]:6881"),
		}
		var got []Event
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ev := range n.s.Events() {
				if ev.Type == EventDiscovered && ev.From.Addr() == netip.MustParseAddr("203.0.113.5") {
					got = append(got, ev)
				}
			}
		}()
		attack(t, l, "203.0.113.5", n.addr(), ih, 1, named)
		synctest.Wait()
		n.s.Close()
		<-done
		if len(got) != 0 {
			t.Fatalf("discovered %v from a public sender", got)
		}
	})
}
