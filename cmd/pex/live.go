// The live view (--http) of pex node and pex bt swarm: what each tells
// the page (web.Live), a snapshot a second and every event as a log line.

package main

import (
	"net/http"
	"sync"
	"time"

	"github.com/seed0021ed4d/pex/cmd/internal/cli"

	"github.com/seed0021ed4d/pex/bt/swarm"
	"github.com/seed0021ed4d/pex/pxp"
	"github.com/seed0021ed4d/pex/web"
)

// liveSnapshot is the object web.Live's page draws.
type liveSnapshot struct {
	Kind   string           `json:"kind"`
	Title  string           `json:"title"`
	Self   liveNode         `json:"self"`
	Peers  []livePeer       `json:"peers"`
	Others []liveNode       `json:"others"`
	Edges  []liveEdge       `json:"edges"`
	Stats  map[string]int64 `json:"stats"`
}

type liveNode struct {
	ID     string `json:"id"`
	Source string `json:"source,omitempty"`
}

type livePeer struct {
	ID        string  `json:"id"`
	Label     string  `json:"label,omitempty"`
	Transport string  `json:"transport,omitempty"`
	Remote    string  `json:"remote,omitempty"`
	Net       string  `json:"net,omitempty"`
	Source    string  `json:"source,omitempty"`
	Client    string  `json:"client,omitempty"`
	Outgoing  bool    `json:"outgoing"`
	Via       string  `json:"via,omitempty"`
	AgeS      float64 `json:"age_s"`
	BytesIn   uint64  `json:"bytes_in"`
	BytesOut  uint64  `json:"bytes_out"`
}

type liveEdge struct {
	From string `json:"from"`
	To   string `json:"to"`
	Net  string `json:"net"`
}

// startLive makes the live view of a command: its page draws snapshot,
// and every event pr prints goes to its log.
func startLive(pr *cli.Printer, snapshot func() any) *web.Live {
	l := web.NewLive(snapshot)
	pr.SetTap(func(name string, fields []any) {
		m := map[string]any{"time": time.Now().UTC().Format(cli.TimeFormat), "event": name}
		for i := 0; i+1 < len(fields); i += 2 {
			if k, ok := fields[i].(string); ok {
				m[k] = fields[i+1]
			}
		}
		l.Log(m)
	})
	return l
}

// withLive serves the live view at /live beside h.
func withLive(l *web.Live, h http.Handler) http.Handler {
	lh := l.Handler()
	mux := http.NewServeMux()
	mux.Handle("/live", lh)
	mux.Handle("/live/", lh)
	mux.Handle("/live.js", lh)
	mux.Handle("/vendor/", lh)
	mux.Handle("/", h)
	return mux
}

// pxpSnapshot is a node's state for the live view.
func (n *node) pxpSnapshot() any {
	st := n.ex.Stats()
	now := time.Now()
	s := liveSnapshot{Kind: "pxp", Title: "pex node · " + n.opts.network, Self: liveNode{ID: n.ex.ID()}, Peers: []livePeer{}, Others: []liveNode{}, Edges: []liveEdge{},
		Stats: map[string]int64{"peers": int64(st.Peers), "relays": int64(st.Relays), "getpeers_served": int64(st.GetPeersServed),
			"getpeers served": int64(st.GetPeersServed), // the old key, for one release (docs/pex.md, "Output")

			"introductions": int64(sumCounts(st.Introductions) - st.Introductions["failed"]), "failed": int64(st.Introductions["failed"])}}
	for _, p := range n.ex.Peers() {
		ps := p.Stats()
		lp := livePeer{ID: p.ID(), Transport: p.Transport(), Remote: p.RemoteAddr().String(), Outgoing: p.Outgoing(),
			AgeS: cli.Seconds(now.Sub(ps.Since)), BytesIn: ps.BytesReceived, BytesOut: ps.BytesSent, Source: p.Transport()}
		if lp.ID == "" { // a JS peer names itself in no hello
			lp.ID = lp.Remote
		}
		if v := p.Via(); v != nil && v.ID() != "" {
			lp.Via = v.ID()
		}
		if ct := candidateTypeOf(p); ct != "" {
			lp.Transport += "/" + ct
		}
		s.Peers = append(s.Peers, lp)
	}
	return s
}

