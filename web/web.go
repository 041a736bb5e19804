// Package web holds the browser pages, embedded: the demo, a page that
// joins a PXP network over WebSocket to a Go node, meets other browsers
// over WebRTC through that node, and shows its peers and their messages
// live (`pex node --http` serves it, with the WebSocket endpoint at /ws,
// and tells it its ICE servers: short-lived TURN credentials minted for
// each load, which the page refreshes at /ice-servers before they expire);
// and the operator's live view (Live, live.go) of a node or a swarm: its
// peers as a graph drawn by cytoscape.js (vendored in static/vendor, MIT,
// with its licence), a table and a log, kept current by server-sent
// events (`pex node --http` and `pex bt swarm --http` at /live).
//
// The page joins the node that served it, or the one ?ws=URL names (a web
// application of its own origin bootstrapping from a node elsewhere), on
// the network its server's /network.js names or the one ?network=ID names.
//
// The page speaks PXP itself (static/pxp.js): magic, multiplex framing,
// control messages, relayed sessions, and the WebRTC upgrade with
// simple-peer's signal shapes, so browsers also interoperate with Go and
// JS nodes.
package web

import (
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"time"
)

//go:embed static
var files embed.FS

// Static returns the page's files.
func Static() fs.FS {
	sub, _ := fs.Sub(files, "static")
	return sub
}

// Page is what the serving node tells the page.
type Page struct {
	// Network is the network the page joins unless its URL names another
	// (?network=ID): the serving node's, so that a browser meets the
	// node's peers without being told. Empty leaves the page's own
	// default, "pex-browser".
	Network string
	// ICEServers are the STUN and TURN servers the page's WebRTC uses,
	// as RTCPeerConnection takes them. TURN credentials given here are
	// visible to whoever loads the page, and work for as long as the TURN
	// server takes them: long-term ones, for good.
	ICEServers []ICEServer
	// MintICE, when set, gives the ICE servers in place of ICEServers,
	// afresh for every page load and every refresh the page asks for at
	// /ice-servers: short-lived TURN credentials (package turnrest),
	// minted for the browser that asks (r), that expire at expires. The
	// page asks for fresh ones at half the time left, so that it never
	// offers a TURN server an expired one.
	MintICE func(r *http.Request) (servers []ICEServer, expires time.Time)
}

// MinICERefresh is the shortest wait the page is told between two
// refreshes of its ICE servers, however close their expiry.
const MinICERefresh = time.Second

// iceReply is what /ice-servers answers: the servers, and with MintICE the
// seconds after which the page asks again.
type iceReply struct {
	ICEServers []ICEServer `json:"iceServers"`
	RefreshS   int64       `json:"refresh_s,omitempty"`
}

// ice is the ICE servers a request gets, and when to ask again (none
// without MintICE).
func (p *Page) ice(r *http.Request) iceReply {
	if p.MintICE == nil {
		return iceReply{ICEServers: p.ICEServers}
	}
	servers, expires := p.MintICE(r)
	if servers == nil {
		servers = []ICEServer{}
	}
	refresh := max(time.Until(expires)/2, MinICERefresh)
	return iceReply{ICEServers: servers, RefreshS: int64(refresh / time.Second)}
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Handler serves the page, ws at /ws, at /network.js what p tells it
// (window.PEX_NETWORK, window.PEX_ICE_SERVERS, and with MintICE
// window.PEX_ICE_REFRESH_S), and at /ice-servers the ICE servers again,
// as JSON ({"iceServers": [...], "refresh_s": N}): fresh ones, with
// MintICE.
func Handler(p Page, ws http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	network, _ := json.Marshal(p.Network)
	if p.ICEServers == nil {
		p.ICEServers = []ICEServer{}
	}
	mux.HandleFunc("/network.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		ice := p.ice(r)
		servers, _ := json.Marshal(ice.ICEServers)
		fmt.Fprintf(w, "window.PEX_NETWORK = %s\nwindow.PEX_ICE_SERVERS = %s\n", network, servers)
		if ice.RefreshS > 0 {
			fmt.Fprintf(w, "window.PEX_ICE_REFRESH_S = %d\n", ice.RefreshS)
		}
	})
	mux.HandleFunc("/ice-servers", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(p.ice(r))
	})
	mux.Handle("/", http.FileServerFS(Static()))
	return mux
}
