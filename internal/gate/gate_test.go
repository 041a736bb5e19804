package gate

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/seed0021ed4d/pex/lab/memnet"
)

func ip(s string) netip.Addr { return netip.MustParseAddr(s) }

// An attacker's stalled handshakes from one IP are held to the per-IP cap,
// oldest out first; a newcomer from elsewhere, or a later one from the same
// IP, always gets in.
func TestPerIPCapEvictsOldestOfThatIP(t *testing.T) {
	g := New(100, 4)
	evicted := map[int]bool{}
	var tickets []*Ticket
	for i := range 10 {
		tickets = append(tickets, g.Enter(ip("127.0.0.1"), func() { evicted[i] = true }))
	}
	if g.Len() != 4 || len(evicted) != 6 {
		t.Fatalf("%d held, %d evicted; want 4 and 6", g.Len(), len(evicted))
	}
	for i := range 6 {
		if !evicted[i] {
			t.Fatalf("handshake %d (of the oldest) not evicted: %v", i, evicted)
		}
	}
	other := g.Enter(ip("192.0.2.1"), func() { t.Fatal("the newcomer was evicted") })
	if g.Len() != 5 {
		t.Fatalf("%d held", g.Len())
	}
	other.Leave()
	other.Leave()      // twice is fine
	tickets[0].Leave() // evicted already: nothing
	if g.Len() != 4 {
		t.Fatalf("%d held after leaving", g.Len())
	}
}

// When the budget is full, the crowded IP pays.
func TestBudgetEvictsFromTheCrowdedIP(t *testing.T) {
	g := New(10, 10)
	var lost []string
	for i := range 8 {
		g.Enter(ip("10.0.0.1"), func() { lost = append(lost, fmt.Sprint("a", i)) })
	}
	g.Enter(ip("10.0.0.2"), func() { lost = append(lost, "b0") })
	g.Enter(ip("10.0.0.2"), func() { lost = append(lost, "b1") })
	g.Enter(ip("10.0.0.3"), func() { lost = append(lost, "c0") })
	g.Enter(ip("10.0.0.4"), func() { lost = append(lost, "d0") })
	if g.Len() != 10 || len(lost) != 2 || lost[0] != "a0" || lost[1] != "a1" {
		t.Fatalf("%d held, lost %v; want 10 and [a0 a1]", g.Len(), lost)
	}
}

func TestIPOfConn(t *testing.T) {
	a, b := memnet.Pipe("[::ffff:10.1.2.3]:5", "listener")
	defer a.Close()
	if got := IP(b); got != ip("10.1.2.3") { // b's remote end is a
		t.Fatalf("IP of %v: %v", b.RemoteAddr(), got)
	}
	c, d := memnet.Pipe("no-ip", "listener")
	defer c.Close()
	if got := IP(d); got.IsValid() {
		t.Fatalf("IP of %v: %v", d.RemoteAddr(), got)
	}
}
