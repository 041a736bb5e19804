package swarm

import (
	"net/netip"
	"testing"

	"github.com/seed0021ed4d/pex/bt/pex"
)

func logAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 6881)
}

// A new reader is told the current set MaxAdded at a time, then what
// changed: drops only of what it was told, never its own address, and
// nothing of an address that came and went before it read that far.
func TestPEXLogTellsSetThenChanges(t *testing.T) {
	var l pexLog
	l.init()
	none := func() uint64 { return 0 }
	for i := range 120 {
		l.add(logAddr(i), 0)
	}
	me := logAddr(7)
	var m pex.Msg
	var cur logCursor
	var got []int
	for range 3 {
		l.read(&cur, me, 50, 50, &m)
		got = append(got, len(m.Added))
		if len(m.Dropped) != 0 {
			t.Fatalf("a new reader was told drops %v", m.Dropped)
		}
		for _, p := range m.Added {
			if p.Addr == me {
				t.Fatal("the reader was told its own address")
			}
		}
	}
	if got[0] != 50 || got[1] != 50 || got[2] != 19 || l.pending(&cur) {
		t.Fatalf("messages of %v added, pending %v; want 50, 50, 19", got, l.pending(&cur))
	}
	// Told addresses leave; one comes and goes unseen.
	for i := range 10 {
		l.drop(logAddr(i), none)
	}
	l.add(logAddr(500), 0)
	l.drop(logAddr(500), none)
	l.read(&cur, me, 50, 50, &m)
	if len(m.Added) != 0 || len(m.Dropped) != 9 { // 7 is the reader's own
		t.Fatalf("after 10 drops: added %v dropped %v", m.Added, m.Dropped)
	}
	for _, a := range m.Dropped {
		if a == logAddr(500) || a == me {
			t.Fatalf("told a drop of %v", a)
		}
	}
	// A reader that starts now hears the 110 still there, and no drops.
	var fresh logCursor
	total := 0
	for l.pending(&fresh) {
		l.read(&fresh, netip.AddrPort{}, 50, 50, &m)
		total += len(m.Added)
		if len(m.Dropped) > 0 {
			t.Fatalf("a new reader was told drops %v", m.Dropped)
		}
	}
	if total != 110 {
		t.Fatalf("a new reader was told %d peers, want 110", total)
	}
}

// Work per message is the entries read, however large the set; under
// churn the log stays within a small multiple of the set, and its sweeps
// cost a constant amount per change.
func TestPEXLogWorkIsPerChange(t *testing.T) {
	var l pexLog
	l.init()
	const set = 2000
	for i := range set {
		l.add(logAddr(i), 0)
	}
	// 100 readers, caught up.
	cursors := make([]logCursor, 100)
	var m pex.Msg
	for r := range cursors {
		for l.pending(&cursors[r]) {
			l.read(&cursors[r], netip.AddrPort{}, 50, 50, &m)
		}
	}
	minCursor := func() uint64 {
		v := l.next
		for _, c := range cursors {
			v = min(v, c.next)
		}
		return v
	}
	// Churn: 20,000 changes, each reader reading after every tenth.
	before := l.visits
	next := set
	for round := range 10000 {
		l.drop(logAddr(round), minCursor)
		l.add(logAddr(next), 0)
		next++
		if round%10 == 9 {
			for r := range cursors {
				l.read(&cursors[r], netip.AddrPort{}, 50, 50, &m)
				if len(m.Added) != 10 || len(m.Dropped) != 10 {
					t.Fatalf("round %d: reader %d got %d added, %d dropped; want 10 and 10", round, r, len(m.Added), len(m.Dropped))
				}
			}
		}
		if len(l.entries) > 3*set+200 {
			t.Fatalf("round %d: the log holds %d entries for a set of %d", round, len(l.entries), set)
		}
	}
	perChangePerReader := float64(l.visits-before) / 20000 / 100
	t.Logf("entries visited per change per reader: %.2f (set of %d)", perChangePerReader, set)
	if perChangePerReader > 3 {
		t.Fatalf("%.2f entries visited per change per reader: the work grows with the set", perChangePerReader)
	}
}
