package pxp

import (
	"context"
	"testing"

	"github.com/seed0021ed4d/pex/lab/memnet"
	"github.com/seed0021ed4d/pex/mux"
	"github.com/seed0021ed4d/pex/pxp/wire"
)

// Lines captured between JS nodes (docs/pxp-capture.txt) and some
// that break the rules.
var seedLines = []string{
	`["hello","0",[1,{"pxp":true,"relay":true,"webrtc":true},["pxp-mesh"]]]`,
	`["connect","1","pxp-mesh"]`,
	`["res","1",null]`,
	`["getpeers","2","pxp-mesh"]`,
	`["res","2",[null,[{"id":"cd20f192","network":"pxp-mesh","connectInfo":{"pxp":true,"relay":true,"webrtc":true}}]]]`,
	`["relay","3",["cd20f192"]]`,
	`["incoming","1",["dc91ede8"]]`,
	`["upgrade","1",{"transport":"webrtc","signal":{"type":"offer","sdp":"v=0\r\n"}}]`,
	`["res","3","Peer requested unknown candidate: id=x"]`,
	`{"a":1}`, `[1,2]`, `[`, `["x","y",{}]`,
}

// FuzzNode feeds a node arbitrary control lines and frames after a valid
// handshake. It must never panic, and must end the link when the input ends.
func FuzzNode(f *testing.F) {
	for _, l := range seedLines[1:] {
		f.Add([]byte(l+"\n"), []byte{})
	}
	f.Add([]byte(`["getpeers","5","pxp-mesh"]`+"\n"), mux.AppendFrame(nil, 1, mux.TypeNew, []byte("relay:1")))
	f.Fuzz(func(t *testing.T, lines, frames []byte) {
		node, err := New(testNet, &Config{MaxMessageSize: 4096, MaxFrameSize: 8192})
		if err != nil {
			t.Fatal(err)
		}
		defer node.Close()
		a, b := memnet.Pipe("fuzz", "node")
		done := make(chan struct{})
		go func() {
			defer close(done)
			node.Accept(context.Background(), b)
		}()
		var in []byte
		in = append(in, wire.Magic...)
		in = mux.AppendFrame(in, 0, mux.TypeNew, []byte("pxp"))
		in = mux.AppendFrame(in, 0, mux.TypeDataInit, []byte(seedLines[0]+"\n"))
		for len(lines) > 0 {
			n := min(len(lines), 1000)
			in = mux.AppendFrame(in, 0, mux.TypeDataInit, lines[:n])
			lines = lines[n:]
		}
		in = append(in, frames...)
		go func() {
			a.Write(in)
			a.CloseWrite()
		}()
		buf := make([]byte, 4096)
		for {
			if _, err := a.Read(buf); err != nil {
				break
			}
		}
		<-done
		a.Close()
	})
}