func sumCounts(m map[string]uint64) (n uint64) {
	for _, v := range m {
		n += v
	}
	return n
}

// candidateTypeOf is how a WebRTC link's ICE pair connects, "" for others.
func candidateTypeOf(p *pxp.Peer) string {
	if ct, ok := p.NetConn().(interface{ CandidateType() string }); ok {
		return ct.CandidateType()
	}
	return ""
}

// maxLiveEdges bounds the who-named-whom edges a swarm's view keeps.
const maxLiveEdges = 5000

// swarmGraph is who named whom in a swarm, from its PEX messages.
type swarmGraph struct {
	mu    sync.Mutex
	edges map[liveEdge]struct{}
	order []liveEdge
}

// add records the edges of a PEX message; a nil graph (no live view to
// show it) records nothing.
func (g *swarmGraph) add(ev swarm.Event) {
	if g == nil || ev.Type != swarm.EventPEXReceived || len(ev.Added) == 0 {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.edges == nil {
		g.edges = make(map[liveEdge]struct{})
	}
	for _, a := range ev.Added {
		e := liveEdge{From: ev.Peer.String(), To: a.String(), Net: ev.Net}
		if _, ok := g.edges[e]; ok {
			continue
		}
		if len(g.order) >= maxLiveEdges { // the oldest go first
			delete(g.edges, g.order[0])
			g.order = g.order[1:]
		}
		g.edges[e] = struct{}{}
		g.order = append(g.order, e)
	}
}

// btSnapshot is a swarm's state for the live view: its peers (by listen
// address when known) and who named whom.
func (r *btRun) btSnapshot() any {
	peers := r.s.Peers()
	st := r.s.Stats()
	s := liveSnapshot{Kind: "bt", Title: "pex bt swarm", Self: liveNode{ID: "self"}, Peers: []livePeer{}, Others: []liveNode{}, Edges: []liveEdge{},
		Stats: map[string]int64{"peers": int64(st.Peers), "dialing": int64(st.Dialing),
			"pex_in": int64(sumCounts(st.PEXReceived)), "pex_out": int64(sumCounts(st.PEXSent)),
			// The old keys, for one release (docs/pex.md, "Output"); the
			// page never showed them (it leaves out keys with a space).
			"pex in": int64(sumCounts(st.PEXReceived)), "pex out": int64(sumCounts(st.PEXSent)),
			// Hole punching (BEP 55): peers that could not be dialed, and
			// those a punch reached; rendezvous sent and relayed; errors
			// sent as a relay and received as an initiator, and what the
			// limits held back.
			"holepunch_undialable": int64(st.Holepunch.Undialable), "holepunch_reached": int64(st.Holepunch.Reached),
			"holepunch_rendezvous_sent": int64(st.Holepunch.RendezvousSent), "holepunch_connects_relayed": int64(st.Holepunch.ConnectsRelayed),
			"holepunch_rendezvous_received": int64(st.Holepunch.RendezvousReceived), "holepunch_connects_received": int64(st.Holepunch.ConnectsReceived),
			"holepunch_errors_sent": int64(sumCounts(st.Holepunch.ErrorsSent)), "holepunch_errors_received": int64(sumCounts(st.Holepunch.ErrorsReceived)),
			"holepunch_limited": int64(st.Holepunch.Limited)}}
	id := map[string]string{} // connection address -> node id
	known := map[string]bool{}
	for _, p := range peers {
		pid := p.Addr.String()
		if p.Listen.IsValid() {
			pid = p.Listen.String()
		}
		id[p.Addr.String()] = pid
		known[pid] = true
		s.Peers = append(s.Peers, livePeer{ID: pid, Client: p.Client, Net: netName(p.Net), Source: p.Source, Outgoing: p.Outgoing, Remote: p.Addr.String()})
	}
	r.graph.mu.Lock()
	for _, e := range r.graph.order {
		if f, ok := id[e.From]; ok {
			e.From = f
		}
		s.Edges = append(s.Edges, e)
		for _, a := range []string{e.From, e.To} {
			if !known[a] {
				known[a] = true
				s.Others = append(s.Others, liveNode{ID: a, Source: swarm.SourcePEX})
			}
		}
	}
	r.graph.mu.Unlock()
	return s
}
