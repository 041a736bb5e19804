package crawl

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"
	"unicode"
)

// Peer is what the crawl knows of one peer.
type Peer struct {
	Addr    netip.AddrPort `json:"addr"`
	Source  string         `json:"source"`          // how it was first learned
	From    netip.AddrPort `json:"from,omitzero"`   // the peer that first named it (PEX)
	Net     string         `json:"net,omitempty"`   // the network it was first named over
	Learned time.Duration  `json:"learned_ns"`      // since the crawl started
	Visited time.Duration  `json:"visited_ns"`      // when its last visit ended; 0 if not yet
	Visits  int            `json:"visits"`          // visits so far (more than one with Config.Revisit)
	Reached bool           `json:"reached"`         // it answered the BitTorrent handshake
	Err     string         `json:"error,omitempty"` // why its visit ended early

	Client    string     `json:"client,omitempty"`
	PeerID    string     `json:"peer_id,omitempty"` // the first 8 bytes of its peer id
	Listen    int        `json:"listen,omitempty"`  // the listen port it told
	YourIP    netip.Addr `json:"yourip,omitzero"`   // the address it sees the crawler at
	PEXNet    string     `json:"pex_net,omitempty"` // ut_pex or azmp: the PEX it offered
	Encrypted bool       `json:"encrypted,omitempty"`
	PEX       bool       `json:"pex"`   // a PEX message came, on some visit
	Named     int        `json:"named"` // the most peers one of its messages added
}

// Edge says From named To in a PEX message over Net.
type Edge struct {
	From netip.AddrPort `json:"from"`
	To   netip.AddrPort `json:"to"`
	Net  string         `json:"net"`
}

// Point is one point of the coverage curve.
type Point struct {
	Seconds float64 `json:"s"`
	Known   int     `json:"known"`   // peers learned
	Visited int     `json:"visited"` // visits ended
	Reached int     `json:"reached"` // peers that answered
}

// Report is what a crawl saw.
type Report struct {
	InfoHash      [20]byte `json:"-"`
	Elapsed       float64  `json:"elapsed_s"`
	Known         int      `json:"known"`
	Visited       int      `json:"visited"`
	Reached       int      `json:"reached"`
	Overflow      int      `json:"overflow"` // peers named past Config.MaxPeers
	EventsDropped int      `json:"events_dropped"`
	Peers         []Peer   `json:"peers"`
	Edges         []Edge   `json:"edges"`
	Coverage      []Point  `json:"coverage"`
}

// MarshalJSON adds the infohash in hex.
func (r *Report) MarshalJSON() ([]byte, error) {
	type plain Report
	return json.Marshal(struct {
		InfoHash string `json:"infohash"`
		*plain
	}{hex.EncodeToString(r.InfoHash[:]), (*plain)(r)})
}

// WriteDOT writes the who-named-whom graph for GraphViz: a node per peer
// (filled when reached, its label the client), an edge per naming,
// coloured by network (ut_pex blue, azmp orange); peers learned from a
// tracker or the DHT are boxes.
func (r *Report) WriteDOT(w io.Writer) error {
	fmt.Fprintf(w, "digraph swarm {\n  label=%s;\n  node [fontsize=9];\n", dotQuote("swarm "+hex.EncodeToString(r.InfoHash[:])))
	for _, p := range r.Peers {
		shape := "ellipse"
		if p.Source != SourcePEX {
			shape = "box"
		}
		style := "solid"
		if p.Reached {
			style = "filled"
		}
		label := dotEscape(p.Addr.String())
		if p.Client != "" {
			label += `\n` + dotEscape(p.Client) // DOT's line break in a label
		}
		fmt.Fprintf(w, "  %s [label=\"%s\" shape=%s style=%s];\n", dotQuote(p.Addr.String()), label, shape, style)
	}
	for _, e := range r.Edges {
		color := "blue"
		if e.Net == NetAZMP {
			color = "orange"
		}
		fmt.Fprintf(w, "  %s -> %s [color=%s];\n", dotQuote(e.From.String()), dotQuote(e.To.String()), color)
	}
	_, err := io.WriteString(w, "}\n")
	return err
}

// dotQuote is s as a DOT double-quoted string (dotEscape's).
func dotQuote(s string) string { return `"` + dotEscape(s) + `"` }

// dotEscape makes s, which a peer may have chosen (its client name), safe
// inside a DOT double-quoted string shown as it is: a quote becomes \",
// a backslash \\ (else it would start one of the label escapes \n, \N,
// \G...), control characters a space, and invalid UTF-8 U+FFFD. Go's %q
// is no substitute: DOT knows neither its \\ before n nor its \x and \u.
func dotEscape(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case unicode.IsControl(r):
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
