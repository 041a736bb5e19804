package main

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"testing"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// A swarm that runs for long meets peers without end (each incoming one
// at a new port): its table keeps the peers connected now and the last
// maxIdleRows that left or were only heard of, however many came and
// went, and counts the others it forgot. A peer that comes back is kept
// as the latest to leave when it goes again.
func TestSwarmTableForgetsPeersThatLeft(t *testing.T) {
	tb := newSwarmTable()
	peer := func(i int) netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(40000+i%20000))
	}
	stays := netip.MustParseAddrPort("192.0.2.1:6881")
	tb.add(swarm.Event{Type: swarm.EventConnected, Peer: stays, Source: swarm.SourceManual})
	const departed, heardOf = 5 * maxIdleRows, maxIdleRows
	back := peer(0) // leaves first, comes back last
	for i := range departed {
		tb.add(swarm.Event{Type: swarm.EventConnected, Peer: peer(i), Source: swarm.SourceIncoming})
		tb.add(swarm.Event{Type: swarm.EventPEXReceived, Peer: peer(i), Added: []netip.AddrPort{peer(departed + i)}, Net: "ut_pex"})
		if i < heardOf {
			tb.add(swarm.Event{Type: swarm.EventDiscovered, Peer: peer(departed + i), Source: swarm.SourcePEX, From: peer(i)})
		}
		tb.add(swarm.Event{Type: swarm.EventDisconnected, Peer: peer(i), Err: errors.New("closed")})
	}
	tb.add(swarm.Event{Type: swarm.EventConnected, Peer: back, Source: swarm.SourceIncoming})
	tb.add(swarm.Event{Type: swarm.EventDisconnected, Peer: back})

	if n := len(tb.rows); n != maxIdleRows+1 {
		t.Fatalf("%d rows after %d peers came and went, want the one connected and the last %d", n, departed+heardOf, maxIdleRows)
	}
	if tb.idle.Len() != maxIdleRows {
		t.Fatalf("%d idle rows for %d rows", tb.idle.Len(), len(tb.rows))
	}
	if r := tb.rows[stays]; r == nil || !r.connected {
		t.Fatal("the peer connected throughout was forgotten")
	}
	if r := tb.rows[back]; r == nil || r.state() != "gone" {
		t.Fatal("the peer that came back and left last was forgotten")
	}
	for i := departed - maxIdleRows + 1; i < departed; i++ {
		if r := tb.rows[peer(i)]; r == nil || r.pexIn != 1 || r.state() != "gone" {
			t.Fatalf("peer %d of the last to leave: row %+v", i, r)
		}
	}
	if tb.rows[peer(departed-maxIdleRows)] != nil {
		t.Fatal("a peer older than the last rows kept")
	}
	f := map[string]any{}
	fields := tb.summaryFields(0, nil)
	for i := 0; i < len(fields); i += 2 {
		f[fields[i].(string)] = fields[i+1]
	}
	known := 1 + departed + heardOf + 1 // rows made: the one that came back twice, forgotten between
	if f["known"] != known || f["forgotten"] != known-len(tb.rows) || f["connected"] != 1 || len(f["peer_rows"].([]map[string]any)) != len(tb.rows) {
		t.Fatalf("summary: known %v, forgotten %v, connected %v, %d rows; want %d known", f["known"], f["forgotten"], f["connected"], len(f["peer_rows"].([]map[string]any)), known)
	}
	var text strings.Builder
	tb.write(&text)
	if want := fmt.Sprintf("(and %d peers that left or were heard of earlier: the table keeps the last %d)", known-len(tb.rows), maxIdleRows); !strings.Contains(text.String(), want) {
		t.Fatalf("the text table does not say what it left out: %q", want)
	}
}
