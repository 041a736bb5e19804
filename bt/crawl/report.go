package crawl

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"time"
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
	fmt.Fprintf(w, "digraph swarm {\n  label=%q;\n  node [fontsize=9];\n", "swarm "+hex.EncodeToString(r.InfoHash[:]))
	for _, p := range r.Peers {
		shape := "ellipse"
		if p.Source != SourcePEX {
			shape = "box"
		}
		style := "solid"
		if p.Reached {
			style = "filled"
		}
		label := p.Addr.String()
		if p.Client != "" {
			label += "\\n" + p.Client
		}
		fmt.Fprintf(w, "  %q [label=%q shape=%s style=%s];\n", p.Addr.String(), label, shape, style)
	}
	for _, e := range r.Edges {
		color := "blue"
		if e.Net == NetAZMP {
			color = "orange"
		}
		fmt.Fprintf(w, "  %q -> %q [color=%s];\n", e.From.String(), e.To.String(), color)
	}
	_, err := io.WriteString(w, "}\n")
	return err
}
