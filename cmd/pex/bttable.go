package main

import (
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// swarmTable keeps what the plain-text output of pex bt swarm shows: a
// progress line while it runs and, at the end, every peer it connected to
// or heard of, how it was learned and what PEX passed between them.
type swarmTable struct {
	mu       sync.Mutex
	rows     map[netip.AddrPort]*peerRow
	pexIn    int
	pexOut   int
	learned  int // peers discovered through PEX
	maxConns int
}

type peerRow struct {
	addr      netip.AddrPort
	listen    netip.AddrPort // its listen address, when it differs from addr
	client    string
	source    string
	from      netip.AddrPort // who told us, for source pex
	net       string         // the PEX network spoken with it: ut_pex, azmp or none
	connected bool
	everConn  bool
	pexIn     int // messages received from it
	pexOut    int // messages sent to it
	told      int // peers it told us about
	reason    string
}

func newSwarmTable() *swarmTable { return &swarmTable{rows: map[netip.AddrPort]*peerRow{}} }

func (t *swarmTable) row(a netip.AddrPort) *peerRow {
	r := t.rows[a]
	if r == nil {
		r = &peerRow{addr: a}
		t.rows[a] = r
	}
	return r
}

// add records one swarm event.
func (t *swarmTable) add(ev swarm.Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch ev.Type {
	case swarm.EventConnected:
		r := t.row(ev.Peer)
		r.connected, r.everConn, r.client, r.reason = true, true, ev.Client, ""
		if ev.Listen.IsValid() && ev.Listen != ev.Peer {
			r.listen = ev.Listen
		}
		if r.source == "" || ev.Source != swarm.SourceIncoming {
			r.source = ev.Source
		}
		if ev.Net != "" {
			r.net = ev.Net
		}
	case swarm.EventDisconnected:
		r := t.row(ev.Peer)
		r.connected, r.reason = false, errString(ev.Err)
	case swarm.EventDiscovered:
		r := t.row(ev.Peer)
		if r.source == "" {
			r.source, r.from = ev.Source, ev.From
		}
		if ev.Source == swarm.SourcePEX {
			t.learned++
		}
	case swarm.EventPEXReceived:
		r := t.row(ev.Peer)
		r.pexIn++
		r.told += len(ev.Added)
		r.net = ev.Net
		t.pexIn++
	case swarm.EventPEXSent:
		r := t.row(ev.Peer)
		r.pexOut++
		r.net = ev.Net
		t.pexOut++
	}
	n := 0
	for _, r := range t.rows {
		if r.connected {
			n++
		}
	}
	t.maxConns = max(t.maxConns, n)
}

// progress is the one-line summary printed while the swarm runs.
func (t *swarmTable) progress(connected int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("peers: %d connected, %d known, %d learned by pex; pex messages: %d received, %d sent",
		connected, len(t.rows), t.learned, t.pexIn, t.pexOut)
}

// write prints the end table, connected peers first.
func (t *swarmTable) write(w io.Writer) {
	t.mu.Lock()
	rows := make([]*peerRow, 0, len(t.rows))
	for _, r := range t.rows {
		rows = append(rows, r)
	}
	t.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].connected != rows[j].connected {
			return rows[i].connected
		}
		return rows[i].addr.String() < rows[j].addr.String()
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tLISTENS ON\tSTATE\tCLIENT\tLEARNED\tFROM\tPEX\tIN/OUT\tTOLD US")
	for _, r := range rows {
		state := "known"
		switch {
		case r.connected:
			state = "connected"
		case r.everConn:
			state = "gone"
		}
		from := "-"
		if r.from.IsValid() {
			from = r.from.String()
		}
		listen := "-"
		if r.listen.IsValid() {
			listen = r.listen.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\n", r.addr, listen, state, dash(r.client), dash(r.source), from, dash(r.net), r.pexIn, r.pexOut, r.told)
	}
	tw.Flush()
	var gone []string
	for _, r := range rows {
		if !r.connected && r.reason != "" {
			gone = append(gone, fmt.Sprintf("  %s: %s", r.addr, r.reason))
		}
	}
	if len(gone) > 0 {
		fmt.Fprintf(w, "disconnect reasons:\n%s\n", strings.Join(gone, "\n"))
	}
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
