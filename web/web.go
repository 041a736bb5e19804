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

// Handler serves the page, and ws at /ws.
func Handler(ws http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ws", ws)
	mux.Handle("/", http.FileServerFS(Static()))
	return mux
}
