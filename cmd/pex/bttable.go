package main

import (
	"container/list"
	"fmt"
	"io"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/swarm"
)

// swarmTable keeps what the plain-text output of pex bt swarm shows: a
// progress line while it runs and, at the end, every peer it is connected
// to and the last maxIdleRows it was connected to or heard of, how each
// was learned and what PEX passed between them.
type swarmTable struct {
	mu   sync.Mutex
	rows map[netip.AddrPort]*peerRow
	// idle holds the rows of peers not connected now, in the order they
	// left (or were heard of): the first is forgotten when there are more
	// than maxIdleRows. A swarm that runs for months meets peers without
	// end, each incoming one at a new port.
	idle      list.List
	forgotten int // rows forgotten
	pexIn     int
	pexOut    int
	learned   int // peers discovered through PEX
	conns     int // rows connected now
	maxConns  int
}

type peerRow struct {
	addr      netip.AddrPort
	listen    netip.AddrPort // its listen address, once it told it (kept after it left)
	client    string
	source    string
	from      netip.AddrPort // who told us, for source pex
	net       string         // the PEX network spoken with it: ut_pex, azmp or none
	connected bool
	everConn  bool
	encrypted bool // the last link ran over MSE
	utp       bool // the last link ran over uTP
	punched   bool // the last link followed a hole punch (BEP 55)
	pexIn     int  // messages received from it
	pexOut    int  // messages sent to it
	told      int  // peers it told us about
	reason    string
	idle      *list.Element // in swarmTable.idle while not connected
}

// maxIdleRows bounds the rows of peers not connected: those that left
// and those only heard of.
const maxIdleRows = 256

func newSwarmTable() *swarmTable { return &swarmTable{rows: map[netip.AddrPort]*peerRow{}} }

// row is a's row, made if it has none.
func (t *swarmTable) row(a netip.AddrPort) *peerRow {
	r := t.rows[a]
	if r == nil {
		r = &peerRow{addr: a}
		t.rows[a] = r
	}
	return r
}

// settle files r after an event: a connected row out of the idle rows, a
// row not connected into them (at their end, as the latest to leave, if
// it was not there), and forgets the oldest idle rows past maxIdleRows.
func (t *swarmTable) settle(r *peerRow) {
	switch {
	case r.connected && r.idle != nil:
		t.idle.Remove(r.idle)
		r.idle = nil
	case !r.connected && r.idle == nil:
		r.idle = t.idle.PushBack(r)
	}
	for t.idle.Len() > maxIdleRows {
		old := t.idle.Remove(t.idle.Front()).(*peerRow)
		old.idle = nil
		delete(t.rows, old.addr)
		t.forgotten++
	}
}

// add records one swarm event; it reports whether the event was a
// connection.
func (t *swarmTable) add(ev swarm.Event) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	var r *peerRow // the row the event touched
	switch ev.Type {
	case swarm.EventConnected:
		r = t.row(ev.Peer)
		if !r.connected {
			t.conns++
		}
		r.connected, r.everConn, r.client, r.reason, r.encrypted = true, true, ev.Client, "", ev.Encrypted
		r.utp, r.punched = ev.UTP, ev.Holepunch
		if ev.Listen.IsValid() {
			r.listen = ev.Listen
		}
		if r.source == "" || ev.Source != swarm.SourceIncoming {
			r.source = ev.Source
		}
		if ev.Net != "" {
			r.net = ev.Net
		}
	case swarm.EventDisconnected:
		if ev.Handshaking {
			break // a stranger that never connected: printed, not a row
		}
		r = t.row(ev.Peer)
		if r.connected {
			t.conns--
		}
		r.connected, r.reason = false, errString(ev.Err)
	case swarm.EventDialFailed:
		// A peer the user named gets a row saying why it was not reached;
		// others have theirs from discovered, or are too many to list.
		r = t.rows[ev.Peer]
		if r == nil && ev.Source == swarm.SourceManual {
			r = t.row(ev.Peer)
			r.source = ev.Source
		}
		if r != nil && !r.connected {
			r.reason = errString(ev.Err)
		}
	case swarm.EventDiscovered:
		r = t.row(ev.Peer)
		if r.source == "" {
			r.source, r.from = ev.Source, ev.From
		}
		if ev.Source == swarm.SourcePEX {
			t.learned++
		}
	case swarm.EventPEXReceived:
		r = t.row(ev.Peer)
		r.pexIn++
		r.told += len(ev.Added)
		r.net = ev.Net
		t.pexIn++
	case swarm.EventPEXSent:
		r = t.row(ev.Peer)
		r.pexOut++
		r.net = ev.Net
		t.pexOut++
	}
	if r != nil {
		t.settle(r)
	}
	t.maxConns = max(t.maxConns, t.conns) // counted as rows change: an event costs O(1), not a walk of the table
	return ev.Type == swarm.EventConnected
}

