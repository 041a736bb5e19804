// Package web holds the browser pages, embedded: the demo, a page that
// joins a PXP network over WebSocket to a Go node, meets other browsers
// over WebRTC through that node, and shows its peers and their messages
// live (`pex node --http` serves it, with the WebSocket endpoint at /ws);
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
	// visible to whoever loads the page.
	ICEServers []ICEServer
}

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Handler serves the page, ws at /ws, and at /network.js what p tells it.
func Handler(p Page, ws http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	network, _ := json.Marshal(p.Network)
	if p.ICEServers == nil {
		p.ICEServers = []ICEServer{}
	}
	servers, _ := json.Marshal(p.ICEServers)
	mux.HandleFunc("/network.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "window.PEX_NETWORK = %s\nwindow.PEX_ICE_SERVERS = %s\n", network, servers)
	})
	mux.Handle("/", http.FileServerFS(Static()))
	return mux
}
