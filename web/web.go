// Package web holds the browser demo: a page that joins a PXP network over
// WebSocket to a Go node, meets other browsers over WebRTC through that node,
// and shows its peers and their messages live. Its files are embedded;
// `pex node --http` serves them, with the WebSocket endpoint at /ws.
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

// Handler serves the page, ws at /ws, and at /network.js the network the
// page joins unless its URL names another (?network=ID): the serving
// node's, so that a browser meets the node's peers without being told.
// An empty network leaves the page's own default, "pex-browser".
func Handler(network string, ws http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	js, _ := json.Marshal(network)
	mux.HandleFunc("/network.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		fmt.Fprintf(w, "window.PEX_NETWORK = %s\n", js)
	})
	mux.Handle("/", http.FileServerFS(Static()))
	return mux
}