// progress is the one-line summary printed while the swarm runs.
func (t *swarmTable) progress(connected int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return fmt.Sprintf("peers: %d connected, %d known, %d learned by pex; pex messages: %d received, %d sent",
		connected, len(t.rows)+t.forgotten, t.learned, t.pexIn, t.pexOut)
}

// sorted copies the rows, connected peers first, then by address.
func (t *swarmTable) sorted() []peerRow {
	t.mu.Lock()
	rows := make([]peerRow, 0, len(t.rows))
	for _, r := range t.rows {
		rows = append(rows, *r)
	}
	t.mu.Unlock()
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].connected != rows[j].connected {
			return rows[i].connected
		}
		return rows[i].addr.String() < rows[j].addr.String()
	})
	return rows
}

// state is a row's STATE: connected, gone (was connected) or known.
func (r *peerRow) state() string {
	switch {
	case r.connected:
		return "connected"
	case r.everConn:
		return "gone"
	}
	return "known"
}

// mse is a row's MSE column: whether its last link was encrypted, "-"
// when it never connected.
func (r *peerRow) mse() string {
	switch {
	case !r.everConn:
		return "-"
	case r.encrypted:
		return "yes"
	}
	return "no"
}

// tableLegend explains the end table's columns.
const tableLegend = "LEARNED: manual, incoming, tracker, dht or pex (FROM: who named it); " +
	"PEX: the network spoken with it (ut_pex, azmp, none); VIA: tcp or utp, +punch when " +
	"a hole punch (BEP 55) made the link; MSE: the link was encrypted; " +
	"IN/OUT: PEX messages received from it and sent to it; TOLD US: peers it named."

// write prints the end table, connected peers first.
func (t *swarmTable) write(w io.Writer) {
	rows := t.sorted()
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PEER\tLISTENS ON\tSTATE\tCLIENT\tLEARNED\tFROM\tPEX\tVIA\tMSE\tIN/OUT\tTOLD US")
	for _, r := range rows {
		from := "-"
		if r.from.IsValid() {
			from = r.from.String()
		}
		listen := "-"
		if r.listen.IsValid() {
			listen = r.listen.String()
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d/%d\t%d\n", r.addr, listen, r.state(), dash(r.client), dash(r.source), from, dash(r.net), r.via(), r.mse(), r.pexIn, r.pexOut, r.told)
	}
	tw.Flush()
	t.mu.Lock()
	forgotten := t.forgotten
	t.mu.Unlock()
	if forgotten > 0 {
		fmt.Fprintf(w, "(and %d peers that left or were heard of earlier: the table keeps the last %d)\n", forgotten, maxIdleRows)
	}
	io.WriteString(w, cli.Wrap(tableLegend, 78, ""))
	var gone []string
	for _, r := range rows {
		if !r.connected && r.reason != "" {
			gone = append(gone, fmt.Sprintf("  %s: %s", r.addr, r.reason))
		}
	}
	if len(gone) > 0 {
		fmt.Fprintf(w, "why peers left or were not reached:\n%s\n", strings.Join(gone, "\n"))
	}
}

// summaryFields are the JSON summary's fields: the table's counts and rows.
func (t *swarmTable) summaryFields(elapsed time.Duration, failed error) []any {
	rows := t.sorted()
	peers := make([]map[string]any, 0, len(rows))
	connected := 0
	for _, r := range rows {
		m := map[string]any{"peer": r.addr.String(), "state": r.state(), "source": r.source,
			"pex_in": r.pexIn, "pex_out": r.pexOut, "told": r.told}
		if r.connected {
			connected++
		}
		if r.listen.IsValid() {
			m["listen"] = r.listen.String()
		}
		if r.from.IsValid() {
			m["from"] = r.from.String()
		}
		if r.everConn {
			m["client"], m["net"], m["encrypted"], m["transport"], m["holepunch"] = r.client, r.net, r.encrypted, transportName(r.utp), r.punched
		}
		if r.reason != "" {
			m["reason"] = r.reason
		}
		peers = append(peers, m)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := []any{"elapsed_s", cli.Seconds(elapsed), "connected", connected, "known", len(rows) + t.forgotten, "forgotten", t.forgotten, "most_connected", t.maxConns,
		"learned_by_pex", t.learned, "pex_received", t.pexIn, "pex_sent", t.pexOut, "peer_rows", peers, "peers", peers}
	if failed != nil {
		f = append(f, "error", failed.Error())
	}
	return f
}

func transportName(utp bool) string {
	if utp {
		return "utp"
	}
	return "tcp"
}

// via names the last link's transport: tcp, utp or utp+punch; - when it
// never connected.
func (r *peerRow) via() string {
	switch {
	case !r.everConn:
		return "-"
	case r.punched:
		return "utp+punch"
	case r.utp:
		return "utp"
	}
	return "tcp"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
