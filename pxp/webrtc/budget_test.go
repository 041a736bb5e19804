package webrtc

import (
	"net"
	"testing"
	"time"
)

// Checks to a candidate that never answered stop once they add up to the
// bytes the peer signaled; a candidate that answers, and addresses that
// are not candidates (STUN and TURN servers), are not held.
func TestCheckBudget(t *testing.T) {
	listen := func() *net.UDPConn {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	own, victim, server := listen(), listen(), listen()
	b := newCheckBudget(nil)
	c := &budgetConn{UDPConn: own, sendRules: sendRules{b: b}}
	b.expect(victim.LocalAddr().(*net.UDPAddr).AddrPort())
	b.earn(350)
	packet := make([]byte, 100)
	received := func(pc *net.UDPConn) int {
		n := 0
		buf := make([]byte, 200)
		for {
			pc.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, _, err := pc.ReadFrom(buf); err != nil {
				return n
			}
			n++
		}
	}
	for range 10 {
		c.WriteTo(packet, victim.LocalAddr())
		c.WriteTo(packet, server.LocalAddr())
	}
	if got := received(victim); got != 3 {
		t.Fatalf("a silent candidate got %d checks of 100 bytes for 350 bytes of signals, want 3", got)
	}
	if got := received(server); got != 10 {
		t.Fatalf("a server got %d of 10 packets", got)
	}
	// Once it answers, it is a peer: no limit.
	victim.WriteTo([]byte("hi"), own.LocalAddr())
	buf := make([]byte, 10)
	own.SetReadDeadline(time.Now().Add(time.Second))
	if _, _, err := c.ReadFrom(buf); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		c.WriteTo(packet, victim.LocalAddr())
	}
	if got := received(victim); got != 10 {
		t.Fatalf("an answering candidate got %d of 10 packets", got)
	}
	if b.dropped != 7 {
		t.Fatalf("%d packets withheld, want 7", b.dropped)
	}
}
